package api_test

import (
	"fmt"
	"strings"
	"testing"

	"clearmap/internal/auth"
)

type itemsPage struct {
	Type     string
	Features []struct {
		ID         any
		Geometry   struct{ Type string }
		Properties map[string]any
	}
	NumberMatched  int `json:"numberMatched"`
	NumberReturned int `json:"numberReturned"`
	Links          []struct{ Href, Rel string }
}

func (p itemsPage) link(rel string) string {
	for _, l := range p.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

func TestOGCAPIFeatures(t *testing.T) {
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	var fs []string
	for i := 0; i < 25; i++ {
		f := fieldAt(fmt.Sprintf("O-%02d", i), 71.10+float64(i%5)*0.004, 34.00+float64(i/5)*0.004)
		if i%5 == 0 {
			f = strings.Replace(f, "poppy", "cannabis", 1)
		}
		if i >= 20 {
			f = strings.Replace(f, "2026-03-14", "2026-04-02", 1)
		}
		fs = append(fs, f)
	}
	if r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json",
		[]byte(`{"type":"FeatureCollection","features":[`+strings.Join(fs, ",")+`,{"type":"Feature","properties":{"crop":"poppy","cleared_on":"2026-03-14","extra":{"kept":1,"big":123456789012345678901234567890}},"geometry":{"type":"Polygon","coordinates":[[[71.3,34.1],[71.301,34.1],[71.301,34.101],[71.3,34.1]]]}}]}`)); r.status != 201 {
		t.Fatal(r.body)
	}

	// Landing page, conformance, API definition, collections.
	var landing struct {
		Links []struct{ Href, Rel, Type string }
	}
	s.do(t, "GET", "/ogc?access_token="+analyst, "", "").json(t, &landing)
	rels := map[string]string{}
	for _, l := range landing.Links {
		rels[l.Rel] = l.Href
	}
	if !strings.HasSuffix(rels["service-desc"], "/ogc/api?access_token="+analyst) || !strings.HasSuffix(rels["conformance"], "/ogc/conformance?access_token="+analyst) ||
		!strings.HasSuffix(rels["data"], "/ogc/collections?access_token="+analyst) || !strings.HasPrefix(rels["data"], "http://127.0.0.1:") {
		t.Fatalf("landing links %v", rels)
	}
	r := s.do(t, "GET", "/ogc/conformance", analyst, "")
	if !strings.Contains(r.body, "ogcapi-features-1/1.0/conf/core") || !strings.Contains(r.body, "conf/geojson") || !strings.Contains(r.body, "conf/oas30") {
		t.Fatal(r.body)
	}
	var oas struct {
		OpenAPI string
		Paths   map[string]any
	}
	r = s.do(t, "GET", "/ogc/api", analyst, "")
	r.json(t, &oas)
	if oas.OpenAPI != "3.0.3" || oas.Paths["/collections/{collectionId}/items"] == nil || !strings.HasPrefix(r.header.Get("Content-Type"), "application/vnd.oai.openapi+json") {
		t.Fatalf("openapi %+v", oas)
	}
	var cols struct {
		Collections []struct {
			ID     string
			Extent struct {
				Spatial  struct{ BBox [][]float64 }
				Temporal struct{ Interval [][]*string }
			}
			Links []struct{ Href, Rel string }
		}
	}
	s.do(t, "GET", "/ogc/collections", analyst, "").json(t, &cols)
	if len(cols.Collections) != 2 || cols.Collections[0].ID != "clearances" || len(cols.Collections[0].Extent.Spatial.BBox) != 1 {
		t.Fatalf("collections %+v", cols)
	}
	// The time span is the fields' first and last days.
	if iv := cols.Collections[0].Extent.Temporal.Interval; len(iv) != 1 || len(iv[0]) != 2 || iv[0][0] == nil || iv[0][1] == nil ||
		*iv[0][0] != "2026-03-14T00:00:00Z" || *iv[0][1] != "2026-04-02T23:59:59Z" {
		t.Fatalf("temporal extent %+v", iv)
	}

	// Page through every clearance with next links, as QGIS does.
	seen := map[string]bool{}
	next := "/ogc/collections/clearances/items?limit=7"
	pages := 0
	var matched int
	for next != "" {
		var p itemsPage
		r := s.do(t, "GET", next, analyst, "")
		r.json(t, &p)
		if r.status != 200 || r.header.Get("Content-Type") != "application/geo+json" || p.Type != "FeatureCollection" || p.NumberReturned != len(p.Features) {
			t.Fatalf("page %d: %d %.200s", pages, r.status, r.body)
		}
		for _, f := range p.Features {
			id := fmt.Sprint(f.ID)
			if seen[id] || f.Geometry.Type != "MultiPolygon" {
				t.Fatalf("feature %s twice, or geometry %s", id, f.Geometry.Type)
			}
			seen[id] = true
		}
		matched = p.NumberMatched
		if pages > 0 && p.link("prev") == "" {
			t.Fatal("no prev link after the first page")
		}
		next = strings.TrimPrefix(p.link("next"), s.url)
		pages++
	}
	if matched != 26 || len(seen) != 26 || pages != 4 {
		t.Fatalf("%d features over %d pages, numberMatched %d", len(seen), pages, matched)
	}

	for _, c := range []struct {
		query string
		want  int
	}{
		{"crop=cannabis", 5},
		{"datetime=2026-04-01/..", 5},
		{"datetime=2026-03-14", 21},
		{"datetime=../2026-03-31T23:59:59Z&crop=poppy", 17},
		{"bbox=71.099,33.999,71.107,34.007", 4},
		{"bbox=60,20,62,22", 0},
	} {
		var p itemsPage
		s.do(t, "GET", "/ogc/collections/clearances/items?limit=100&"+c.query, analyst, "").json(t, &p)
		if p.NumberMatched != c.want || p.NumberReturned != c.want {
			t.Errorf("%s: matched %d returned %d, want %d", c.query, p.NumberMatched, p.NumberReturned, c.want)
		}
	}

	// One feature, with the properties the team sent kept.
	var p itemsPage
	s.do(t, "GET", "/ogc/collections/clearances/items?limit=1&offset=25", analyst, "").json(t, &p)
	id := fmt.Sprint(p.Features[0].ID)
	r = s.do(t, "GET", "/ogc/collections/clearances/items/"+id, analyst, "")
	if r.status != 200 || !strings.Contains(r.body, `"extra":{"big":123456789012345678901234567890,"kept":1}`) || !strings.Contains(r.body, `"rel":"collection"`) {
		t.Fatalf("item: %d %s", r.status, r.body)
	}
	var d itemsPage
	s.do(t, "GET", "/ogc/collections/districts/items?limit=50&offset=150", analyst, "").json(t, &d)
	if d.NumberMatched != 156 || d.NumberReturned != 6 || d.link("next") != "" {
		t.Fatalf("districts: %d %d", d.NumberMatched, d.NumberReturned)
	}
	r = s.do(t, "GET", "/ogc/collections/districts/items/PK-KP-KHYBER", analyst, "")
	if r.status != 200 || !strings.Contains(r.body, `"fields":26`) || !strings.Contains(r.body, `"type":"MultiPolygon"`) {
		t.Fatalf("Khyber: %d %.300s", r.status, r.body)
	}

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/ogc/collections/fields", 404, "no collection fields"},
		{"/ogc/collections/clearances/items/999999", 404, "no feature 999999 in clearances"},
		{"/ogc/collections/clearances/items/abc", 404, "no feature abc"},
		{"/ogc/collections/districts/items/PK-XX", 404, "no feature PK-XX in districts"},
		{"/ogc/collections/clearances/items?limit=0", 400, `limit="0"`},
		{"/ogc/collections/clearances/items?offset=-1", 400, `offset="-1"`},
		{"/ogc/collections/clearances/items?bbox=1,2,3", 400, "want four numbers"},
		{"/ogc/collections/clearances/items?bbox=71,35,72,34", 400, "min before max"},
		{"/ogc/collections/clearances/items?bbox=a,b,c,d", 400, "is not a number"},
		{"/ogc/collections/clearances/items?datetime=yesterday", 400, `datetime="yesterday"`},
		{"/ogc/collections/clearances/items?datetime=2026-04-01/2026-03-01", 400, "ends before it starts"},
		{"/ogc/collections/clearances/items?crop=hemp", 400, `crop="hemp"`},
		{"/ogc/collections/clearances/items?bbox-crs=EPSG:3857", 400, "only http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
	} {
		wantError(t, s.do(t, "GET", c.path, analyst, ""), c.status, c.msg)
	}
	var big itemsPage
	if r := s.do(t, "GET", "/ogc/collections/clearances/items?limit=50000", analyst, ""); r.status != 200 {
		t.Fatalf("limit over the maximum: %d", r.status)
	} else {
		r.json(t, &big)
		if !strings.Contains(big.link("self"), "limit=10000") {
			t.Fatalf("limit not capped at 10000: %s", big.link("self"))
		}
	}
	wantError(t, s.do(t, "GET", "/ogc/collections", "", ""), 401, "a token is required")
}
