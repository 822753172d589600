package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// polygonFeature is a Feature with these properties (JSON members, no
// braces) and this Polygon ring list.
func polygonFeature(props, rings string) string {
	return `{"type":"Feature","properties":{` + props + `},"geometry":{"type":"Polygon","coordinates":` + rings + `}}`
}

const (
	okProps  = `"crop":"poppy","cleared_on":"2026-03-14"`
	okSquare = `[[[71.1,34.05],[71.102,34.05],[71.102,34.052],[71.1,34.052],[71.1,34.05]]]`
)

// TestHostileUploads sends malformed and hostile uploads. Each gets its
// exact 4xx with a JSON error naming the problem; only the rejected
// original is stored (for bodies that arrived whole), never a field; and
// the server goes on answering.
func TestHostileUploads(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.UploadsPerMinute = 0 })
	up, _ := auth.Create(ctx, s.pool, "field-team", auth.Uploader, "test")
	fc := func(features ...string) string {
		return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
	}
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	bigRing := "[[" + strings.Repeat("[71.1,34.05],", 5000) + "[71.1,34.05]]]"

	const (
		kept    = iota // the original kept; the error says msg
		rules          // 422, the original kept, a listed problem says msg
		refused        // nothing stored
	)
	for _, c := range []struct {
		name, contentType, query, body string
		kind                           int
		status                         int
		msg                            string // in the detail, or (rules) in a problem
	}{
		// Not GeoJSON at all.
		{"empty body", "application/geo+json", "", "", kept, 422, "the upload has no features"},
		{"truncated", "application/geo+json", "", `{"type":"FeatureCollection","features":[{"type":"Feature"`, kept, 400, "body is not valid GeoJSON"},
		{"NaN", "application/geo+json", "", fc(polygonFeature(okProps, `[[[NaN,34.05],[71.1,34.0],[71.2,34.1],[NaN,34.05]]]`)), kept, 400, "body is not valid GeoJSON"},
		{"Infinity", "application/geo+json", "", fc(polygonFeature(okProps, `[[[Infinity,34.05],[71.1,34.0],[71.2,34.1],[71.1,34.05]]]`)), kept, 400, "body is not valid GeoJSON"},
		{"depth bomb in coordinates", "application/geo+json", "", fc(polygonFeature(okProps, deep("[", "]", 20000))), kept, 400, "body is not valid GeoJSON"},
		{"depth bomb in properties", "application/geo+json", "", fc(polygonFeature(`"x":`+strings.Repeat(`{"a":`, 10000)+"1"+strings.Repeat("}", 10000), okSquare)), kept, 400, "body is not valid GeoJSON"},
		{"not UTF-8", "application/geo+json", "", fc(polygonFeature(`"crop":"poppy","cleared_on":"2026-03-14","team":"`+"\xff\xfe"+`"`, okSquare)), kept, 400, "not UTF-8"},
		{"UTF-16", "application/geo+json", "", "\xff\xfe{\x00}\x00", kept, 400, "not UTF-8"},
		{"UTF-8 byte order mark", "application/geo+json", "", "\xef\xbb\xbf" + fc(polygonFeature(`"crop":"wheat","cleared_on":"2026-03-14"`, okSquare)), rules, 422, "crop"},
		{"duplicate member", "application/geo+json", "", `{"type":"FeatureCollection","type":"FeatureCollection","features":[]}`, kept, 400, `member "type" appears twice`},
		{"trailing garbage", "application/geo+json", "", fc(polygonFeature(okProps, okSquare)) + " and more", kept, 400, "body is not valid GeoJSON"},
		{"top-level array", "application/geo+json", "", `[1,2,3]`, kept, 400, "body is not valid GeoJSON"},
		{"top-level number", "application/geo+json", "", `42`, kept, 400, "body is not valid GeoJSON"},
		{"features is an object", "application/geo+json", "", `{"type":"FeatureCollection","features":{}}`, kept, 400, "body is not valid GeoJSON"},
		{"comments", "application/geo+json", "", "// exported by hand\n" + fc(), kept, 400, "body is not valid GeoJSON"},
		{"single quotes", "application/geo+json", "", `{'type':'FeatureCollection','features':[]}`, kept, 400, "body is not valid GeoJSON"},
		{"raw control character", "application/geo+json", "", fc(polygonFeature(`"crop":"poppy","cleared_on":"2026-03-14","team":"a`+"\x01"+`b"`, okSquare)), kept, 400, "body is not valid GeoJSON"},
		{"NDJSON line cut off", "application/x-ndjson", "", polygonFeature(okProps, okSquare) + "\n" + `{"type":"Feat`, kept, 400, "body is not valid GeoJSON"},

		// GeoJSON that breaks the rules.
		{"bowtie", "application/geo+json", "", fc(polygonFeature(okProps, `[[[71.1,34.05],[71.102,34.052],[71.102,34.05],[71.1,34.052],[71.1,34.05]]]`)), rules, 422, "the outline crosses itself near"},
		{"three positions", "application/geo+json", "", fc(polygonFeature(okProps, `[[[71.1,34.05],[71.102,34.05],[71.1,34.05]]]`)), rules, 422, "a ring needs at least 4"},
		{"swapped lon/lat", "application/geo+json", "", fc(polygonFeature(okProps, `[[[34.05,71.1],[34.05,71.102],[34.052,71.102],[34.05,71.1]]]`)), rules, 422, "GeoJSON is lon,lat"},
		{"missing crop", "application/geo+json", "", fc(polygonFeature(`"cleared_on":"2026-03-14"`, okSquare)), rules, 422, "crop"},
		{"crop wheat", "application/geo+json", "", fc(polygonFeature(`"crop":"wheat","cleared_on":"2026-03-14"`, okSquare)), rules, 422, `crop "wheat" is not poppy or cannabis`},
		{"date in the future", "application/geo+json", "", fc(polygonFeature(`"crop":"poppy","cleared_on":"2099-01-01"`, okSquare)), rules, 422, "is in the future"},
		{"date before 2000", "application/geo+json", "", fc(polygonFeature(`"crop":"poppy","cleared_on":"1999-12-31"`, okSquare)), rules, 422, "is before 2000-01-01"},
		{"no such day", "application/geo+json", "", fc(polygonFeature(`"crop":"poppy","cleared_on":"2026-02-30"`, okSquare)), rules, 422, `cleared_on "2026-02-30" is not a date`},
		{"a point", "application/geo+json", "", fc(`{"type":"Feature","properties":{` + okProps + `},"geometry":{"type":"Point","coordinates":[71.1,34.05]}}`), rules, 422, `geometry is a "Point"`},
		{"no geometry", "application/geo+json", "", fc(`{"type":"Feature","properties":{` + okProps + `},"geometry":null}`), rules, 422, "geometry"},
		{"one-number position", "application/geo+json", "", fc(polygonFeature(okProps, `[[[71.1],[71.102,34.05],[71.102,34.052],[71.1,34.05]]]`)), rules, 422, "position 0 has 1 numbers"},
		{"numbers as strings", "application/geo+json", "", fc(polygonFeature(okProps, `[[["71.1","34.05"],[71.102,34.05],[71.102,34.052],[71.1,34.05]]]`)), rules, 422, "coordinates"},
		{"projected without crs", "application/geo+json", "", fc(polygonFeature(okProps, `[[[300000,3770000],[300100,3770000],[300100,3770100],[300000,3770000]]]`)), rules, 422, "a projected file needs its crs member"},
		{"unknown crs", "application/geo+json", "", `{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::999999"}},"features":[` + polygonFeature(okProps, okSquare) + `]}`, kept, 422, "EPSG:999999 is not a coordinate system PostGIS knows"},
		{"team of 300 characters", "application/geo+json", "", fc(polygonFeature(okProps+`,"team":"`+strings.Repeat("t", 300)+`"`, okSquare)), rules, 422, "team is longer than 200 characters"},
		{"notes of 5,000 characters", "application/geo+json", "", fc(polygonFeature(okProps+`,"notes":"`+strings.Repeat("<script>", 625)+`"`, okSquare)), rules, 422, "notes is longer than 2000 characters"},
		{"jerib", "application/geo+json", "", fc(polygonFeature(okProps+`,"reported_area":2,"reported_unit":"jerib"`, okSquare)), rules, 422, "jerib"},
		{"duplicate field_id", "application/geo+json", "", fc(polygonFeature(okProps+`,"field_id":"A"`, okSquare), polygonFeature(okProps+`,"field_id":"A"`, `[[[71.2,34.05],[71.202,34.05],[71.202,34.052],[71.2,34.05]]]`)), rules, 422, `field_id "A" is used by feature 0 too`},
		{"implausibly large", "application/geo+json", "", fc(polygonFeature(okProps, `[[[71.0,34.0],[71.1,34.0],[71.1,34.1],[71.0,34.1],[71.0,34.0]]]`)), rules, 422, "is implausible for one field"},
		{"outside Pakistan", "application/geo+json", "", fc(polygonFeature(okProps, `[[[2.35,48.85],[2.352,48.85],[2.352,48.852],[2.35,48.85]]]`)), rules, 422, "outside every district of Pakistan"},
		{"hole outside its shell", "application/geo+json", "", fc(polygonFeature(okProps, `[[[71.1,34.05],[71.102,34.05],[71.102,34.052],[71.1,34.052],[71.1,34.05]],[[71.2,34.05],[71.201,34.05],[71.201,34.051],[71.2,34.05]]]`)), rules, 422, "hole lies outside"},
		{"not a Feature", "application/geo+json", "", fc(`{"type":"Banana","properties":{},"geometry":null}`), rules, 422, `a "Banana" is not accepted`},
		{"no features", "application/geo+json", "", fc(), kept, 422, "the upload has no features"},

		// Refused before reading.
		{"over the size limit", "application/geo+json", "", fc(polygonFeature(okProps, bigRing), polygonFeature(okProps, bigRing)), refused, 413, "the upload is larger than 65536 bytes"},
		{"text/plain", "text/plain", "", fc(), refused, 415, `Content-Type "text/plain" is not accepted`},
		{"XML", "application/xml", "", "<kml/>", refused, 415, `Content-Type "application/xml" is not accepted`},
		{"multipart without boundary", "multipart/form-data", "", "--x--", refused, 400, "the multipart body cannot be read"},
		{"script in crop query", "application/geo+json", "?crop=%3Cscript%3E", fc(polygonFeature(`"cleared_on":"2026-03-14"`, okSquare)), refused, 400, `crop="<script>": want poppy or cannabis`},
		{"SQL in date query", "application/geo+json", "?cleared_on=2026-03-14%27%3B%20DROP%20TABLE%20clearances%3B--", fc(polygonFeature(`"crop":"poppy"`, okSquare)), refused, 400, "want a date"},
		{"partial=1;x", "application/geo+json", "?partial=1%3Bx", fc(polygonFeature(okProps, okSquare)), refused, 400, "want true or false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			uploads, clearances := count(t, s.pool, "uploads"), count(t, s.pool, "clearances")
			r := s.post(t, "/api/v1/uploads"+c.query, up, c.contentType, []byte(c.body))
			p := wantProblem(t, r, c.status, "", "")
			text := p.Detail
			if c.kind == rules {
				if p.Type != "/problems/upload-rejected" || len(p.Problems) == 0 ||
					!strings.Contains(p.Detail, "nothing was stored") && !strings.Contains(p.Detail, "none of the") {
					t.Fatalf("422 without its problems: %.300s", r.body)
				}
				text = fmt.Sprint(p.Problems)
			}
			if !strings.Contains(text, c.msg) {
				t.Fatalf("%q does not say %q", text, c.msg)
			}
			if count(t, s.pool, "clearances") != clearances {
				t.Fatal("a field was stored")
			}
			switch {
			case c.kind == refused && count(t, s.pool, "uploads") != uploads:
				t.Fatal("an upload refused before reading was stored")
			case c.kind != refused:
				var raw []byte
				var id int64
				var status string
				if err := s.pool.QueryRow(ctx, `SELECT u.id, u.status, coalesce((SELECT string_agg(data, ''::bytea ORDER BY seq)
					FROM upload_chunks WHERE upload_id = u.id), ''::bytea) FROM uploads u ORDER BY u.id DESC LIMIT 1`).Scan(&id, &status, &raw); err != nil {
					t.Fatal(err)
				}
				if n := count(t, s.pool, "uploads"); n != uploads+1 || status != "rejected" || string(raw) != c.body {
					t.Fatalf("want the original kept as rejected: %d uploads (was %d), status %q, %d bytes of %d", n, uploads, status, len(raw), len(c.body))
				}
				if p.Upload == nil || p.Upload.ID != id || p.Upload.Status != "rejected" {
					t.Fatalf("the problem does not carry upload %d's receipt: %.300s", id, r.body)
				}
			}
			if h := s.do(t, "GET", "/healthz", "", ""); h.status != 200 {
				t.Fatal("the server stopped answering")
			}
		})
	}
	// After all that, a good upload still goes through.
	if r := s.post(t, "/api/v1/uploads", up, "application/geo+json", []byte(fc(polygonFeature(okProps, okSquare)))); r.status != 201 {
		t.Fatalf("a good upload after the hostile ones: %d %s", r.status, r.body)
	}
}

// TestHostileQueries sends bad and hostile query strings to every GET
// endpoint that reads one: each gets its 4xx and a JSON error saying what
// is wrong, and nothing breaks.
func TestHostileQueries(t *testing.T) {
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/v1/summary?crop=wheat", 400, `crop="wheat": want poppy or cannabis`},
		{"/api/v1/summary?from=2026-13-01", 400, `from="2026-13-01": want a date`},
		{"/api/v1/summary?from=2026-03-02&to=2026-03-01", 400, "to is before from"},
		{"/api/v1/summary?to=%27%3B%20DROP%20TABLE%20uploads%3B--", 400, "want a date"},
		{"/api/v1/districts?province=PK-XX", 400, "PK-XX"},
		{"/api/v1/districts?format=xml", 400, "format"},
		{"/api/v1/districts?crop=%00", 400, "crop: the value holds a NUL character"},
		{"/api/v1/districts/PK-KP-NOWHERE", 404, "PK-KP-NOWHERE"},
		{"/api/v1/districts/%27%20OR%201%3D1--", 404, "no district"},
		{"/api/v1/uploads/abc", 404, "upload"},
		{"/api/v1/uploads/99999999999999999999", 404, "upload"},
		{"/api/v1/uploads/-1/raw", 404, "upload"},
		{"/api/v1/uploads?limit=-5", 400, "limit"},
		{"/api/v1/uploads?limit=1e9", 400, "limit"},
		{"/tiles/23/0/0.mvt", 400, "no such tile"},
		{"/tiles/3/8/0.mvt", 400, "no such tile"},
		{"/tiles/3/-1/0.mvt", 400, "no such tile"},
		{"/tiles/a/b/c.mvt", 400, "whole numbers"},
		{"/tiles/3/99999999999999999999999/1.mvt", 400, "whole numbers"},
		{"/tiles/3/1/1.mvt?crop=wheat", 400, "want poppy or cannabis"},
		{"/tiles/3/1/1.mvt?from=yesterday", 400, "want a date"},
		{"/tiles.json?crop=%3Cscript%3E", 400, "want poppy or cannabis"},
		{"/style.json?to=2026-02-30", 400, "want a date"},
		{"/ogc/collections/clearances/items?limit=0", 400, "limit"},
		// Above the maximum, the page is clamped to it, as the self link says.
		{"/ogc/collections/clearances/items?limit=10001", 200, "limit=10000"},
		{"/ogc/collections/clearances/items?limit=ten", 400, "limit"},
		{"/ogc/collections/clearances/items?offset=-1", 400, `unknown query parameter "offset"`},
		{"/ogc/collections/clearances/items?cursor=%3Cscript%3E", 400, "not a cursor"},
		{"/ogc/collections/clearances/items?bbox=1,2,3", 400, "bbox"},
		{"/ogc/collections/clearances/items?bbox=NaN,0,1,1", 400, "bbox"},
		{"/ogc/collections/clearances/items?bbox=10,10,0,0", 400, "bbox"},
		{"/ogc/collections/clearances/items?datetime=last-week", 400, "datetime"},
		{"/ogc/collections/clearances/items?datetime=../..", 400, "at least one end"}, // open both ends is no interval (leave datetime out)
		{"/ogc/collections/clearances/items?datetime=2026-03-02/2026-03-01", 400, "datetime"},
		{"/ogc/collections/clearances/items?crop=wheat", 400, "crop"},
		{"/ogc/collections/nothing/items", 404, "no collection nothing"},
		{"/ogc/collections/clearances/items/abc", 404, "abc"},
		{"/ogc/collections/districts/items/%3Cscript%3E", 404, "<script>"},
	} {
		t.Run(c.path, func(t *testing.T) {
			r := s.do(t, "GET", c.path, analyst, "")
			if c.status == 200 {
				if r.status != 200 || !strings.Contains(r.body, c.msg) {
					t.Fatalf("%d %.300s", r.status, r.body)
				}
				return
			}
			wantError(t, r, c.status, c.msg)
		})
	}
	if r := s.do(t, "GET", "/api/v1/summary", analyst, ""); r.status != 200 {
		t.Fatalf("after the hostile queries: %d", r.status)
	}
}
