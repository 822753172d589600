package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"clearmap/internal/auth"
	"clearmap/internal/fieldgen"
)

// These tests read the OGC API with GDAL's own tools, as a GIS user would:
// ogrinfo for the layers' types and counts, ogr2ogr to export to
// GeoPackage. scripts/setup-gis-tools.sh installs them (Debian's gdal-bin).

// gdalTool finds a GDAL command. Without it the test is skipped, saying
// so, except under CI (CI=true), where setup installs GDAL and its absence
// is a failure.
func gdalTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true: scripts/setup-gis-tools.sh installs gdal-bin", name)
		}
		t.Skipf("%s is not installed (Debian's gdal-bin; scripts/setup-gis-tools.sh installs it): skipping this test of GDAL against the OGC API", name)
	}
	return path
}

// gdal runs a GDAL command and returns its standard output, failing the
// test if it fails or complains.
func gdal(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gdalTool(t, name), args...)
	// No retries, no cache: every page is a request the test can count.
	cmd.Env = append(os.Environ(), "GDAL_HTTP_MAX_RETRY=0", "CPL_VSIL_CURL_CACHE_SIZE=0", "GDAL_HTTP_TIMEOUT=60")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || strings.Contains(stderr.String(), "ERROR") {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// oapif is GDAL's name for the service's OGC API, with a token.
func oapif(base, token string) string {
	return "OAPIF:" + base + "/ogc?access_token=" + token
}

// fieldTypes reads the fields and their types from ogrinfo -so.
func fieldTypes(t *testing.T, out string) map[string]string {
	t.Helper()
	types := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+): (\w+(?:\(\w+\))?) \(`).FindAllStringSubmatch(out, -1) {
		types[m[1]] = m[2]
	}
	if len(types) == 0 {
		t.Fatalf("no fields in ogrinfo's answer:\n%s", out)
	}
	return types
}

// gpkgRows runs SQL on a GeoPackage and returns the rows, without the
// header.
func gpkgRows(t *testing.T, gpkg, sql string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(gdal(t, "ogr2ogr", "-f", "CSV", "/vsistdout/", gpkg, "-sql", sql)))
	r.FieldsPerRecord = -1 // GDAL ends a one-column header with a comma
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 1 {
		t.Fatalf("%s: %v %v", sql, rows, err)
	}
	return rows[1:]
}

// TestGDALReadsDeclaredTypes checks that GDAL gives every property its
// declared type, though the first page GDAL samples (10 features) has
// nothing but nulls in reported_area and duplicate_of, and a later one an
// integral reported_area: GDAL used to make those text (and truncate 2.75
// to 2 when it guessed an integer).
func TestGDALReadsDeclaredTypes(t *testing.T) {
	t.Parallel() // its own database and server
	gdalTool(t, "ogrinfo")
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	fs := fieldsAt("G", 14, 71.10, 34.00)
	fs[11] = strings.Replace(fs[11], `"crop"`, `"reported_area":2,"reported_unit":"acre","crop"`, 1)
	fs[12] = strings.Replace(fs[12], `"crop"`, `"reported_area":2.75,"reported_unit":"kanal","crop"`, 1)
	fs = append(fs, fieldAt("G-again", 71.10, 34.00)) // a near-duplicate of G-0
	uploadFeatures(t, s, tokens[auth.Uploader], fs...)

	out := gdal(t, "ogrinfo", "-ro", "-so", oapif(s.url, analyst), "clearances")
	want := map[string]string{
		"clearance_id": "Integer", "crop": "String", "cleared_on": "Date", "field_id": "String", "acres": "Real",
		"team": "String", "method": "String", "notes": "String", "reported_area": "Real", "reported_unit": "String",
		"upload_id": "Integer", "duplicate_of": "Integer", "source_properties": "String",
	}
	got := fieldTypes(t, out)
	for name, typ := range want {
		// GDAL 3.6 makes a JSON Schema integer a 32-bit Integer; later
		// versions may make it Integer64. Either is an integer.
		if g := strings.TrimSuffix(got[name], "64"); g != typ {
			t.Errorf("clearances.%s is %q in GDAL, want %s", name, got[name], typ)
		}
	}
	if len(got) != len(want) {
		t.Errorf("GDAL's fields %v, want %v", got, want)
	}
	if !strings.Contains(out, "Feature Count: 15\n") || !strings.Contains(out, "Extent: (71.100000, 34.000000) - (71.141000, 34.002000)") ||
		!strings.Contains(out, "Geometry: Multi Polygon") {
		t.Errorf("ogrinfo:\n%s", out)
	}

	out = gdal(t, "ogrinfo", "-ro", "-so", oapif(s.url, analyst), "districts")
	got = fieldTypes(t, out)
	for name, typ := range map[string]string{"id": "String", "code": "String", "acres": "Real", "gross_acres": "Real", "acres_poppy": "Real",
		"acres_cannabis": "Real", "reported_acres": "Real", "fields": "Integer", "mapped_features": "Integer", "last_cleared_on": "Date"} {
		if g := strings.TrimSuffix(got[name], "64"); g != typ {
			t.Errorf("districts.%s is %q in GDAL, want %s", name, got[name], typ)
		}
	}
	if !strings.Contains(out, "Feature Count: 156\n") {
		t.Errorf("ogrinfo districts:\n%s", out)
	}

	// The values survive an export whole.
	gpkg := filepath.Join(t.TempDir(), "out.gpkg")
	gdal(t, "ogr2ogr", "-f", "GPKG", gpkg, oapif(s.url, analyst), "clearances")
	rows := gpkgRows(t, gpkg, "SELECT clearance_id, field_id, reported_area, duplicate_of FROM clearances WHERE reported_area IS NOT NULL OR duplicate_of IS NOT NULL ORDER BY clearance_id")
	if fmt.Sprint(rows) != "[[12 G-11 2 ] [13 G-12 2.75 ] [15 G-again  1]]" {
		t.Errorf("exported values %v", rows)
	}
	if got := fieldTypes(t, gdal(t, "ogrinfo", "-ro", "-so", gpkg, "clearances")); got["reported_area"] != "Real" || got["cleared_on"] != "Date" {
		t.Errorf("GeoPackage types %v", got)
	}
}

// TestGDALExportsEveryField exports with the plain command of the issue
// (GDAL 3.6 pages 10 features a request) and with larger pages, and
// compares the GeoPackage with the counted clearances, id by id.
func TestGDALExportsEveryField(t *testing.T) {
	t.Parallel() // its own database and server
	gdalTool(t, "ogr2ogr")
	s, tokens := bigUploadService(t)
	analyst := tokens[auth.Analyst]
	retracted := uploadFeatures(t, s, tokens[auth.Uploader], fieldsAt("R", 20, 71.10, 34.00)...)
	var body bytes.Buffer
	if err := fieldgen.Write(&body, 0, 1050, false, 3); err != nil {
		t.Fatal(err)
	}
	if r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", body.Bytes()); r.status != 201 {
		t.Fatalf("upload: %d %.300s", r.status, r.body)
	}
	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", retracted), tokens[auth.Admin], ""); r.status != 200 {
		t.Fatalf("retract: %d %s", r.status, r.body)
	}
	want := ogcIDs(t, s, "true")
	if len(want) != 1050 {
		t.Fatalf("%d counted", len(want))
	}
	for _, c := range []struct {
		name  string
		args  []string
		where string
	}{
		{"default", nil, "true"},
		{"pages of 1000", []string{"-oo", "PAGE_SIZE=1000"}, "true"},
		{"cannabis, filtered by the server", []string{"-oo", "PAGE_SIZE=100", "-where", "crop = 'cannabis'"}, "crop = 'cannabis'"},
	} {
		gpkg := filepath.Join(t.TempDir(), "out.gpkg")
		gdal(t, "ogr2ogr", append([]string{"-f", "GPKG", gpkg, oapif(s.url, analyst), "clearances"}, c.args...)...)
		var ids []string
		for _, row := range gpkgRows(t, gpkg, "SELECT clearance_id FROM clearances ORDER BY clearance_id") {
			ids = append(ids, row[0])
		}
		if want := ogcIDs(t, s, c.where); !slices.Equal(ids, want) || len(want) == 0 {
			t.Errorf("%s: exported %d fields, %d counted", c.name, len(ids), len(want))
		}
	}
}

// TestGDALExportCompleteUnderRetraction retracts an upload, and uploads
// another, while ogr2ogr pages through the clearances 10 at a time (as
// GDAL 3.6 does by default). Every field that counts throughout is
// exported exactly once.
func TestGDALExportCompleteUnderRetraction(t *testing.T) {
	t.Parallel() // its own database and server
	gdalTool(t, "ogr2ogr")
	s, tokens := uploadService(t)
	up, admin, analyst := tokens[auth.Uploader], tokens[auth.Admin], tokens[auth.Analyst]
	a := uploadFeatures(t, s, up, fieldsAt("A", 25, 71.10, 34.00)...)
	b := uploadFeatures(t, s, up, fieldsAt("B", 25, 71.10, 34.01)...)
	c := uploadFeatures(t, s, up, fieldsAt("C", 25, 71.10, 34.02)...)
	aIDs, bIDs, cIDs := ogcIDs(t, s, fmt.Sprintf("upload_id = %d", a)), ogcIDs(t, s, fmt.Sprintf("upload_id = %d", b)), ogcIDs(t, s, fmt.Sprintf("upload_id = %d", c))

	// In front of the service, a proxy that changes the data as pages are
	// asked for: GDAL's first request samples the schema, the second reads
	// fields 1-10, so the fifth asks for fields 31-40, after all of A's.
	var pages atomic.Int32
	call := func(method, path, token string, body []byte) {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/geo+json")
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			t.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	var d []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/clearances/items") {
			switch pages.Add(1) {
			case 5:
				call("DELETE", fmt.Sprintf("/api/v1/uploads/%d", a), admin, nil)
			case 7:
				d = fieldsAt("D", 5, 71.10, 34.03)
				call("POST", "/api/v1/uploads", up, []byte(`{"type":"FeatureCollection","features":[`+strings.Join(d, ",")+`]}`))
			}
		}
		s.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	gpkg := filepath.Join(t.TempDir(), "out.gpkg")
	gdal(t, "ogr2ogr", "-f", "GPKG", gpkg, oapif(proxy.URL, analyst), "clearances")
	// One sample, then 80 fields 10 a page.
	if n := pages.Load(); n != 9 || len(d) == 0 {
		t.Fatalf("ogr2ogr asked for %d pages, want 9; the changes came at the 5th and 7th", n)
	}
	dIDs := ogcIDs(t, s, "field_id LIKE 'D-%'")
	count := map[string]int{}
	var ids []string
	for _, row := range gpkgRows(t, gpkg, "SELECT clearance_id, field_id FROM clearances ORDER BY clearance_id") {
		count[row[0]]++
		ids = append(ids, row[0])
	}
	for _, id := range slices.Concat(bIDs, cIDs, dIDs) {
		if count[id] != 1 {
			t.Errorf("field %s exported %d times", id, count[id])
		}
	}
	// A's fields were all exported before their retraction; D's, uploaded
	// during the export with later ids, after it.
	if want := slices.Concat(aIDs, bIDs, cIDs, dIDs); !slices.Equal(ids, want) {
		t.Errorf("exported %v, want %v", ids, want)
	}
}

// TestGDALReadsTheTiles reads a tile with GDAL's MVT driver, as QGIS's
// vector tile layer does: every field in the tile, with its types, and,
// once an upload is retracted, none of its fields.
func TestGDALReadsTheTiles(t *testing.T) {
	t.Parallel() // its own database and server
	gdalTool(t, "ogrinfo")
	s, tokens := uploadService(t)
	analyst, uploader := tokens[auth.Analyst], tokens[auth.Uploader]
	kept := uploadFeatures(t, s, uploader, fieldsAt("K", 5, 71.20, 33.90)...)
	gone := uploadFeatures(t, s, uploader, fieldsAt("R", 4, 71.20, 33.91)...)
	// Every field lies in the zoom-10 tile of its corner (fields are 0.002° wide).
	tile := maptile.At(orb.Point{71.20, 33.90}, 10)
	for _, corner := range []orb.Point{{71.215, 33.915}, {71.20, 33.915}, {71.215, 33.90}} {
		if maptile.At(corner, 10) != tile {
			t.Fatalf("the fields cross tile %v", tile)
		}
	}
	read := func() (string, map[string]string) {
		out := gdal(t, "ogrinfo", "-ro", "-so", fmt.Sprintf("MVT:/vsicurl/%s/tiles/%d/%d/%d.mvt?access_token=%s", s.url, tile.Z, tile.X, tile.Y, analyst), "clearances")
		return out, fieldTypes(t, out)
	}
	out, types := read()
	if !strings.Contains(out, "Feature Count: 9\n") || !strings.Contains(out, "Geometry: Polygon\n") {
		t.Errorf("ogrinfo of the tile's clearances:\n%s", out)
	}
	for name, typ := range map[string]string{"crop": "String", "cleared_on": "String", "acres": "Real", "upload_id": "Integer"} {
		if g := strings.TrimSuffix(types[name], "64"); g != typ {
			t.Errorf("clearances.%s is %q in GDAL's MVT driver, want %s", name, types[name], typ)
		}
	}

	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", gone), tokens[auth.Admin], ""); r.status != 200 {
		t.Fatalf("retract: %d %s", r.status, r.body)
	}
	if out, _ = read(); !strings.Contains(out, "Feature Count: 5\n") {
		t.Errorf("after retracting upload %d (upload %d kept), the tile's clearances:\n%s", gone, kept, out)
	}
}
