package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"clearmap/internal/basemap/basemaptest"
	"clearmap/internal/testdb"
)

// A basemap that cannot be served stops the start at once, before the
// database is reached (none is here), with one line naming the file and
// what is wrong, and exit code 1.
func TestServeRefusesABadBasemap(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "pakistan.mbtiles")
	if err := os.WriteFile(csv, []byte("name,lon,lat\nPeshawar,71.52,34.01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, msg string }{
		{csv, "clearmap serve: basemap " + csv + `: neither an MBTiles file (SQLite) nor a PMTiles file: it begins with neither "SQLite format 3" nor "PMTiles"` + "\n"},
		{filepath.Join(dir, "missing.pmtiles"), "clearmap serve: basemap " + filepath.Join(dir, "missing.pmtiles") + ": open: no such file or directory\n"},
	} {
		for _, how := range [][2]string{{"CLEARMAP_BASEMAP", ""}, {"", "--basemap"}} {
			var stdout, stderr bytes.Buffer
			env := map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/unused", how[0]: c.file}
			args := []string{"serve"}
			if how[1] != "" {
				args = append(args, how[1], c.file)
			}
			code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
			if code != 1 || stderr.String() != c.msg || stdout.Len() != 0 {
				t.Errorf("%v %v: exit %d\nstderr %q\nwant   %q", how, c.file, code, stderr.String(), c.msg)
			}
		}
	}
}

func TestServeWithABasemap(t *testing.T) {
	path, _ := basemaptest.PointPMTiles(t, "places", "Peshawar", [2]float64{71.5249, 34.0151}, 5, true, 0)
	url := testdb.New(t)
	base, stdout, stderr, stop := startServe(t, url, "CLEARMAP_BASEMAP", path)
	defer stop()
	if !strings.Contains(stderr.String(), `msg="serving basemap" file=`+path+` format=PMTiles tiles=mvt minzoom=0 maxzoom=5 vector_layers=1`) {
		t.Fatalf("log: %s", stderr.String())
	}
	admin := regexp.MustCompile(`\bcm_[A-Za-z0-9_-]{43}\b`).FindString(stdout.String())
	req, _ := http.NewRequest("GET", base+"/basemap.json", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tj struct{ Tiles []string }
	if err := json.NewDecoder(resp.Body).Decode(&tj); err != nil || resp.StatusCode != 200 || len(tj.Tiles) != 1 ||
		tj.Tiles[0] != base+"/basemap/{z}/{x}/{y}.mvt" {
		t.Fatalf("/basemap.json: %d %v %v", resp.StatusCode, tj, err)
	}
}

// A lake over Peshawar and Islamabad, a motorway from Karachi to Peshawar
// and Peshawar itself, in OpenMapTiles' layer names.
var openMapTilesLike = map[string]string{
	"water": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"class":"lake"},
		"geometry":{"type":"Polygon","coordinates":[[[71,33.5],[73,33.5],[73,35],[71,35],[71,33.5]]]}}]}`,
	"transportation": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"class":"motorway"},
		"geometry":{"type":"LineString","coordinates":[[67,24.9],[71.5,30.2],[74.3,31.5],[73,33.7],[71.5,34]]}}]}`,
	"place": `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"class":"city","name":"Peshawar","rank":3},
		"geometry":{"type":"Point","coordinates":[71.5249,34.0151]}}]}`,
}

// TestBasemapInChromium runs web/e2e/basemap.test.mjs in Debian's Chromium
// against a server with a basemap: its layers drawn beneath the
// districts, its tiles fetched, its attribution shown.
func TestBasemapInChromium(t *testing.T) {
	web := browserReady(t)
	const attribution = "Basemap test data"
	path := basemaptest.VectorMBTiles(t, openMapTilesLike, 0, 8)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec("INSERT INTO metadata VALUES ('attribution', ?)", attribution)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	base, stdout, _, stop := startServe(t, testdb.New(t), "CLEARMAP_BASEMAP", path)
	defer stop()
	out := runE2E(t, web, "e2e/basemap.test.mjs", 3*time.Minute,
		"CLEARMAP_URL="+base, "CLEARMAP_ADMIN="+firstToken(stdout.String()), "CLEARMAP_BASEMAP_ATTRIBUTION="+attribution)
	if !strings.Contains(out, "pass 1") { // the file skips where no basemap is served: here it must run
		t.Fatal("the basemap's browser test did not run")
	}
}
