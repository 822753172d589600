package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/features"
	"clearmap/internal/fieldgen"
	"clearmap/internal/testdb"
)

type itemsPage struct {
	Type     string
	Features []struct {
		ID         any
		Geometry   struct{ Type string }
		Properties map[string]any
	}
	NumberMatched  *int `json:"numberMatched"`
	NumberReturned int  `json:"numberReturned"`
	Links          []struct{ Href, Rel, Type string }
}

func (p itemsPage) link(rel string) string {
	for _, l := range p.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

// matched is numberMatched, -1 when the page leaves it out.
func (p itemsPage) matched() int {
	if p.NumberMatched == nil {
		return -1
	}
	return *p.NumberMatched
}

// uploadFeatures uploads the features as one FeatureCollection and returns
// the upload's id.
func uploadFeatures(t *testing.T, s *service, token string, features ...string) int64 {
	t.Helper()
	r := s.post(t, "/api/v1/uploads", token, "application/geo+json",
		[]byte(`{"type":"FeatureCollection","features":[`+strings.Join(features, ",")+`]}`))
	if r.status != 201 {
		t.Fatalf("upload: %d %.500s", r.status, r.body)
	}
	var receipt struct{ ID int64 }
	r.json(t, &receipt)
	return receipt.ID
}

// fieldsAt returns n fields in a row eastward from lon, lat, named
// prefix-0, prefix-1, …
func fieldsAt(prefix string, n int, lon, lat float64) []string {
	var fs []string
	for i := range n {
		fs = append(fs, fieldAt(fmt.Sprintf("%s-%d", prefix, i), lon+float64(i)*0.003, lat))
	}
	return fs
}

// pageThrough follows next links from path and returns the ids of every
// feature, in order, and the pages. between, if not nil, runs after each
// page but the last.
func pageThrough(t *testing.T, s *service, token, path string, between func(page int)) ([]string, []itemsPage) {
	t.Helper()
	var ids []string
	var pages []itemsPage
	for next := path; next != ""; {
		var p itemsPage
		r := s.do(t, "GET", next, token, "")
		if r.status != 200 || r.header.Get("Content-Type") != "application/geo+json" {
			t.Fatalf("page %d (%s): %d %.300s", len(pages), next, r.status, r.body)
		}
		r.json(t, &p)
		if p.Type != "FeatureCollection" || p.NumberReturned != len(p.Features) {
			t.Fatalf("page %d: %.300s", len(pages), r.body)
		}
		for _, f := range p.Features {
			ids = append(ids, fmt.Sprint(f.ID))
		}
		pages = append(pages, p)
		next = strings.TrimPrefix(p.link("next"), s.url)
		if next != "" && between != nil {
			between(len(pages))
		}
	}
	return ids, pages
}

// ogcIDs lists the counted clearances' ids, as the database has them.
func ogcIDs(t *testing.T, s *service, where string) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "SELECT c.id::text FROM clearances c WHERE NOT retracted AND "+where+" ORDER BY c.id")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestOGCAPIFeatures(t *testing.T) {
	t.Parallel() // its own database and server
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
	uploadFeatures(t, s, tokens[auth.Uploader], append(fs, `{"type":"Feature","properties":{"crop":"poppy","cleared_on":"2026-03-14","extra":{"kept":1,"big":123456789012345678901234567890}},"geometry":{"type":"Polygon","coordinates":[[[71.3,34.1],[71.301,34.1],[71.301,34.101],[71.3,34.1]]]}}`)...)

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
	var conf struct{ ConformsTo []string }
	s.do(t, "GET", "/ogc/conformance", analyst, "").json(t, &conf)
	for _, c := range []string{"ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson", "ogcapi-features-1/1.0/conf/oas30",
		"ogcapi-features-5/1.0/conf/schemas", "ogcapi-features-3/1.0/conf/queryables"} {
		if !slices.Contains(conf.ConformsTo, "http://www.opengis.net/spec/"+c) {
			t.Errorf("conformance lacks %s: %v", c, conf.ConformsTo)
		}
	}
	if slices.Contains(conf.ConformsTo, "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html") || len(conf.ConformsTo) != 8 {
		t.Errorf("conformance lists what is not implemented: %v", conf.ConformsTo)
	}

	// The time span and box are the fields' own.
	var cols struct {
		Collections []struct {
			ID     string
			Extent struct {
				Spatial  struct{ BBox [][]float64 }
				Temporal struct{ Interval [][]*string }
			}
			Links []struct{ Href, Rel, Type string }
		}
	}
	s.do(t, "GET", "/ogc/collections", analyst, "").json(t, &cols)
	if len(cols.Collections) != 2 || cols.Collections[0].ID != "clearances" || cols.Collections[1].ID != "districts" {
		t.Fatalf("collections %+v", cols)
	}
	if iv := cols.Collections[0].Extent.Temporal.Interval; len(iv) != 1 || len(iv[0]) != 2 || iv[0][0] == nil || iv[0][1] == nil ||
		*iv[0][0] != "2026-03-14T00:00:00Z" || *iv[0][1] != "2026-04-02T23:59:59Z" {
		t.Fatalf("temporal extent %+v", iv)
	}
	if got, want := fmt.Sprint(cols.Collections[0].Extent.Spatial.BBox), "[[71.1 34 71.301 34.101]]"; got != want {
		t.Errorf("clearances bbox %s, want the fields' %s", got, want)
	}
	var want [4]float64
	if err := s.pool.QueryRow(context.Background(), `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM districts) d`).
		Scan(&want[0], &want[1], &want[2], &want[3]); err != nil {
		t.Fatal(err)
	}
	if got := cols.Collections[1].Extent.Spatial.BBox; len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want[:]) {
		t.Errorf("districts bbox %v, want the districts' %v", got, want)
	}

	// Page through every clearance with next links, as QGIS and GDAL do:
	// ids in order, each once, the same count on each page.
	ids, pages := pageThrough(t, s, analyst, "/ogc/collections/clearances/items?limit=7", nil)
	if want := ogcIDs(t, s, "true"); !slices.Equal(ids, want) || len(ids) != 26 || len(pages) != 4 {
		t.Fatalf("paged %v over %d pages, want %v", ids, len(pages), want)
	}
	for i, p := range pages {
		if p.matched() != 26 || p.link("prev") != "" || p.link("self") == "" || p.link("collection") == "" {
			t.Errorf("page %d: numberMatched %d, links %+v", i, p.matched(), p.Links)
		}
		for _, f := range p.Features {
			if f.Geometry.Type != "MultiPolygon" {
				t.Errorf("geometry %s", f.Geometry.Type)
			}
		}
	}
	// The default page holds every one of them.
	if _, pages := pageThrough(t, s, analyst, "/ogc/collections/clearances/items", nil); len(pages) != 1 || pages[0].NumberReturned != 26 ||
		!strings.Contains(pages[0].link("self"), "limit=1000") {
		t.Fatalf("default page: %+v", pages)
	}

	for _, c := range []struct {
		query   string
		want    int
		matched int // -1: left out, as it would take a scan
	}{
		{"crop=cannabis", 5, 5},
		{"datetime=2026-04-01/..", 5, 5},
		{"datetime=2026-03-14", 21, 21},
		{"datetime=../2026-03-31T23:59:59Z&crop=poppy", 17, 17},
		{"datetime=2026-03-14T/..", 26, 26}, // as GDAL 3.6 writes a date
		{"bbox=71.099,33.999,71.107,34.007", 4, -1},
		{"bbox=71.099,33.999,-100,71.107,34.007,100", 4, -1}, // with heights
		{"bbox=60,20,62,22", 0, -1},
		// Across the antimeridian: east of 71.2 and west of 71.101.
		{"bbox=71.2,33,71.101,35", 6, -1},
		{"bbox=71.2,33,71.101,35&crop=cannabis", 5, -1},
	} {
		ids, pages := pageThrough(t, s, analyst, "/ogc/collections/clearances/items?limit=2&"+c.query, nil)
		if len(ids) != c.want || pages[0].matched() != c.matched {
			t.Errorf("%s: %d features, numberMatched %d; want %d, %d", c.query, len(ids), pages[0].matched(), c.want, c.matched)
		}
		// The filters are repeated in each next link.
		q, _ := url.ParseQuery(c.query)
		for _, p := range pages[:len(pages)-1] {
			next, err := url.Parse(p.link("next"))
			if err != nil {
				t.Fatal(err)
			}
			for k := range q {
				if next.Query().Get(k) != q.Get(k) {
					t.Errorf("%s: next link %s lacks %s", c.query, next, k)
				}
			}
		}
	}

	// One feature, with the properties the team sent kept.
	last := ids[len(ids)-1]
	r := s.do(t, "GET", "/ogc/collections/clearances/items/"+last, analyst, "")
	var one struct {
		ID         int64
		Properties map[string]json.RawMessage
		Links      []struct{ Rel string }
	}
	r.json(t, &one)
	if r.status != 200 || !strings.Contains(r.body, `"extra": {"big": 123456789012345678901234567890, "kept": 1}`) || fmt.Sprint(one.ID) != last ||
		len(one.Links) != 2 || one.Links[1].Rel != "collection" || string(one.Properties["crop"]) != `"poppy"` {
		t.Fatalf("item: %d %s", r.status, r.body)
	}
	// Districts page by code.
	codes, dpages := pageThrough(t, s, analyst, "/ogc/collections/districts/items?limit=50", nil)
	if len(codes) != 156 || len(dpages) != 4 || dpages[3].NumberReturned != 6 || dpages[0].matched() != 156 || !slices.IsSorted(codes) {
		t.Fatalf("districts: %d over %d pages", len(codes), len(dpages))
	}
	var d itemsPage
	s.do(t, "GET", "/ogc/collections/districts/items?bbox=71.099,33.999,71.107,34.007", analyst, "").json(t, &d)
	if d.matched() != d.NumberReturned || d.NumberReturned < 1 || d.NumberReturned > 3 || d.Features[0].ID != "PK-KP-KHYBER" && d.Features[0].ID != "PK-KP-KURRAM" {
		t.Errorf("districts in a box: %d of %d", d.NumberReturned, d.matched())
	}
	r = s.do(t, "GET", "/ogc/collections/districts/items/PK-KP-KHYBER", analyst, "")
	if r.status != 200 || !strings.Contains(r.body, `"fields":26`) || !strings.Contains(r.body, `"type":"MultiPolygon"`) || !strings.Contains(r.body, `"rel":"self"`) {
		t.Fatalf("Khyber: %d %.300s", r.status, r.body)
	}

	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/ogc/collections/fields", 404, "no collection fields"},
		{"/ogc/collections/fields/items", 404, "no collection fields"},
		{"/ogc/collections/fields/schema", 404, "no collection fields"},
		{"/ogc/collections/clearances/items/999999", 404, "no feature 999999 in clearances"},
		{"/ogc/collections/clearances/items/abc", 404, "no feature abc"},
		{"/ogc/collections/clearances/items/0" + last, 404, "no feature 0" + last},
		{"/ogc/collections/districts/items/PK-XX", 404, "no feature PK-XX in districts"},
		{"/ogc/collections/clearances/items?limit=0", 400, `limit="0"`},
		{"/ogc/collections/clearances/items?limit=-3", 400, `limit="-3"`},
		{"/ogc/collections/clearances/items?limit=ten", 400, `limit="ten"`},
		{"/ogc/collections/clearances/items?offset=10", 400, `unknown query parameter "offset"`},
		{"/ogc/collections/clearances/items?cursor=abc", 400, `cursor="abc": not a cursor this service gave out`},
		{"/ogc/collections/clearances/items?cursor=" + url.QueryEscape(pages[1].link("next")), 400, "not a cursor"},
		{"/ogc/collections/districts/items?cursor=" + features.Cursor("clearances", "1"), 400, "not a cursor this service gave out for the collection"},
		{"/ogc/collections/clearances/items?cursor=" + features.Cursor("districts", "PK-KP-KHYBER"), 400, "not a cursor this service gave out for the collection"},
		{"/ogc/collections/clearances/items?bbox=1,2,3", 400, "want four numbers"},
		{"/ogc/collections/clearances/items?bbox=71,35,72,34", 400, "min latitude before max"},
		{"/ogc/collections/clearances/items?bbox=a,b,c,d", 400, "is not a number"},
		{"/ogc/collections/clearances/items?datetime=yesterday", 400, `datetime="yesterday"`},
		{"/ogc/collections/clearances/items?datetime=../..", 400, "an interval needs at least one end"},
		{"/ogc/collections/clearances/items?datetime=2026-04-01/2026-03-01", 400, "ends before it starts"},
		{"/ogc/collections/clearances/items?crop=hemp", 400, `crop="hemp"`},
		{"/ogc/collections/clearances/items?bbox-crs=EPSG:3857", 400, "only http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
		{"/ogc/collections/clearances/items?limit=5&limit=6", 400, "limit is given 2 times"},
		{"/ogc/collections/clearances/items?f=html", 400, `f="html": /ogc/collections/clearances/items is served as json or geojson only`},
		{"/ogc/collections/clearances?f=geojson", 400, `f="geojson"`},
		{"/ogc/collections/clearances?crop=poppy", 400, `unknown query parameter "crop": /ogc/collections/clearances takes access_token and f`},
		{"/ogc?foo=1", 400, `unknown query parameter "foo"`},
		{"/ogc/api?limit=1", 400, `unknown query parameter "limit"`},
		{"/ogc/conformance?x=", 400, `unknown query parameter "x"`},
		{"/ogc/collections?bbox=1,2,3,4", 400, `unknown query parameter "bbox"`},
		{"/ogc/collections/clearances/items/" + last + "?limit=1", 400, `unknown query parameter "limit"`},
		{"/ogc/collections/clearances/schema?f=xml", 400, `f="xml"`},
		{"/ogc/collections/clearances/queryables?crop=poppy", 400, `unknown query parameter "crop"`},
	} {
		wantError(t, s.do(t, "GET", c.path, analyst, ""), c.status, c.msg)
	}
	// Known parameters pass: the token, f=json (f=geojson for features).
	for _, path := range []string{"/ogc?f=json", "/ogc/api?f=json", "/ogc/conformance?f=json", "/ogc/collections?f=json&access_token=" + analyst,
		"/ogc/collections/clearances?f=json", "/ogc/collections/clearances/items?f=geojson&limit=1", "/ogc/collections/clearances/items?f=json&limit=1",
		"/ogc/collections/clearances/items/" + last + "?f=geojson", "/ogc/collections/clearances/schema?f=json", "/ogc/collections/districts/queryables?f=json"} {
		if r := s.do(t, "GET", path, analyst, ""); r.status != 200 {
			t.Errorf("%s: %d %.300s", path, r.status, r.body)
		}
	}
	// A limit over the maximum reads as the maximum (Part 1
	// /req/core/fc-limit-response-1 C: not an error).
	for _, limit := range []string{"50000", "99999999999999999999999"} {
		var big itemsPage
		if r := s.do(t, "GET", "/ogc/collections/clearances/items?limit="+limit, analyst, ""); r.status != 200 {
			t.Fatalf("limit over the maximum: %d %s", r.status, r.body)
		} else if r.json(t, &big); !strings.Contains(big.link("self"), "limit=10000") || big.NumberReturned != 26 {
			t.Fatalf("limit %s not read as 10000: %s", limit, big.link("self"))
		}
	}
	wantError(t, s.do(t, "GET", "/ogc/collections", "", ""), 401, "a token is required")
}

func TestOGCOpenAPIListsProblems(t *testing.T) {
	t.Parallel() // its own database and server
	s, tokens := uploadService(t)
	var oas struct {
		OpenAPI string
		Paths   map[string]map[string]struct {
			Parameters []map[string]any
			Responses  map[string]map[string]any
		}
		Components struct {
			Responses map[string]struct {
				Content map[string]struct{ Schema map[string]string }
			}
			Schemas map[string]struct{ Required []string }
		}
	}
	r := s.do(t, "GET", "/ogc/api", tokens[auth.Analyst], "")
	r.json(t, &oas)
	if oas.OpenAPI != "3.0.3" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/vnd.oai.openapi+json") {
		t.Fatalf("openapi %.300s", r.body)
	}
	for _, p := range []string{"/", "/api", "/conformance", "/collections", "/collections/{collectionId}", "/collections/{collectionId}/items",
		"/collections/{collectionId}/items/{featureId}", "/collections/{collectionId}/schema", "/collections/{collectionId}/queryables"} {
		get, ok := oas.Paths[p]["get"]
		if !ok {
			t.Errorf("no path %s", p)
			continue
		}
		for _, status := range []string{"200", "400", "401", "500", "503"} {
			if get.Responses[status] == nil {
				t.Errorf("%s lacks a %s answer", p, status)
			}
		}
		if get.Responses["400"]["$ref"] != "#/components/responses/400" {
			t.Errorf("%s: 400 is %v", p, get.Responses["400"])
		}
	}
	for _, status := range []string{"400", "401", "404", "500", "503"} {
		if oas.Components.Responses[status].Content["application/problem+json"].Schema["$ref"] != "#/components/schemas/Problem" {
			t.Errorf("%s is not problem details: %+v", status, oas.Components.Responses[status])
		}
	}
	if got := oas.Components.Schemas["Problem"].Required; !slices.Equal(got, []string{"type", "title", "status", "detail"}) {
		t.Errorf("Problem requires %v", got)
	}
	// Clients size their pages by the limit's default and maximum
	// (GDAL 3.8 and later keep within the maximum).
	var limit map[string]any
	for _, p := range oas.Paths["/collections/{collectionId}/items"]["get"].Parameters {
		if p["name"] == "limit" {
			limit = p["schema"].(map[string]any)
		}
	}
	if limit["default"] != 1000.0 || limit["maximum"] != 10000.0 || limit["minimum"] != 1.0 {
		t.Errorf("limit %v", limit)
	}
}

func TestOGCSchemaAndQueryables(t *testing.T) {
	t.Parallel() // its own database and server
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	var col struct {
		Links []struct{ Href, Rel, Type string }
	}
	s.do(t, "GET", "/ogc/collections/clearances?access_token="+analyst, "", "").json(t, &col)
	hrefs := map[string]string{}
	for _, l := range col.Links {
		if l.Type != "" {
			hrefs[l.Rel] = l.Href + " " + l.Type
		}
	}
	schema := s.url + "/ogc/collections/clearances/schema?access_token=" + analyst + " application/schema+json"
	for _, rel := range []string{"describedby", "describedBy", "http://www.opengis.net/def/rel/ogc/1.0/schema"} {
		if hrefs[rel] != schema {
			t.Errorf("%s link %q, want %q", rel, hrefs[rel], schema)
		}
	}
	if want := s.url + "/ogc/collections/clearances/queryables?access_token=" + analyst + " application/schema+json"; hrefs["http://www.opengis.net/def/rel/ogc/1.0/queryables"] != want {
		t.Errorf("queryables link %q", hrefs["http://www.opengis.net/def/rel/ogc/1.0/queryables"])
	}

	r := s.do(t, "GET", "/ogc/collections/clearances/schema", analyst, "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/schema+json" {
		t.Fatalf("schema: %d %s %.300s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var doc struct {
		Schema     string `json:"$schema"`
		ID         string `json:"$id"`
		Type       string
		Required   []string
		Properties map[string]map[string]any
		AllOf      []struct {
			Properties struct {
				Properties struct{ Properties map[string]map[string]any }
			}
		}
	}
	r.json(t, &doc)
	if doc.Schema != "https://json-schema.org/draft/2020-12/schema" || doc.ID != s.url+"/ogc/collections/clearances/schema" || doc.Type != "object" {
		t.Fatalf("schema head: %.300s", r.body)
	}
	if doc.Properties["id"]["x-ogc-role"] != "id" || doc.Properties["id"]["type"] != "integer" ||
		doc.Properties["geometry"]["format"] != "geometry-multipolygon" || doc.Properties["geometry"]["type"] != nil {
		t.Errorf("id and geometry: %v %v", doc.Properties["id"], doc.Properties["geometry"])
	}
	types := map[string]string{"clearance_id": "integer", "crop": "string", "cleared_on": "string", "field_id": "string", "acres": "number", "team": "string", "method": "string",
		"notes": "string", "reported_area": "number", "reported_unit": "string", "upload_id": "integer", "duplicate_of": "integer", "source_properties": "object"}
	if len(doc.Properties) != len(types)+2 || len(doc.AllOf) != 1 || len(doc.AllOf[0].Properties.Properties.Properties) != len(types) {
		t.Errorf("schema has %d properties, GeoJSON's %d: %.600s", len(doc.Properties), len(doc.AllOf), r.body)
	}
	for name, typ := range types {
		if doc.Properties[name]["type"] != typ || doc.AllOf[0].Properties.Properties.Properties[name]["type"] != typ {
			t.Errorf("%s: %v, want %s", name, doc.Properties[name], typ)
		}
	}
	if doc.Properties["cleared_on"]["format"] != "date" || doc.Properties["cleared_on"]["x-ogc-role"] != "primary-instant" {
		t.Errorf("cleared_on: %v", doc.Properties["cleared_on"])
	}
	if !slices.Equal(doc.Required, []string{"id", "geometry", "clearance_id", "crop", "cleared_on", "acres", "upload_id", "source_properties"}) {
		t.Errorf("required %v", doc.Required)
	}
	// GDAL makes its fields in the order the schema lists them: the order
	// features are written in.
	order := []string{`"id"`, `"geometry"`, `"clearance_id"`, `"crop"`, `"cleared_on"`, `"field_id"`, `"acres"`, `"team"`, `"method"`, `"notes"`, `"reported_area"`, `"reported_unit"`, `"upload_id"`, `"duplicate_of"`, `"source_properties"`}
	at := 0
	for _, name := range order {
		i := strings.Index(r.body[at:], name+":")
		if i < 0 {
			t.Fatalf("schema lists %s out of order: %s", name, r.body)
		}
		at += i
	}

	var q struct {
		Properties           map[string]map[string]any
		AdditionalProperties *bool
	}
	r = s.do(t, "GET", "/ogc/collections/clearances/queryables", analyst, "")
	r.json(t, &q)
	if r.header.Get("Content-Type") != "application/schema+json" || len(q.Properties) != 1 || q.Properties["crop"]["type"] != "string" ||
		q.AdditionalProperties == nil || *q.AdditionalProperties {
		t.Errorf("clearances queryables: %s", r.body)
	}
	q.Properties = nil
	s.do(t, "GET", "/ogc/collections/districts/queryables", analyst, "").json(t, &q)
	if len(q.Properties) != 0 {
		t.Errorf("districts queryables: %v", q.Properties)
	}
	r = s.do(t, "GET", "/ogc/collections/districts/schema", analyst, "")
	doc.Properties = nil
	r.json(t, &doc)
	if doc.Properties["id"]["type"] != "string" || doc.Properties["acres"]["type"] != "number" || doc.Properties["fields"]["type"] != "integer" ||
		doc.Properties["last_cleared_on"]["format"] != "date" || len(doc.Properties) != 13 {
		t.Errorf("districts schema: %s", r.body)
	}
}

// TestOGCValuesHaveTheirDeclaredTypes checks every property of every
// feature against the collection's schema, by the JSON text: a "number" is
// written with a decimal part, an "integer" without, and null only where
// the schema allows it.
func TestOGCValuesHaveTheirDeclaredTypes(t *testing.T) {
	t.Parallel() // its own database and server
	s, tokens := uploadService(t)
	analyst := tokens[auth.Analyst]
	fs := fieldsAt("T", 4, 71.10, 34.00)
	fs[1] = strings.Replace(fs[1], `"crop"`, `"reported_area":2,"reported_unit":"acre","team":"A \"quoted\" team","crop"`, 1)
	fs[2] = strings.Replace(fs[2], `"crop"`, `"reported_area":2.75,"reported_unit":"kanal","notes":"ٹیم","crop"`, 1)
	first := uploadFeatures(t, s, tokens[auth.Uploader], fs...)
	uploadFeatures(t, s, tokens[auth.Uploader], fieldAt("again", 71.10, 34.00)) // a near-duplicate of T-0

	for _, c := range []struct {
		collection string
		query      string
	}{{"clearances", ""}, {"districts", "&bbox=71.099,33.999,71.2,34.1"}} {
		var schema struct {
			Properties map[string]struct{ Type, Format, Description string }
		}
		s.do(t, "GET", "/ogc/collections/"+c.collection+"/schema", analyst, "").json(t, &schema)
		r := s.do(t, "GET", "/ogc/collections/"+c.collection+"/items?limit=1000"+c.query, analyst, "")
		dec := json.NewDecoder(strings.NewReader(r.body))
		dec.UseNumber()
		var page struct {
			Features []struct {
				ID         any
				Properties map[string]any
			}
		}
		if err := dec.Decode(&page); err != nil {
			t.Fatal(err)
		}
		seen := map[string]map[string]bool{} // property: JSON kinds seen
		for _, f := range page.Features {
			if len(f.Properties) != len(schema.Properties)-2 {
				t.Errorf("%s %v has %d properties, the schema %d", c.collection, f.ID, len(f.Properties), len(schema.Properties)-2)
			}
			if _, ok := f.ID.(json.Number); ok != (c.collection == "clearances") {
				t.Errorf("%s id %v", c.collection, f.ID)
			}
			if c.collection == "clearances" && fmt.Sprint(f.Properties["clearance_id"]) != fmt.Sprint(f.ID) {
				t.Errorf("clearance_id %v of feature %v", f.Properties["clearance_id"], f.ID)
			}
			for name, v := range f.Properties {
				p, ok := schema.Properties[name]
				if !ok {
					t.Errorf("%s: %s is not in the schema", c.collection, name)
					continue
				}
				kind := ""
				switch v := v.(type) {
				case nil:
					kind = "null"
					if p.Description != "null when not known" {
						t.Errorf("%s %v: %s is null, which the schema does not allow", c.collection, f.ID, name)
					}
				case json.Number:
					kind = "integer"
					if strings.ContainsAny(string(v), ".eE") {
						kind = "number"
						if !strings.Contains(string(v), ".") {
							t.Errorf("%s: %s = %s has no decimal point", c.collection, name, v)
						}
					}
				case string:
					kind = "string"
					if p.Format == "date" && len(v) != 10 {
						t.Errorf("%s: %s = %q is not a date", c.collection, name, v)
					}
				case map[string]any:
					kind = "object"
				}
				if kind != "null" && kind != p.Type {
					t.Errorf("%s %v: %s = %v is a JSON %s, declared %s", c.collection, f.ID, name, v, kind, p.Type)
				}
				if seen[name] == nil {
					seen[name] = map[string]bool{}
				}
				seen[name][kind] = true
			}
		}
		if c.collection == "clearances" {
			// Each nullable number was seen both null and set, so the
			// check above was not vacuous.
			for _, name := range []string{"reported_area", "duplicate_of", "team", "notes"} {
				if len(seen[name]) != 2 || !seen[name]["null"] {
					t.Errorf("%s seen as %v", name, seen[name])
				}
			}
			if !strings.Contains(r.body, `"reported_area":2.0,`) || !strings.Contains(r.body, `"reported_area":2.75,`) ||
				!strings.Contains(r.body, `"team":"A \"quoted\" team"`) || !strings.Contains(r.body, `"notes":"ٹیم"`) ||
				!strings.Contains(r.body, fmt.Sprintf(`"upload_id":%d,`, first)) {
				t.Errorf("values: %.2000s", r.body)
			}
		} else if len(page.Features) == 0 || !seen["acres"]["number"] || !seen["fields"]["integer"] {
			t.Errorf("districts: %d features, %v", len(page.Features), seen)
		}
	}
}

// TestOGCPagingUnderChange retracts an upload whose fields came on pages
// already read, and uploads more, while a client pages: with offsets every
// later page would shift by the retracted fields and that many would never
// be returned. With the cursor, every field that counts from the first
// page to the last comes exactly once.
func TestOGCPagingUnderChange(t *testing.T) {
	t.Parallel() // its own database and server
	s, tokens := uploadService(t)
	up, admin, analyst := tokens[auth.Uploader], tokens[auth.Admin], tokens[auth.Analyst]
	a := uploadFeatures(t, s, up, fieldsAt("A", 30, 71.10, 34.00)...)
	b := uploadFeatures(t, s, up, fieldsAt("B", 30, 71.10, 34.01)...)
	c := uploadFeatures(t, s, up, fieldsAt("C", 30, 71.10, 34.02)...)
	bIDs, cIDs := ogcIDs(t, s, fmt.Sprintf("upload_id = %d", b)), ogcIDs(t, s, fmt.Sprintf("upload_id = %d", c))
	var d int64
	ids, pages := pageThrough(t, s, analyst, "/ogc/collections/clearances/items?limit=20", func(page int) {
		switch page {
		case 2: // A's 30 fields have all been read (and 10 of B's)
			if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", a), admin, ""); r.status != 200 {
				t.Fatalf("retract: %d %s", r.status, r.body)
			}
		case 3:
			d = uploadFeatures(t, s, up, fieldsAt("D", 10, 71.10, 34.03)...)
		}
	})
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for _, id := range append(bIDs, cIDs...) {
		if seen[id] != 1 {
			t.Errorf("field %s of an upload counted throughout came %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("field %s came %d times", id, n)
		}
	}
	// A's came before the retraction, D's (uploaded meanwhile, with later
	// ids) after it.
	if len(ids) != 30+30+30+10 || len(pages) != 5 || !slices.IsSortedFunc(ids, func(x, y string) int { return atoi(x) - atoi(y) }) {
		t.Errorf("%d features over %d pages, upload %d: %v", len(ids), len(pages), d, ids)
	}
	if pages[0].matched() != 90 || pages[2].matched() != 60 || pages[4].matched() != 70 {
		t.Errorf("numberMatched %d, %d, %d; want 90, 60 after the retraction, 70 after the upload", pages[0].matched(), pages[2].matched(), pages[4].matched())
	}

	// Retracting the upload being read: what is left of it is not
	// returned, and nothing else is lost.
	ids, _ = pageThrough(t, s, analyst, "/ogc/collections/clearances/items?limit=20", func(page int) {
		if page == 1 {
			s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", b), admin, "")
		}
	})
	want := append(append(append([]string{}, bIDs[:20]...), cIDs...), ogcIDs(t, s, fmt.Sprintf("upload_id = %d", d))...)
	if !slices.Equal(ids, want) {
		t.Errorf("paged %v, want %v", ids, want)
	}
}

// bigUploadService is uploadService taking bodies of up to 64 MiB.
func bigUploadService(t testing.TB) (*service, map[auth.Role]string) {
	t.Helper()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.MaxUploadBytes = 64 << 20 })
	tokens := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.Uploader, auth.Analyst, auth.Admin} {
		secret, err := auth.Create(context.Background(), s.pool, "t-"+string(role), role, "test")
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = secret
	}
	return s, tokens
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestOGCLargePages pages 1,200 fields with limits at, under and over the
// batch the server reads at a time (500), so a page spans batches and the
// row that says a next page exists falls in the next one.
func TestOGCLargePages(t *testing.T) {
	t.Parallel() // its own database and server
	s, tokens := bigUploadService(t)
	var body bytes.Buffer
	if err := fieldgen.Write(&body, 0, 1200, false, 7); err != nil {
		t.Fatal(err)
	}
	if r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", body.Bytes()); r.status != 201 {
		t.Fatalf("upload: %d %.300s", r.status, r.body)
	}
	all := ogcIDs(t, s, "true")
	if len(all) != 1200 {
		t.Fatalf("%d stored", len(all))
	}
	for _, c := range []struct{ limit, pages int }{{499, 3}, {500, 3}, {501, 3}, {1000, 2}, {1200, 1}, {10000, 1}} {
		ids, pages := pageThrough(t, s, tokens[auth.Analyst], fmt.Sprintf("/ogc/collections/clearances/items?limit=%d", c.limit), nil)
		if !slices.Equal(ids, all) || len(pages) != c.pages || pages[0].NumberReturned != min(c.limit, 1200) {
			t.Errorf("limit %d: %d features over %d pages, want 1200 over %d", c.limit, len(ids), len(pages), c.pages)
		}
	}
}

// TestOGCCountsAndExtentFollowChanges checks numberMatched and the extent
// (kept in clearance_days) against the clearances themselves, after
// concurrent uploads and retractions.
func TestOGCCountsAndExtentFollowChanges(t *testing.T) {
	t.Parallel() // its own database and server
	s, tokens := uploadService(t)
	up, admin, analyst := tokens[auth.Uploader], tokens[auth.Admin], tokens[auth.Analyst]
	check := func(what string) {
		t.Helper()
		for _, c := range []struct{ query, where string }{
			{"", "true"},
			{"crop=cannabis", "crop = 'cannabis'"},
			{"datetime=2026-03-10/2026-03-20", "cleared_on BETWEEN '2026-03-10' AND '2026-03-20'"},
			{"datetime=../2026-03-14&crop=poppy", "cleared_on <= '2026-03-14' AND crop = 'poppy'"},
		} {
			var p itemsPage
			s.do(t, "GET", "/ogc/collections/clearances/items?limit=1&"+c.query, analyst, "").json(t, &p)
			if want := len(ogcIDs(t, s, c.where)); p.matched() != want {
				t.Errorf("%s: %s: numberMatched %d, counted %d", what, c.query, p.matched(), want)
			}
		}
		var col struct {
			Extent *struct {
				Spatial struct{ BBox [][]float64 }
			}
		}
		s.do(t, "GET", "/ogc/collections/clearances", analyst, "").json(t, &col)
		var box [4]*float64
		if err := s.pool.QueryRow(context.Background(), `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
			FROM (SELECT ST_Extent(geom) e FROM clearances WHERE NOT retracted) c`).Scan(&box[0], &box[1], &box[2], &box[3]); err != nil {
			t.Fatal(err)
		}
		if box[0] == nil {
			if col.Extent != nil {
				t.Errorf("%s: extent %+v with no fields", what, col.Extent)
			}
			return
		}
		if col.Extent == nil || len(col.Extent.Spatial.BBox) != 1 {
			t.Fatalf("%s: no extent", what)
		}
		for i, v := range col.Extent.Spatial.BBox[0] {
			if math.Abs(v-*box[i]) > 1e-9 {
				t.Errorf("%s: extent %v, the fields' %v %v %v %v", what, col.Extent.Spatial.BBox[0], *box[0], *box[1], *box[2], *box[3])
				break
			}
		}
	}
	check("empty")
	// Uploads on the same days in different districts at once, some of
	// them retracted as others arrive.
	var mu sync.Mutex
	var ids []int64
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs := fieldsAt(fmt.Sprintf("P%d", i), 5, 71.5+float64(i)*0.1, 34.0+float64(i%3)*0.1)
			fs[0] = strings.Replace(fs[0], "poppy", "cannabis", 1)
			fs[1] = strings.Replace(fs[1], "2026-03-14", "2026-03-09", 1)
			id := uploadFeatures(t, s, up, fs...)
			if i%2 == 0 {
				if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", id), admin, ""); r.status != 200 {
					t.Errorf("retract: %d %s", r.status, r.body)
				}
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		}()
	}
	wg.Wait()
	check("after concurrent uploads")
	// A far field widens the box; retracting it shrinks it again.
	far := uploadFeatures(t, s, up, strings.Replace(fieldAt("far", 67.0, 25.0), "2026-03-14", "2026-03-12", 1))
	var col struct {
		Extent struct{ Spatial struct{ BBox [][]float64 } }
	}
	s.do(t, "GET", "/ogc/collections/clearances", analyst, "").json(t, &col)
	if col.Extent.Spatial.BBox[0][0] != 67.0 || col.Extent.Spatial.BBox[0][1] != 25.0 {
		t.Errorf("far field not in the extent %v", col.Extent.Spatial.BBox)
	}
	check("with the far field")
	s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", far), admin, "")
	s.do(t, "GET", "/ogc/collections/clearances", analyst, "").json(t, &col)
	if col.Extent.Spatial.BBox[0][0] == 67.0 || col.Extent.Spatial.BBox[0][1] == 25.0 {
		t.Errorf("retracted far field still in the extent %v", col.Extent.Spatial.BBox)
	}
	check("after retracting it")
	for _, id := range ids {
		s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", id), admin, "")
	}
	check("all retracted")
	var rows, zero int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*), count(*) FILTER (WHERE features = 0 AND min_lon IS NULL) FROM clearance_days").Scan(&rows, &zero); err != nil || rows == 0 || rows != zero {
		t.Errorf("clearance_days after every retraction: %d rows, %d empty, %v", rows, zero, err)
	}
}
