package api_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"clearmap/internal/auth"
)

// tileOf is the tile at zoom z holding the point.
func tileOf(lon, lat float64, z int) string {
	t := maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
	return fmt.Sprintf("/tiles/%d/%d/%d.mvt", t.Z, t.X, t.Y)
}

func decodeTile(t *testing.T, r response, gzipped bool) map[string]*mvt.Layer {
	t.Helper()
	if r.status != 200 || r.header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("tile: %d %s", r.status, r.header)
	}
	var layers mvt.Layers
	var err error
	if gzipped {
		layers, err = mvt.UnmarshalGzipped([]byte(r.body))
	} else {
		layers, err = mvt.Unmarshal([]byte(r.body))
	}
	if err != nil {
		t.Fatalf("not an MVT: %v", err)
	}
	byName := map[string]*mvt.Layer{}
	for _, l := range layers {
		byName[l.Name] = l
		if l.Version != 2 || l.Extent != 4096 {
			t.Fatalf("layer %s: version %d extent %d", l.Name, l.Version, l.Extent)
		}
	}
	return byName
}

func TestTiles(t *testing.T) {
	ctx := context.Background()
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	up := func(features ...string) {
		r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json",
			[]byte(`{"type":"FeatureCollection","features":[`+strings.Join(features, ",")+`]}`))
		if r.status != 201 {
			t.Fatal(r.body)
		}
	}
	// Two poppy fields and one cannabis field near each other in Khyber.
	up(fieldAt("P-1", 71.100, 34.050), fieldAt("P-2", 71.1004, 34.0504),
		strings.Replace(fieldAt("C-1", 71.1008, 34.054), "poppy", "cannabis", 1))

	z12 := tileOf(71.101, 34.051, 12)
	r := s.send(t, "GET", z12, analyst, nil)
	layers := decodeTile(t, r, false)
	clearances := layers["clearances"]
	if clearances == nil || len(clearances.Features) != 3 {
		t.Fatalf("z12 clearances: %+v", clearances)
	}
	ids := map[string]bool{}
	for _, f := range clearances.Features {
		if _, ok := f.Geometry.(orb.Polygon); !ok {
			t.Fatalf("z12 clearance is a %T, want a polygon", f.Geometry)
		}
		ids[fmt.Sprint(f.ID)] = true
		if f.Properties["crop"] != "poppy" && f.Properties["crop"] != "cannabis" || f.Properties["cleared_on"] != "2026-03-14" {
			t.Fatalf("attributes %v", f.Properties)
		}
	}
	rows, _ := s.pool.Query(ctx, "SELECT id FROM clearances ORDER BY id")
	stored, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored %v, %v", stored, err)
	}
	for _, id := range stored {
		if !ids[fmt.Sprint(id)] {
			t.Fatalf("clearance %d has no feature with its id; ids %v", id, ids)
		}
	}
	if p := layers["provinces"]; p == nil || len(p.Features) != 1 || p.Features[0].Properties["code"] != "PK-KP" ||
		p.Features[0].Properties["name"] != "Khyber Pakhtunkhwa" || p.Features[0].ID == nil {
		t.Fatalf("z12 provinces layer %+v, want Khyber Pakhtunkhwa alone", p)
	}
	found := false
	for _, f := range layers["districts"].Features {
		if f.Properties["code"] == "PK-KP-KHYBER" {
			found = true
			var acres float64
			s.pool.QueryRow(ctx, "SELECT net_m2 / 4046.8564224 FROM district_totals WHERE district_code = 'PK-KP-KHYBER' AND crop = 'all'").Scan(&acres)
			if got := f.Properties["acres"].(float64); got < acres-1e-3 || got > acres+1e-3 || f.Properties["fields"].(float64) != 3 || f.ID == nil {
				t.Fatalf("Khyber feature %v (id %v), want %v acres", f.Properties, f.ID, acres)
			}
		}
	}
	if !found {
		t.Fatal("no Khyber feature in the districts layer")
	}

	// Below zoom 10: points, one per 4×4-pixel cell (10 km at zoom 6): the
	// three fields, within a kilometre, share one. Filtered, they are thinned
	// per request: only the cannabis field is left.
	r = s.send(t, "GET", tileOf(71.101, 34.051, 6), analyst, nil)
	points := decodeTile(t, r, false)["clearances"]
	if points == nil || len(points.Features) != 1 {
		t.Fatalf("z6 clearances: %+v, want 1 after thinning", points)
	}
	r = s.send(t, "GET", tileOf(71.101, 34.051, 6)+"?crop=cannabis", analyst, nil)
	if l := decodeTile(t, r, false)["clearances"]; l == nil || len(l.Features) != 1 || l.Features[0].Properties["crop"] != "cannabis" {
		t.Fatalf("z6 crop=cannabis: %+v", l)
	}
	for _, f := range points.Features {
		if _, ok := f.Geometry.(orb.Point); !ok {
			t.Fatalf("z6 clearance is a %T", f.Geometry)
		}
	}

	// Filters reach the tiles.
	r = s.send(t, "GET", z12+"?crop=cannabis", analyst, nil)
	filtered := decodeTile(t, r, false)
	if l := filtered["clearances"]; l == nil || len(l.Features) != 1 || l.Features[0].Properties["crop"] != "cannabis" {
		t.Fatalf("crop=cannabis: %+v", l)
	}
	var cannabis []struct {
		Code  string
		Acres float64
	}
	s.do(t, "GET", "/api/v1/districts?crop=cannabis&province=PK-KP", analyst, "").json(t, &cannabis)
	for _, f := range filtered["districts"].Features {
		for _, d := range cannabis {
			if d.Code == f.Properties["code"] && d.Acres != f.Properties["acres"] {
				t.Fatalf("%s: tile says %v cannabis acres, the API %v", d.Code, f.Properties["acres"], d.Acres)
			}
		}
	}
	r = s.send(t, "GET", z12+"?from=2026-04-01", analyst, nil)
	if l := decodeTile(t, r, false)["clearances"]; l != nil && len(l.Features) > 0 {
		t.Fatal("from=2026-04-01 still shows March fields")
	}

	// gzip, ETag and 304; a new field changes the tile at once.
	r = s.send(t, "GET", z12, analyst, nil, "Accept-Encoding", "gzip")
	if r.header.Get("Content-Encoding") != "gzip" || len(decodeTile(t, r, true)["clearances"].Features) != 3 {
		t.Fatalf("gzip: %v", r.header)
	}
	etag := r.header.Get("ETag")
	// If-None-Match compares weakly and takes a list or "*" (RFC 9110 §13.1.2).
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, `"other",W/` + etag, "*"} {
		if r := s.send(t, "GET", z12, analyst, nil, "Accept-Encoding", "gzip", "If-None-Match", inm); r.status != 304 {
			t.Fatalf("If-None-Match %s: %d", inm, r.status)
		}
	}
	if r := s.send(t, "GET", z12, analyst, nil, "Accept-Encoding", "gzip", "If-None-Match", `"other", W/"x"`); r.status != 200 {
		t.Fatalf("If-None-Match of other tags: %d", r.status)
	}
	up(fieldAt("P-3", 71.104, 34.053))
	r = s.send(t, "GET", z12, analyst, nil, "Accept-Encoding", "gzip", "If-None-Match", etag)
	if r.status != 200 || len(decodeTile(t, r, true)["clearances"].Features) != 4 {
		t.Fatalf("after an upload: %d", r.status)
	}

	// Empty tile, bad coordinates, no token.
	// An empty tile is 200 with nothing in it (QGIS draws a 204 as a white
	// box), typed, never gzipped, and still revalidated.
	for _, enc := range []string{"", "gzip"} {
		r := s.send(t, "GET", "/tiles/10/0/0.mvt", analyst, nil, "Accept-Encoding", enc)
		if r.status != 200 || r.body != "" || r.header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" ||
			r.header.Get("Content-Length") != "0" || r.header.Get("Content-Encoding") != "" || r.header.Get("ETag") == "" {
			t.Fatalf("empty tile (Accept-Encoding %q): %d %q %v", enc, r.status, r.body, r.header)
		}
		if r := s.send(t, "GET", "/tiles/10/0/0.mvt", analyst, nil, "Accept-Encoding", enc, "If-None-Match", r.header.Get("ETag")); r.status != 304 || r.body != "" {
			t.Fatalf("empty tile revalidated: %d", r.status)
		}
		if r := s.send(t, "GET", "/tiles/10/0/0.mvt", analyst, nil, "Accept-Encoding", enc, "If-None-Match", etag); r.status != 200 {
			t.Fatalf("empty tile with another tile's ETag: %d", r.status)
		}
	}
	if r := s.send(t, "GET", strings.Replace(z12, ".mvt", ".pbf", 1), analyst, nil); r.status != 200 {
		t.Fatalf(".pbf: %d", r.status)
	}
	for _, path := range []string{"/tiles/23/0/0.mvt", "/tiles/2/4/0.mvt", "/tiles/2/0/-1.mvt", "/tiles/a/0/0.mvt", "/tiles/2/0/0.mvt?crop=wheat"} {
		if r := s.send(t, "GET", path, analyst, nil); r.status != 400 {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	wantError(t, s.send(t, "GET", z12, "", nil), 401, "a token is required")
	if r := s.send(t, "GET", z12+"?access_token="+analyst, "", nil); r.status != 200 {
		t.Fatalf("access_token: %d", r.status)
	}
}

func TestTileJSONAndStyle(t *testing.T) {
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	r := s.send(t, "GET", "/tiles.json?crop=poppy&access_token="+analyst, "", nil)
	var tj tileJSON
	r.json(t, &tj)
	want := s.url + "/tiles/{z}/{x}/{y}.mvt?access_token=" + analyst + "&crop=poppy"
	if r.status != 200 || tj.TileJSON != "3.0.0" || len(tj.Tiles) != 1 || tj.Tiles[0] != want || tj.MinZoom != 0 || tj.MaxZoom < 14 ||
		len(tj.Bounds) != 4 || tj.Bounds[0] < 60 || tj.Bounds[2] > 78 || !strings.Contains(tj.Attribution, "OpenStreetMap contributors") ||
		!strings.Contains(tj.Attribution, "GeoNames") || !strings.Contains(tj.Attribution, "CC BY 4.0") || !strings.Contains(tj.Attribution, "GSHHG") {
		t.Fatalf("tilejson %d %+v", r.status, tj)
	}
	// Each layer the tiles carry, with the fields its features have.
	wantLayers := map[string]map[string]string{
		"provinces": {"code": "String", "name": "String"},
		"districts": {"code": "String", "name": "String", "province": "String", "acres": "Number",
			"acres_poppy": "Number", "acres_cannabis": "Number", "fields": "Number"},
		"clearances": {"crop": "String", "cleared_on": "String", "acres": "Number", "team": "String", "upload_id": "Number"},
		"places":     {"name": "String", "population": "Number", "kind": "String"},
		"labels":     {"name": "String", "kind": "String", "code": "String"},
		"rivers":     {"level": "Number"},
	}
	if len(tj.VectorLayers) != len(wantLayers) {
		t.Fatalf("vector_layers %+v", tj.VectorLayers)
	}
	for _, l := range tj.VectorLayers {
		if !maps.Equal(l.Fields, wantLayers[l.ID]) {
			t.Fatalf("vector layer %s has fields %v, want %v", l.ID, l.Fields, wantLayers[l.ID])
		}
	}

	r = s.send(t, "GET", "/style.json", analyst, nil)
	var style struct {
		Version int
		Sources map[string]struct{ Type, URL string }
		Layers  []struct {
			ID, Type, Source string
			SourceLayer      string         `json:"source-layer"`
			Layout           map[string]any `json:"layout"`
		}
	}
	r.json(t, &style)
	src := style.Sources["clearmap"]
	if r.status != 200 || style.Version != 8 || src.Type != "vector" || !strings.HasPrefix(src.URL, "http://127.0.0.1:") || !strings.HasSuffix(src.URL, "/tiles.json") || len(style.Layers) != 20 {
		t.Fatalf("style %d %+v", r.status, style)
	}
	// Every layer but the background draws a layer of the tiles; names are
	// written on places, provinces and districts, and rivers drawn.
	var symbols []string
	drawn := map[string]bool{}
	for _, l := range style.Layers {
		if l.Type != "background" && wantLayers[l.SourceLayer] == nil {
			t.Fatalf("style layer %s draws source layer %q, which the tiles lack", l.ID, l.SourceLayer)
		}
		drawn[l.SourceLayer] = true
		if l.Type == "symbol" {
			symbols = append(symbols, l.SourceLayer)
			if font := fmt.Sprint(l.Layout["text-font"]); font != "[Noto Sans Regular]" || fmt.Sprint(l.Layout["text-field"]) != "[get name]" {
				t.Fatalf("style layer %s: text-font %s, text-field %v", l.ID, font, l.Layout["text-field"])
			}
		}
		if strings.HasPrefix(l.ID, "places") && l.Type == "symbol" && !strings.HasPrefix(fmt.Sprint(l.Layout["symbol-sort-key"]), "[- [+ [get population]") {
			t.Fatalf("places: symbol-sort-key %v; the biggest place must be placed first", l.Layout["symbol-sort-key"])
		}
	}
	if !slices.Equal(symbols, []string{"labels", "places", "places", "labels"}) || len(drawn) != len(wantLayers)+1 {
		t.Fatalf("style: symbol layers on %v; source layers drawn %v", symbols, drawn)
	}
	// QGIS's converter drops colours and sizes driven by a property through
	// interpolate or step (TestQGISConvertsTheStyle runs it where installed).
	if strings.Contains(r.body, `["get"`) && (strings.Contains(r.body, `["interpolate",["linear"],["get"`) || strings.Contains(r.body, `["step",`)) {
		t.Fatalf("style interpolates over a property, which QGIS drops: %s", r.body)
	}
	if strings.Contains(r.body, "glyphs") || strings.Contains(r.body, "sprite") {
		t.Fatal("the style needs resources from elsewhere")
	}
	wantError(t, s.send(t, "GET", "/style.json", tokens[auth.Uploader], nil), 403, "the uploader role may not do this")
}

// TestTileJSONFieldsAreWhatTilesCarry decodes real tiles at several zooms
// and compares each layer's property keys with TileJSON's fields, both ways:
// TileJSON names no attribute the tiles lack (the clearances' id is their
// feature id), and the tiles carry none it leaves out.
func TestTileJSONFieldsAreWhatTilesCarry(t *testing.T) {
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	withTeam := strings.Replace(fieldAt("T-1", 71.1, 34.05), `"crop":"poppy"`, `"crop":"poppy","team":"ANF 2"`, 1)
	r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json",
		[]byte(`{"type":"FeatureCollection","features":[`+withTeam+`,`+
			strings.Replace(fieldAt("T-2", 71.104, 34.053), "poppy", "cannabis", 1)+`]}`))
	if r.status != 201 {
		t.Fatal(r.body)
	}
	var tj struct {
		VectorLayers []struct {
			ID     string            `json:"id"`
			Fields map[string]string `json:"fields"`
		} `json:"vector_layers"`
	}
	s.send(t, "GET", "/tiles.json", analyst, nil).json(t, &tj)
	published := map[string]map[string]string{}
	for _, l := range tj.VectorLayers {
		published[l.ID] = l.Fields
	}

	// The fields (polygons at 12, points at 6), Peshawar and the Indus
	// around, and the whole country at zoom 4.
	carried := map[string]map[string]string{}
	for _, path := range []string{tileOf(71.101, 34.051, 12), tileOf(71.101, 34.051, 6),
		tileOf(71.101, 34.051, 8), tileOf(71.56, 34.01, 10), tileOf(69.3, 30.4, 4), tileOf(73.05, 33.7, 5)} {
		for name, l := range decodeTile(t, s.send(t, "GET", path, analyst, nil), false) {
			if carried[name] == nil {
				carried[name] = map[string]string{}
			}
			for _, f := range l.Features {
				if f.ID == nil {
					t.Errorf("%s %s: a feature without an id", path, name)
				}
				for k, v := range f.Properties {
					kind := "String"
					switch v.(type) {
					case float64, int64, uint64:
						kind = "Number"
					case bool:
						kind = "Boolean"
					}
					carried[name][k] = kind
				}
			}
		}
	}
	for name, fields := range published {
		if carried[name] == nil {
			t.Errorf("TileJSON lists layer %s; no tile read carried it", name)
			continue
		}
		if !maps.Equal(fields, carried[name]) {
			t.Errorf("layer %s: TileJSON fields %v, tiles carry %v", name, fields, carried[name])
		}
	}
	for name := range carried {
		if published[name] == nil {
			t.Errorf("tiles carry layer %s, which TileJSON does not list", name)
		}
	}
	if _, ok := published["clearances"]["id"]; ok {
		t.Error("TileJSON lists the clearances' id as an attribute; it is the feature id")
	}
}
