package basemap_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"clearmap/internal/basemap"
	"clearmap/internal/basemap/basemaptest"
)

// Peshawar, and a road east of it.
const places = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"Peshawar"},"geometry":{"type":"Point","coordinates":[71.5249,34.0151]}},
{"type":"Feature","properties":{"name":"GT Road"},"geometry":{"type":"LineString","coordinates":[[71.4,34.0],[71.6,34.05]]}}]}`

var peshawar = orb.Point{71.5249, 34.0151}

// pointsIn decodes a vector tile and returns its features' names with
// their points in lon/lat.
func pointsIn(t *testing.T, tile []byte, z, x, y int, gzipped bool) map[string]orb.Point {
	t.Helper()
	var layers mvt.Layers
	var err error
	if gzipped {
		layers, err = mvt.UnmarshalGzipped(tile)
	} else {
		layers, err = mvt.Unmarshal(tile)
	}
	if err != nil {
		t.Fatal(err)
	}
	layers.ProjectToWGS84(maptile.New(uint32(x), uint32(y), maptile.Zoom(z)))
	out := map[string]orb.Point{}
	for _, l := range layers {
		for _, f := range l.Features {
			if p, ok := f.Geometry.(orb.Point); ok {
				out[l.Name+"/"+f.Properties.MustString("name", "")] = p
			}
		}
	}
	return out
}

func near(a, b orb.Point, tolerance float64) bool {
	return math.Abs(a[0]-b[0]) < tolerance && math.Abs(a[1]-b[1]) < tolerance
}

func TestVectorMBTilesFromGDAL(t *testing.T) {
	b := basemaptest.Open(t, basemaptest.VectorMBTiles(t, map[string]string{"place": places}, 0, 8))
	if b.Format != "MBTiles" || b.Type != basemap.MVT || b.MinZoom != 0 || b.MaxZoom != 8 || b.TileSize != 0 ||
		b.Type.ContentType() != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("opened as %+v", b)
	}
	if len(b.Bounds) != 4 || !near(orb.Point{b.Bounds[0], b.Bounds[1]}, orb.Point{71.4, 34.0}, 1e-6) ||
		!near(orb.Point{b.Bounds[2], b.Bounds[3]}, orb.Point{71.6251, 34.05}, 0.03) {
		t.Fatalf("bounds %v", b.Bounds)
	}
	var layer struct {
		ID     string            `json:"id"`
		Fields map[string]string `json:"fields"`
	}
	if len(b.VectorLayers) != 1 || json.Unmarshal(b.VectorLayers[0], &layer) != nil || layer.ID != "place" || layer.Fields["name"] != "String" {
		t.Fatalf("vector layers %s", b.VectorLayers)
	}
	// The tile holding Peshawar at zoom 8, addressed XYZ (y from the
	// north): MBTiles keeps it under row 2^8 - 1 - y.
	tc := maptile.At(peshawar, 8)
	z, x, y := 8, int(tc.X), int(tc.Y)
	tile, err := b.Tile(context.Background(), z, x, y)
	if err != nil || !tile.Gzipped || !strings.HasPrefix(tile.ETag, `"`) {
		t.Fatalf("tile %d/%d/%d: %+v %v", z, x, y, tile, err)
	}
	got := pointsIn(t, tile.Data, z, x, y, true)
	if p, ok := got["place/Peshawar"]; !ok || !near(p, peshawar, 0.01) {
		t.Fatalf("tile %d/%d/%d holds %v, not Peshawar at %v", z, x, y, got, peshawar)
	}
	plain, err := tile.Gunzip()
	if err != nil || len(plain) == 0 || bytes.HasPrefix(plain, []byte{0x1f, 0x8b}) {
		t.Fatalf("gunzipped tile: % x… %v", plain[:min(8, len(plain))], err)
	}
	if !near(pointsIn(t, plain, z, x, y, false)["place/Peshawar"], peshawar, 0.01) {
		t.Fatal("the gunzipped tile lost Peshawar")
	}
	// The row without the flip is another tile, which the file lacks.
	if flipped, err := b.Tile(context.Background(), z, x, 255-y); err != nil || flipped.Data != nil {
		t.Fatalf("unflipped row: %+v %v", flipped, err)
	}
	if !b.Covers(0, 0, 0) || !b.Covers(8, 255, 255) || b.Covers(9, 0, 0) || b.Covers(8, 256, 0) || b.Covers(2, 0, -1) {
		t.Fatal("Covers is wrong")
	}
}

func TestRasterMBTilesFromGDAL(t *testing.T) {
	path := basemaptest.RasterMBTiles(t)
	b := basemaptest.Open(t, path)
	if b.Type != basemap.PNG || b.Type.ContentType() != "image/png" || b.MinZoom != 6 || b.MaxZoom != 6 ||
		b.TileSize != 256 || b.VectorLayers != nil || !b.Type.Extension("png") || b.Type.Extension("mvt") {
		t.Fatalf("opened as %+v", b)
	}
	tc := maptile.At(orb.Point{71.5, 34.5}, 6)
	tile, err := b.Tile(context.Background(), 6, int(tc.X), int(tc.Y))
	if err != nil || tile.Gzipped || !bytes.HasPrefix(tile.Data, []byte("\x89PNG")) {
		t.Fatalf("raster tile: %v %.8q", err, tile.Data)
	}
}

// pmtilesFile writes a PMTiles file of gzipped vector tiles, zooms 0 to
// 6, with Peshawar in layer places.
func pmtilesFile(t *testing.T, leafSize int) (string, map[[3]int][]byte) {
	t.Helper()
	return basemaptest.PointPMTiles(t, "places", "Peshawar", peshawar, 6, true, leafSize)
}

func TestPMTiles(t *testing.T) {
	for _, leafSize := range []int{0, 1, 3} {
		path, tiles := pmtilesFile(t, leafSize)
		b := basemaptest.Open(t, path)
		if b.Format != "PMTiles" || b.Type != basemap.MVT || b.MinZoom != 0 || b.MaxZoom != 6 || b.Name != "Pakistan" ||
			b.Attribution != "© OpenStreetMap contributors" || len(b.VectorLayers) != 1 || !strings.Contains(string(b.VectorLayers[0]), `"id":"places"`) ||
			len(b.Bounds) != 4 || math.Abs(b.Bounds[3]-37.1) > 1e-6 || len(b.Center) != 3 {
			t.Fatalf("leaves of %d: opened as %+v", leafSize, b)
		}
		for c, want := range tiles {
			got, err := b.Tile(context.Background(), c[0], c[1], c[2])
			if err != nil || !bytes.Equal(got.Data, want) || !got.Gzipped {
				t.Fatalf("leaves of %d: tile %v: %v, %d bytes, want %d", leafSize, c, err, len(got.Data), len(want))
			}
		}
		tc := maptile.At(peshawar, 6)
		got, _ := b.Tile(context.Background(), 6, int(tc.X), int(tc.Y))
		if !near(pointsIn(t, got.Data, 6, int(tc.X), int(tc.Y), true)["places/Peshawar"], peshawar, 0.05) {
			t.Fatal("Peshawar is not where it belongs")
		}
		x, y := int(tc.X), int(tc.Y)
		for _, c := range [][3]int{{6, 0, 0}, {6, 63, 63}, {6, x - 6, y - 1}, {6, x + 5, y - 1}, {6, x, y + 1}, {5, 0, 0}, {1, 0, 1}} {
			if got, err := b.Tile(context.Background(), c[0], c[1], c[2]); err != nil || got.Data != nil {
				t.Fatalf("leaves of %d: tile %v should be missing: %+v %v", leafSize, c, got, err)
			}
		}
	}
}

func TestTileIDs(t *testing.T) {
	// The specification's examples, and other writers' tests.
	for _, c := range []struct {
		z, x, y int
		id      uint64
	}{{0, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 1, 2}, {1, 1, 1, 3}, {1, 1, 0, 4}, {2, 1, 3, 11}, {3, 3, 0, 26}, {12, 3423, 1763, 19078479}} {
		if got, test := basemap.TileID(c.z, c.x, c.y), basemaptest.TileID(c.z, c.x, c.y); got != c.id || test != c.id {
			t.Errorf("%d/%d/%d: id %d (the tests' writer %d), want %d", c.z, c.x, c.y, got, test, c.id)
		}
	}
	// Every tile to zoom 7 has its own id, in its zoom's block.
	seen := map[uint64]bool{}
	for z := 0; z <= 7; z++ {
		first := (uint64(1)<<(2*z) - 1) / 3
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				id := basemap.TileID(z, x, y)
				if seen[id] || id < first || id >= first+uint64(1)<<(2*z) || id != basemaptest.TileID(z, x, y) {
					t.Fatalf("%d/%d/%d: id %d", z, x, y, id)
				}
				seen[id] = true
			}
		}
	}
}

func TestOpenRefusesWhatItCannotServe(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A SQLite database that is not MBTiles, and an MBTiles whose format
	// clearmap cannot serve.
	sqlite := func(name string, stmts ...string) string {
		p := filepath.Join(dir, name)
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	plain, _ := pmtilesFile(t, 0)
	good, _ := os.ReadFile(plain)
	withByte := func(at int, v byte) []byte {
		b := bytes.Clone(good)
		b[at] = v
		return b
	}
	for _, c := range []struct{ path, msg string }{
		{filepath.Join(dir, "missing.mbtiles"), "open: no such file or directory"},
		{dir, "read: is a directory"},
		{file("empty.pmtiles", nil), "neither an MBTiles file (SQLite) nor a PMTiles file"},
		{file("text.mbtiles", []byte("name,lon,lat\nPeshawar,71.52,34.01\n")), "neither an MBTiles file (SQLite) nor a PMTiles file"},
		{sqlite("other.mbtiles", "CREATE TABLE t (a int)"), "not an MBTiles file: its metadata table cannot be read"},
		{sqlite("notiles.mbtiles", "CREATE TABLE metadata (name text, value text)"), "not an MBTiles file: its tiles table cannot be read"},
		{sqlite("tiff.mbtiles", "CREATE TABLE metadata (name text, value text)", "INSERT INTO metadata VALUES ('format', 'tiff')",
			"CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)"),
			`tile format "tiff": clearmap serves pbf (vector), png, jpg, webp or avif tiles`},
		{sqlite("unknown.mbtiles", "CREATE TABLE metadata (name text, value text)",
			"CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)",
			"INSERT INTO tiles VALUES (0, 0, 0, x'00010203')"), "cannot tell what its tiles hold"},
		{file("v2.pmtiles", withByte(7, 2)), "PMTiles version 2: clearmap reads version 3"},
		{file("brotli.pmtiles", withByte(98, 3)), "PMTiles tiles are compressed with brotli"},
		{file("zstd.pmtiles", withByte(97, 4)), "PMTiles directories and metadata are compressed with zstd"},
		{file("avif2.pmtiles", withByte(99, 9)), "PMTiles tile type 9"},
		{file("zooms.pmtiles", withByte(100, 9)), "zooms 9 to 6: want 0 ≤ minzoom ≤ maxzoom ≤ 30"},
		{file("truncated.pmtiles", good[:len(good)-10]), "lies past the end of the file"},
		{file("short.pmtiles", good[:60]), "PMTiles header"},
	} {
		_, err := basemap.Open(context.Background(), c.path)
		if err == nil || !strings.HasPrefix(err.Error(), "basemap "+c.path+": ") || !strings.Contains(err.Error(), c.msg) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q", filepath.Base(c.path), err, c.msg)
		}
	}
}
