package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/basemap"
	"clearmap/internal/basemap/basemaptest"
	"clearmap/internal/testdb"
)

// basemapService serves b, with an analyst's and an uploader's token.
func basemapService(t *testing.T, b *basemap.Basemap) (*service, string, string) {
	t.Helper()
	s := startWith(t, testdb.Migrated(t), func(d *api.Deps) { d.Basemap = b })
	tokens := make([]string, 2)
	for i, role := range []auth.Role{auth.Analyst, auth.Uploader} {
		var err error
		if tokens[i], err = auth.Create(context.Background(), s.pool, "t-"+string(role), role, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return s, tokens[0], tokens[1]
}

// tileJSON is what /tiles.json and /basemap.json answer.
type tileJSON struct {
	TileJSON     string    `json:"tilejson"`
	Tiles        []string  `json:"tiles"`
	MinZoom      int       `json:"minzoom"`
	MaxZoom      int       `json:"maxzoom"`
	Bounds       []float64 `json:"bounds"`
	Attribution  string    `json:"attribution"`
	Format       string    `json:"format"`
	TileSize     int       `json:"tileSize"`
	Scheme       string    `json:"scheme"`
	VectorLayers []struct {
		ID     string            `json:"id"`
		Fields map[string]string `json:"fields"`
	} `json:"vector_layers"`
}

// placesGeoJSON is Peshawar and a road east of it.
const placesGeoJSON = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"name":"Peshawar"},"geometry":{"type":"Point","coordinates":[71.5249,34.0151]}},
{"type":"Feature","properties":{"name":"GT Road"},"geometry":{"type":"LineString","coordinates":[[71.4,34.0],[71.6,34.05]]}}]}`

var peshawar = orb.Point{71.5249, 34.0151}

// peshawarIn says whether a vector tile at z/x/y holds the point named
// Peshawar where Peshawar is.
func peshawarIn(t *testing.T, body []byte, z, x, y int) bool {
	t.Helper()
	layers, err := mvt.Unmarshal(body)
	if err != nil {
		t.Fatalf("not an MVT: %v", err)
	}
	layers.ProjectToWGS84(maptile.New(uint32(x), uint32(y), maptile.Zoom(z)))
	for _, l := range layers {
		for _, f := range l.Features {
			if p, ok := f.Geometry.(orb.Point); ok && f.Properties.MustString("name", "") == "Peshawar" {
				return math.Abs(p[0]-peshawar[0]) < 0.01 && math.Abs(p[1]-peshawar[1]) < 0.01
			}
		}
	}
	return false
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Accept-Encoding is always set explicitly: without it, Go's client asks
// for gzip itself and hides the answer's Content-Encoding.
const (
	gzipOK   = "gzip, deflate"
	identity = "identity"
)

func TestBasemapFromVectorMBTiles(t *testing.T) {
	path := basemaptest.VectorMBTiles(t, map[string]string{"place": placesGeoJSON}, 0, 8)
	// GDAL writes no attribution; the extract's maker would.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO metadata VALUES ('attribution', '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>')`); err != nil {
		t.Fatal(err)
	}
	tc := maptile.At(peshawar, 8)
	z, x, y := 8, int(tc.X), int(tc.Y)
	var stored []byte
	// MBTiles rows count from the south.
	if err := db.QueryRow("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?", z, x, 255-y).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, analyst, uploader := basemapService(t, basemaptest.Open(t, path))

	var tj tileJSON
	r := s.do(t, "GET", "/basemap.json", analyst, "")
	r.json(t, &tj)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || tj.TileJSON != "3.0.0" || tj.Scheme != "xyz" ||
		len(tj.Tiles) != 1 || tj.Tiles[0] != s.url+"/basemap/{z}/{x}/{y}.mvt" || tj.MinZoom != 0 || tj.MaxZoom != 8 ||
		tj.Format != "mvt" || tj.TileSize != 0 || len(tj.Bounds) != 4 || tj.Bounds[0] != 71.4 ||
		!strings.Contains(tj.Attribution, "© OpenStreetMap contributors") ||
		len(tj.VectorLayers) != 1 || tj.VectorLayers[0].ID != "place" || tj.VectorLayers[0].Fields["name"] != "String" {
		t.Fatalf("/basemap.json: %d %s", r.status, r.body)
	}
	// A GIS tool's token in the query is carried into the tile URL.
	r = s.do(t, "GET", "/basemap.json?access_token="+url.QueryEscape(analyst), "", "")
	r.json(t, &tj)
	if r.status != 200 || tj.Tiles[0] != s.url+"/basemap/{z}/{x}/{y}.mvt?access_token="+url.QueryEscape(analyst) {
		t.Fatalf("/basemap.json with access_token: %d %s", r.status, r.body)
	}

	tilePath := fmt.Sprintf("/basemap/%d/%d/%d", z, x, y)
	// Gzip accepted: the stored bytes as they are.
	r = s.send(t, "GET", tilePath+".mvt", analyst, nil, "Accept-Encoding", gzipOK)
	if r.status != 200 || r.header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" || r.header.Get("Content-Encoding") != "gzip" ||
		r.body != string(stored) || r.header.Get("Cache-Control") != "private, no-cache" || r.header.Get("Vary") != "Accept-Encoding" ||
		r.header.Get("Content-Length") != fmt.Sprint(len(stored)) {
		t.Fatalf("gzip tile: %d %v, %d bytes, stored %d", r.status, r.header, len(r.body), len(stored))
	}
	if !peshawarIn(t, gunzip(t, []byte(r.body)), z, x, y) {
		t.Fatal("the tile holding Peshawar does not hold it: rows not flipped?")
	}
	gzTag := r.header.Get("ETag")
	// Not accepted: decompressed, with its own entity tag.
	r = s.send(t, "GET", tilePath+".mvt", analyst, nil, "Accept-Encoding", identity)
	plain := gunzip(t, stored)
	if r.status != 200 || r.header.Get("Content-Encoding") != "" || r.body != string(plain) || r.header.Get("ETag") == gzTag ||
		r.header.Get("ETag") == "" || !peshawarIn(t, []byte(r.body), z, x, y) {
		t.Fatalf("identity tile: %d %v", r.status, r.header)
	}
	plainTag := r.header.Get("ETag")
	// The same tile without an extension, or as .pbf.
	for _, p := range []string{tilePath, tilePath + ".pbf"} {
		if r := s.send(t, "GET", p, analyst, nil, "Accept-Encoding", gzipOK); r.status != 200 || r.body != string(stored) {
			t.Fatalf("%s: %d", p, r.status)
		}
	}
	// 304 for a tag the client has, weak or strong, in a list or *; not for
	// the other encoding's tag.
	for _, c := range []struct{ enc, inm string }{
		{gzipOK, gzTag}, {gzipOK, "W/" + gzTag}, {gzipOK, `"x", ` + gzTag}, {gzipOK, "*"}, {identity, plainTag},
	} {
		r := s.send(t, "GET", tilePath+".mvt", analyst, nil, "Accept-Encoding", c.enc, "If-None-Match", c.inm)
		if r.status != 304 || r.body != "" || r.header.Get("ETag") == "" {
			t.Fatalf("If-None-Match %s (%s): %d", c.inm, c.enc, r.status)
		}
	}
	if r := s.send(t, "GET", tilePath+".mvt", analyst, nil, "Accept-Encoding", gzipOK, "If-None-Match", plainTag); r.status != 200 {
		t.Fatalf("another encoding's tag: %d", r.status)
	}
	// HEAD: the headers, no body.
	r = s.send(t, "HEAD", tilePath+".mvt", analyst, nil, "Accept-Encoding", gzipOK)
	if r.status != 200 || r.body != "" || r.header.Get("ETag") != gzTag || r.header.Get("Content-Length") != fmt.Sprint(len(stored)) {
		t.Fatalf("HEAD: %d %v", r.status, r.header)
	}
	// A tile the file lacks, within its zooms: 200 and nothing (MapLibre
	// takes a 404 for an error).
	for _, p := range []string{"/basemap/8/0/0.mvt", fmt.Sprintf("/basemap/%d/%d/%d.mvt", z, x, 255-y)} {
		r := s.send(t, "GET", p, analyst, nil, "Accept-Encoding", gzipOK)
		if r.status != 200 || r.body != "" || r.header.Get("Content-Length") != "0" || r.header.Get("ETag") != "" {
			t.Fatalf("%s: %d %q %v", p, r.status, r.body, r.header)
		}
	}
	// Outside the zooms or the grid: 400; another type's extension: 404.
	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/basemap/9/0/0.mvt", 400, "no such basemap tile: z must be 0 to 8, and x and y 0 to 2^z - 1"},
		{"/basemap/8/256/0.mvt", 400, "no such basemap tile"},
		{"/basemap/8/0/-1", 400, "no such basemap tile"},
		{"/basemap/8/0/x.mvt", 400, "tile coordinates must be whole numbers: /basemap/{z}/{x}/{y}.mvt"},
		{"/basemap/99999999999999999999/0/0", 400, "tile coordinates must be whole numbers"},
		{"/basemap/8/0/0.png", 404, "the basemap's tiles are mvt: /basemap/{z}/{x}/{y}.mvt"},
	} {
		wantError(t, s.do(t, "GET", c.path, analyst, ""), c.status, c.msg)
	}
	// The analyst role, as for /tiles.
	wantError(t, s.do(t, "GET", tilePath, "", ""), 401, "a token is required")
	wantError(t, s.do(t, "GET", tilePath, uploader, ""), 403, "the uploader role may not do this")
	wantError(t, s.do(t, "GET", "/basemap.json", uploader, ""), 403, "the uploader role may not do this")
	if r := s.send(t, "GET", tilePath+"?access_token="+url.QueryEscape(analyst), "", nil, "Accept-Encoding", gzipOK); r.status != 200 || r.body != string(stored) {
		t.Fatalf("access_token: %d", r.status)
	}

	// Tiles served are too routine for the info log; refusals are not.
	if !regexp.MustCompile(`level=DEBUG msg=request request_id=\S+ method=GET path=`+regexp.QuoteMeta(tilePath)+`\.mvt status=200`).MatchString(s.logs.String()) ||
		!strings.Contains(s.logs.String(), `level=INFO msg=request request_id=`) ||
		!regexp.MustCompile(`level=INFO msg=request request_id=\S+ method=GET path=/basemap/9/0/0.mvt status=400`).MatchString(s.logs.String()) {
		t.Fatalf("log:\n%s", s.logs.String())
	}

	// The web app learns from its session that there is a basemap.
	var info struct{ Basemap bool }
	s.signIn(t, analyst).json(t, &info)
	if !info.Basemap {
		t.Fatal("the session does not tell of the basemap")
	}
}

func TestBasemapFromRasterMBTiles(t *testing.T) {
	s, analyst, _ := basemapService(t, basemaptest.Open(t, basemaptest.RasterMBTiles(t)))
	var tj tileJSON
	r := s.do(t, "GET", "/basemap.json", analyst, "")
	r.json(t, &tj)
	if r.status != 200 || tj.Tiles[0] != s.url+"/basemap/{z}/{x}/{y}.png" || tj.Format != "png" || tj.TileSize != 256 ||
		tj.MinZoom != 6 || tj.MaxZoom != 6 || tj.VectorLayers != nil || strings.Contains(r.body, "vector_layers") {
		t.Fatalf("/basemap.json: %d %s", r.status, r.body)
	}
	tc := maptile.At(orb.Point{71.5, 34.5}, 6)
	for _, enc := range []string{gzipOK, identity} {
		r = s.send(t, "GET", fmt.Sprintf("/basemap/6/%d/%d.png", tc.X, tc.Y), analyst, nil, "Accept-Encoding", enc)
		if r.status != 200 || r.header.Get("Content-Type") != "image/png" || r.header.Get("Content-Encoding") != "" ||
			!strings.HasPrefix(r.body, "\x89PNG\r\n\x1a\n") {
			t.Fatalf("raster tile (%s): %d %v", enc, r.status, r.header)
		}
	}
	r = s.send(t, "GET", "/basemap/6/0/0", analyst, nil, "Accept-Encoding", gzipOK)
	if r.status != 200 || r.body != "" || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("missing raster tile: %d %v", r.status, r.header)
	}
	wantError(t, s.do(t, "GET", "/basemap/5/0/0.png", analyst, ""), 400, "z must be 6 to 6")
	wantError(t, s.do(t, "GET", "/basemap/6/0/0.mvt", analyst, ""), 404, "the basemap's tiles are png")
	if r := s.do(t, "GET", "/basemap/6/0/0.PNG", analyst, ""); r.status != 200 {
		t.Fatalf(".PNG: %d", r.status)
	}
}

func TestBasemapFromPMTiles(t *testing.T) {
	for _, c := range []struct {
		name      string
		gzipped   bool
		leafSize  int
		wantCodec string
	}{{"gzipped tiles, root directory only", true, 0, "gzip"}, {"plain tiles, leaf directories", false, 2, ""}} {
		t.Run(c.name, func(t *testing.T) {
			path, tiles := basemaptest.PointPMTiles(t, "places", "Peshawar", peshawar, 7, c.gzipped, c.leafSize)
			s, analyst, _ := basemapService(t, basemaptest.Open(t, path))
			var tj tileJSON
			r := s.do(t, "GET", "/basemap.json", analyst, "")
			r.json(t, &tj)
			if r.status != 200 || tj.Tiles[0] != s.url+"/basemap/{z}/{x}/{y}.mvt" || tj.MaxZoom != 7 || tj.Bounds[3] != 37.1 ||
				tj.Attribution != "© OpenStreetMap contributors" || len(tj.VectorLayers) != 1 || tj.VectorLayers[0].ID != "places" {
				t.Fatalf("/basemap.json: %d %s", r.status, r.body)
			}
			for zxy, stored := range tiles {
				r := s.send(t, "GET", fmt.Sprintf("/basemap/%d/%d/%d.mvt", zxy[0], zxy[1], zxy[2]), analyst, nil, "Accept-Encoding", gzipOK)
				if r.status != 200 || r.body != string(stored) || r.header.Get("Content-Encoding") != c.wantCodec {
					t.Fatalf("tile %v: %d %v", zxy, r.status, r.header)
				}
			}
			tc := maptile.At(peshawar, 7)
			p := fmt.Sprintf("/basemap/7/%d/%d", tc.X, tc.Y)
			r = s.send(t, "GET", p, analyst, nil, "Accept-Encoding", identity)
			if r.status != 200 || r.header.Get("Content-Encoding") != "" || !peshawarIn(t, []byte(r.body), 7, int(tc.X), int(tc.Y)) {
				t.Fatalf("%s: %d %v", p, r.status, r.header)
			}
			if r2 := s.send(t, "GET", p, analyst, nil, "Accept-Encoding", identity, "If-None-Match", r.header.Get("ETag")); r2.status != 304 {
				t.Fatalf("If-None-Match: %d", r2.status)
			}
			if r := s.send(t, "GET", fmt.Sprintf("/basemap/7/%d/%d", tc.X, tc.Y+1), analyst, nil); r.status != 200 || r.body != "" {
				t.Fatalf("missing tile: %d %q", r.status, r.body)
			}
			wantError(t, s.do(t, "GET", "/basemap/8/0/0.mvt", analyst, ""), 400, "z must be 0 to 7")
		})
	}
}

func TestNoBasemap(t *testing.T) {
	s, analyst, _ := basemapService(t, nil)
	for _, p := range []string{"/basemap.json", "/basemap/0/0/0.mvt", "/basemap/0/0/0"} {
		wantError(t, s.do(t, "GET", p, analyst, ""), 404, "no basemap: this server was started without CLEARMAP_BASEMAP")
		wantError(t, s.do(t, "GET", p, "", ""), 401, "a token is required")
	}
	var info struct{ Basemap *bool }
	s.signIn(t, analyst).json(t, &info)
	if info.Basemap == nil || *info.Basemap {
		t.Fatalf("the session tells of a basemap there is not: %v", info.Basemap)
	}
}
