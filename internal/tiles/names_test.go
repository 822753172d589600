package tiles_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"

	"clearmap/internal/acreage"
	"clearmap/internal/boundaries"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// The layers that name the map: places, labels and rivers.

// layersOf decodes a tile into its layers by name.
func layersOf(t *testing.T, tile []byte) map[string]*mvt.Layer {
	t.Helper()
	layers, err := mvt.Unmarshal(tile)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*mvt.Layer{}
	for _, l := range layers {
		byName[l.Name] = l
	}
	return byName
}

func buildTile(t *testing.T, svc *tiles.Service, c tiles.Coordinate) []byte {
	t.Helper()
	tile, err := svc.Tile(context.Background(), c, acreage.Filter{})
	if err != nil {
		t.Fatalf("tile %v: %v", c, err)
	}
	return tile
}

// pakistanTiles are the tiles at zoom z over Pakistan's bounding box.
func pakistanTiles(z int) []tiles.Coordinate {
	var cs []tiles.Coordinate
	nw, se := at(60.87, 37.09, z), at(77.12, 24.05, z)
	for x := nw.X; x <= se.X; x++ {
		for y := nw.Y; y <= se.Y; y++ {
			cs = append(cs, tiles.Coordinate{Z: z, X: x, Y: y})
		}
	}
	return cs
}

// features returns the features of a layer of every tile given.
func features(t *testing.T, svc *tiles.Service, layer string, cs ...tiles.Coordinate) []*geojson.Feature {
	t.Helper()
	var fs []*geojson.Feature
	for _, c := range cs {
		if l := layersOf(t, buildTile(t, svc, c))[layer]; l != nil {
			fs = append(fs, l.Features...)
		}
	}
	return fs
}

func named(fs []*geojson.Feature, name string) *geojson.Feature {
	for _, f := range fs {
		if f.Properties["name"] == name {
			return f
		}
	}
	return nil
}

func TestPlacesLayer(t *testing.T) {
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}

	t.Run("a city's zoom-11 tile holds it", func(t *testing.T) {
		for _, city := range []struct {
			name           string
			lon, lat       float64
			id, population float64
		}{
			{"Lahore", 74.35071, 31.558, 1172451, 6310888},
			{"Peshawar", 71.57849, 34.008, 1168197, 1218773},
		} {
			f := named(features(t, svc, "places", at(city.lon, city.lat, 11)), city.name)
			if f == nil {
				t.Fatalf("%s is not in its zoom-11 tile", city.name)
			}
			if f.ID != city.id || f.Properties["population"] != city.population || f.Properties["kind"] != "provincial_capital" ||
				f.Geometry.GeoJSONType() != "Point" || len(f.Properties) != 3 {
				t.Fatalf("%s: feature id %v, %v, a %s; want id %v, population %v, provincial_capital, a Point and 3 properties",
					city.name, f.ID, f.Properties, f.Geometry.GeoJSONType(), city.id, city.population)
			}
		}
	})

	t.Run("zoom 4 holds only large places and the capitals", func(t *testing.T) {
		fs := features(t, svc, "places", pakistanTiles(4)...)
		for _, f := range fs {
			pop, kind := f.Properties["population"].(float64), f.Properties["kind"]
			if pop < 500000 && kind != "national_capital" && kind != "provincial_capital" {
				t.Errorf("zoom 4 holds %v", f.Properties)
			}
		}
		for _, want := range []string{"Karachi", "Lahore", "Islamabad", "Gilgit", "Faisalabad"} {
			if named(fs, want) == nil {
				t.Errorf("zoom 4 lacks %s", want)
			}
		}
	})

	t.Run("zoom 7 holds towns of 100,000 and more, zoom 8 all", func(t *testing.T) {
		// Raiwind, 31,592 people, near Lahore.
		if f := named(features(t, svc, "places", at(74.21534, 31.24895, 8)), "Raiwind"); f == nil || f.Properties["kind"] != "town" {
			t.Fatalf("zoom 8: Raiwind is %v", f)
		}
		fs := features(t, svc, "places", at(74.21534, 31.24895, 7))
		if named(fs, "Lahore") == nil || slices.ContainsFunc(fs, func(f *geojson.Feature) bool { return f.Properties["population"].(float64) < 100000 }) {
			t.Fatalf("zoom 7 lacks Lahore or holds a place under 100,000 people: %d places", len(fs))
		}
	})
}

func TestLabelsLayer(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}

	// Every province at zoom 4, and no district.
	fs := features(t, svc, "labels", pakistanTiles(4)...)
	var codes []string
	for _, f := range fs {
		if f.Properties["kind"] != "province" {
			t.Fatalf("zoom 4 labels %v", f.Properties)
		}
		codes = append(codes, f.Properties["code"].(string))
	}
	slices.Sort(codes)
	if want := []string{"PK-BA", "PK-GB", "PK-IS", "PK-JK", "PK-KP", "PK-PB", "PK-SD"}; !slices.Equal(slices.Compact(codes), want) {
		t.Fatalf("zoom 4 labels %v, want %v", codes, want)
	}

	// Districts from zoom 5, with a stable id: the same as the district's
	// in the districts layer.
	var lon, lat, id float64
	err := pool.QueryRow(ctx, `SELECT ST_X(p), ST_Y(p), (hashtextextended(code, 0) & 9223372036854775807)::float8
		FROM districts, ST_Transform(label_3857, 4326) p WHERE code = 'PK-PB-LAHORE'`).Scan(&lon, &lat, &id)
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range []int{tiles.DistrictLabelZoom, 9} {
		tile := layersOf(t, buildTile(t, svc, at(lon, lat, z)))
		f := named(tile["labels"].Features, "Lahore")
		if f == nil || f.Properties["kind"] != "district" || f.Properties["code"] != "PK-PB-LAHORE" || f.ID != id || len(f.Properties) != 3 {
			t.Fatalf("zoom %d: Lahore's label is %v", z, f)
		}
		if d := tile["districts"]; d == nil || !slices.ContainsFunc(d.Features, func(g *geojson.Feature) bool { return g.ID == f.ID && g.Properties["code"] == "PK-PB-LAHORE" }) {
			t.Fatalf("zoom %d: the districts layer has no Lahore of id %v", z, f.ID)
		}
	}
	if f := named(features(t, svc, "labels", at(lon, lat, tiles.DistrictLabelZoom-1)), "Lahore"); f != nil {
		t.Fatalf("zoom %d labels Lahore district", tiles.DistrictLabelZoom-1)
	}
}

func TestRiversLayer(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}

	levels := func(fs []*geojson.Feature) (lowest, highest float64) {
		lowest, highest = 99, -1
		for _, f := range fs {
			l := f.Properties["level"].(float64)
			lowest, highest = min(lowest, l), max(highest, l)
			if g := f.Geometry.GeoJSONType(); g != "LineString" && g != "MultiLineString" {
				t.Fatalf("a river is a %s", g)
			}
		}
		return lowest, highest
	}
	if lo, hi := levels(features(t, svc, "rivers", pakistanTiles(5)...)); lo != 0 || hi != 2 {
		t.Fatalf("zoom 5 rivers of levels %v to %v, want 0 to 2", lo, hi)
	}
	// Where the longest irrigation canal runs: only from zoom 8.
	var lon, lat float64
	err := pool.QueryRow(ctx, `SELECT ST_X(p), ST_Y(p) FROM (
		SELECT ST_Transform(ST_LineInterpolatePoint(ST_GeometryN(geom_3857, 1), 0.5), 4326) AS p
		FROM rivers WHERE level = 10 ORDER BY ST_Length(geom_3857) DESC, id LIMIT 1) c`).Scan(&lon, &lat)
	if err != nil {
		t.Fatal(err)
	}
	if _, hi := levels(features(t, svc, "rivers", at(lon, lat, 8))); hi != 10 {
		t.Fatalf("zoom 8 at %v %v: highest level %v, want the canal's 10", lon, lat, hi)
	}
	if _, hi := levels(features(t, svc, "rivers", at(lon, lat, 7))); hi > 5 {
		t.Fatalf("zoom 7 at %v %v: a river of level %v", lon, lat, hi)
	}
}

// TestNamesAreOrdered checks that the new layers list their features in a
// fixed order, so the same data gives the same bytes (and ETag) whatever
// plan PostgreSQL picks: places largest first, labels provinces first, then
// by code, rivers by id.
func TestNamesAreOrdered(t *testing.T) {
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}
	c := at(73.5, 32.5, 6) // northern Punjab: many places, labels and rivers
	tile := buildTile(t, svc, c)
	if again := buildTile(t, svc, c); !bytes.Equal(tile, again) {
		t.Fatal("the same tile built twice differs")
	}
	layers := layersOf(t, tile)
	for name, ordered := range map[string]func(a, b *geojson.Feature) bool{
		"places": func(a, b *geojson.Feature) bool {
			pa, pb := a.Properties["population"].(float64), b.Properties["population"].(float64)
			return pa > pb || pa == pb && a.ID.(float64) < b.ID.(float64)
		},
		"labels": func(a, b *geojson.Feature) bool {
			ka, kb := a.Properties["kind"].(string), b.Properties["kind"].(string)
			return ka > kb || ka == kb && a.Properties["code"].(string) < b.Properties["code"].(string)
		},
		"rivers": func(a, b *geojson.Feature) bool { return a.ID.(float64) < b.ID.(float64) },
	} {
		l := layers[name]
		if l == nil || len(l.Features) < 3 {
			t.Fatalf("tile %v: layer %s has too few features to tell an order", c, name)
		}
		for i := 1; i < len(l.Features); i++ {
			if !ordered(l.Features[i-1], l.Features[i]) {
				t.Fatalf("layer %s: feature %d (%v) before %d (%v)", name, i-1, l.Features[i-1].Properties, i, l.Features[i].Properties)
			}
		}
	}
}

// TestBoundaryLoadRedrawsNames checks that tiles' places and labels follow
// a boundary load: a set without Lahore drops them, the shipped set brings
// them back. It looks through a cache at zoom 9, and at zoom 13, whose
// names come from the static layers a server holds, through a server that
// built the tile before the load and learns of it only from the database.
func TestBoundaryLoadRedrawsNames(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	cache := tiles.NewCache(&tiles.Service{DB: pool}, 64<<20, nil)
	server := &tiles.Service{DB: pool}
	tile := func(z int, lon, lat float64) map[string]*mvt.Layer {
		t.Helper()
		if z < 12 {
			cached, err := cache.Tile(ctx, at(lon, lat, z), acreage.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			return layersOf(t, cached.MVT)
		}
		return layersOf(t, buildTile(t, server, at(lon, lat, z)))
	}
	names := func(when string, want bool) {
		t.Helper()
		for _, z := range []int{9, 13} {
			// The city, and the Lahore district's label point 8 km from it.
			city, district := tile(z, 74.35071, 31.558), tile(z, 74.39338, 31.49317)
			place := city["places"] != nil && named(city["places"].Features, "Lahore") != nil
			label := district["labels"] != nil && named(district["labels"].Features, "Lahore") != nil
			outline := district["districts"] != nil && slices.ContainsFunc(district["districts"].Features,
				func(f *geojson.Feature) bool { return f.Properties["code"] == "PK-PB-LAHORE" })
			if place != want || label != want || outline != want {
				t.Fatalf("%s, zoom %d: Lahore place %v, label %v, outline %v; want %v", when, z, place, label, outline, want)
			}
		}
	}
	names("before", true)
	set, err := boundaries.Parse("elsewhere.geojson", []byte(`{"type":"FeatureCollection","features":[{"type":"Feature",
		"geometry":{"type":"Polygon","coordinates":[[[70,30],[71,30],[71,31],[70,31],[70,30]]]},
		"properties":{"district_code":"X-A-ONE","district_name":"One","province_code":"X-A","province_name":"A"}}]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boundaries.Load(ctx, pool, set, "test"); err != nil {
		t.Fatal(err)
	}
	names("after a set without Lahore", false)
	if _, err := boundaries.Load(ctx, pool, boundaries.Embedded(), "test"); err != nil {
		t.Fatal(err)
	}
	names("after the shipped set again", true)
}
