package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/features"
)

// OGC API - Features under /ogc: Part 1 (Core, GeoJSON, OpenAPI 3.0), with
// each collection's schema and queryables (Part 5, Part 3's queryables).

const (
	geoJSON     = "application/geo+json"
	schemaJSON  = "application/schema+json"
	openAPIType = "application/vnd.oai.openapi+json;version=3.0"
	crs84       = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
	// maxItemLimit is the most features a page holds; a larger limit is
	// read as this one (Part 1 /req/core/fc-limit-response-1 C: not an
	// error).
	maxItemLimit = 10000
	// defaultItemLimit is a page's size when the client names none: 20,000
	// fields in 20 requests. GDAL 3.8 and later ask for 1,000 a page within
	// the maximum the API definition declares; GDAL 3.6 asks for 10 a page
	// unless given -oo PAGE_SIZE=.
	defaultItemLimit = 1000

	relSchema     = "http://www.opengis.net/def/rel/ogc/1.0/schema"
	relQueryables = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
)

type link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// collection describes one of the two collections.
type collection struct {
	id, title, description string
	// idType is the JSON type of the features' ids.
	idType     string
	properties []features.Property
	list       func(context.Context, *pgxpool.Pool, features.Query, *features.Sink) (features.Page, error)
	one        func(context.Context, *pgxpool.Pool, string) ([]byte, error)
	extent     func(context.Context, *pgxpool.Pool) (features.Extent, error)
}

var collections = []collection{
	{"clearances", "Cleared fields", "Every counted cleared field, with its crop, date, team and mapped acres",
		"integer", features.ClearanceProperties, features.Clearances, features.Clearance, features.ClearanceExtent},
	{"districts", "Districts", "District boundaries with cleared acres under the date and crop filters",
		"string", features.DistrictProperties, features.Districts, features.District, features.DistrictExtent},
}

// findCollection returns the collection the path names, or answers 404.
func findCollection(w http.ResponseWriter, r *http.Request) *collection {
	id := chi.URLParam(r, "collection")
	for i := range collections {
		if collections[i].id == id {
			return &collections[i]
		}
	}
	writeError(w, http.StatusNotFound, "no collection "+id+": there are clearances and districts")
	return nil
}

// Formats an endpoint can be asked for with f=.
var (
	jsonOnly     = []string{"json"}
	jsonFeatures = []string{"json", "geojson"}
)

// checkParams answers 400 unless each query parameter is one the endpoint
// takes (names), given once: an unknown one is an error, not ignored (Part
// 1 /req/core/query-param-unknown), as a misspelt filter would otherwise
// return everything. Every endpoint also takes access_token and f, f
// naming one of formats.
func checkParams(w http.ResponseWriter, r *http.Request, formats []string, names ...string) bool {
	for name, values := range r.URL.Query() {
		if name != "access_token" && name != "f" && !slices.Contains(names, name) {
			takes := "access_token and f"
			if len(names) > 0 {
				takes = strings.Join(names, ", ") + ", " + takes
			}
			badParameter(w, fmt.Sprintf("unknown query parameter %q: %s takes %s", name, r.URL.Path, takes))
			return false
		}
		if len(values) > 1 {
			badParameter(w, fmt.Sprintf("%s is given %d times; give it once", name, len(values)))
			return false
		}
		if name == "f" && !slices.Contains(formats, values[0]) {
			badParameter(w, fmt.Sprintf("f=%q: %s is served as %s only", values[0], r.URL.Path, strings.Join(formats, " or ")))
			return false
		}
	}
	return true
}

func (a *api) ogcLanding(w http.ResponseWriter, r *http.Request) {
	if !checkParams(w, r, jsonOnly) {
		return
	}
	base := baseURL(r) + "/ogc"
	writeJSON(w, http.StatusOK, map[string]any{
		"title":       "clearmap",
		"description": "Cleared poppy and cannabis fields in Pakistan, and the districts they lie in",
		"links": []link{
			{base + passToken(r), "self", "application/json", "This document"},
			{base + "/api" + passToken(r), "service-desc", openAPIType, "The API definition"},
			{base + "/conformance" + passToken(r), "conformance", "application/json", "Conformance classes"},
			{base + "/collections" + passToken(r), "data", "application/json", "The collections"},
		},
	})
}

// conformsTo lists the conformance classes implemented.
var conformsTo = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
	"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
	"http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
	"http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/returnables-and-receivables",
	"http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/queryables",
}

func (a *api) ogcConformance(w http.ResponseWriter, r *http.Request) {
	if !checkParams(w, r, jsonOnly) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conformsTo": conformsTo})
}

// describe is the collection's document: its extent is the data's (the
// counted fields' box and days; the districts' box), read from what is
// kept current, not computed over the features.
func (a *api) describe(r *http.Request, c *collection) (map[string]any, error) {
	db, err := a.Reads.Reader(r.Context(), 0)
	if err != nil {
		return nil, err
	}
	e, err := c.extent(r.Context(), db)
	if err != nil {
		return nil, err
	}
	base := baseURL(r) + "/ogc/collections/" + c.id
	schema := base + "/schema" + passToken(r)
	d := map[string]any{
		"id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
		"crs": []string{crs84}, "storageCrs": crs84,
		"links": []link{
			{base + passToken(r), "self", "application/json", c.title},
			{base + "/items" + passToken(r), "items", geoJSON, c.title + " as GeoJSON"},
			{schema, relSchema, schemaJSON, "The schema of the features"},
			{schema, "describedby", schemaJSON, "The schema of the features"},
			// GDAL 3.6's OAPIF driver looks for this spelling only (link
			// relations are case-insensitive, so it is the same relation).
			{schema, "describedBy", schemaJSON, "The schema of the features"},
			{base + "/queryables" + passToken(r), relQueryables, schemaJSON, "The properties that filter the features"},
		},
	}
	extent := map[string]any{}
	if e.BBox != nil {
		extent["spatial"] = map[string]any{"bbox": [][4]float64{*e.BBox}, "crs": crs84}
	}
	if e.First != nil {
		extent["temporal"] = map[string]any{
			"interval": [][]string{{e.First.Format(time.DateOnly) + "T00:00:00Z", e.Last.Format(time.DateOnly) + "T23:59:59Z"}},
			"trs":      "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
		}
	}
	if len(extent) > 0 {
		d["extent"] = extent
	}
	return d, nil
}

func (a *api) ogcCollections(w http.ResponseWriter, r *http.Request) {
	if !checkParams(w, r, jsonOnly) {
		return
	}
	list := []map[string]any{}
	for i := range collections {
		d, err := a.describe(r, &collections[i])
		if err != nil {
			a.fail(w, r, err)
			return
		}
		list = append(list, d)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"links":       []link{{baseURL(r) + "/ogc/collections" + passToken(r), "self", "application/json", "The collections"}},
		"collections": list,
	})
}

func (a *api) ogcCollection(w http.ResponseWriter, r *http.Request) {
	c := findCollection(w, r)
	if c == nil || !checkParams(w, r, jsonOnly) {
		return
	}
	d, err := a.describe(r, c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// itemParams are the query parameters of .../items.
var itemParams = []string{"limit", "cursor", "bbox", "bbox-crs", "datetime", "crop"}

// ogcItems answers a page of a collection, streamed: each feature is
// written as its row arrives, so a page of 10,000 large fields never sits
// whole in memory. The next link carries a cursor naming the page's last
// feature, so pages cost the same at any depth and a client following them
// gets every feature once, whatever changes meanwhile (see
// features.Cursor).
func (a *api) ogcItems(w http.ResponseWriter, r *http.Request) {
	c := findCollection(w, r)
	if c == nil || !checkParams(w, r, jsonFeatures, itemParams...) {
		return
	}
	q, err := itemsQuery(c.id, r.URL.Query())
	if err != nil {
		badParameter(w, err.Error())
		return
	}
	out := &sentWriter{w: w}
	bw := bufio.NewWriterSize(out, 64<<10)
	sink := &features.Sink{W: bw, Begin: func(p features.Page) error {
		w.Header().Set("Content-Type", geoJSON)
		w.WriteHeader(http.StatusOK)
		bw.WriteString(`{"type":"FeatureCollection",`)
		if p.Counted {
			fmt.Fprintf(bw, `"numberMatched":%d,`, p.Matched)
		}
		_, err := bw.WriteString(`"features":[`)
		return err
	}}
	db, err := a.Reads.Reader(r.Context(), 0)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	page, err := c.list(r.Context(), db, q, sink)
	if err == nil {
		err = a.finishItems(bw, r, c, q, page)
	}
	switch {
	case err == nil:
	case !sink.Begun():
		a.fail(w, r, err)
	case out.err != nil || r.Context().Err() != nil:
		a.Logger.InfoContext(r.Context(), "client closed request", "request_id", infoFrom(r.Context()).id, "err", err)
	default:
		// The status has been sent: end the response short of its close,
		// so the client sees a broken page rather than a whole-looking one.
		a.Logger.ErrorContext(r.Context(), "page cut short", "request_id", infoFrom(r.Context()).id, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// finishItems writes the end of a page: its counts and links.
func (a *api) finishItems(bw *bufio.Writer, r *http.Request, c *collection, q features.Query, page features.Page) error {
	self := baseURL(r) + "/ogc/collections/" + c.id + "/items"
	at := func(cursor string) string {
		v := r.URL.Query()
		v.Set("limit", strconv.Itoa(q.Limit))
		v.Del("cursor")
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		return self + "?" + v.Encode()
	}
	links := []link{
		{at(r.URL.Query().Get("cursor")), "self", geoJSON, "This page"},
		{baseURL(r) + "/ogc/collections/" + c.id + passToken(r), "collection", "application/json", c.title},
	}
	if page.Next != "" {
		links = append(links, link{at(features.Cursor(c.id, page.Next)), "next", geoJSON, "Next page"})
	}
	fmt.Fprintf(bw, `],"numberReturned":%d,"timeStamp":%q,"links":`, page.Returned, time.Now().UTC().Format(time.RFC3339))
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	enc.Encode(links)
	bw.WriteString("}\n")
	return bw.Flush()
}

// sentWriter remembers the first error writing to the client, to tell a
// client that went away from a failure of the page.
type sentWriter struct {
	w   io.Writer
	err error
}

func (s *sentWriter) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

// itemsQuery reads limit, cursor, bbox, bbox-crs, datetime and crop.
func itemsQuery(collection string, v url.Values) (features.Query, error) {
	q := features.Query{Limit: defaultItemLimit}
	var err error
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		var numErr *strconv.NumError
		switch {
		case err == nil && n >= 1:
			q.Limit = min(n, maxItemLimit)
		case errors.As(err, &numErr) && numErr.Err == strconv.ErrRange && !strings.HasPrefix(s, "-"):
			q.Limit = maxItemLimit // a whole number too large for an int is over the maximum too
		default:
			return q, fmt.Errorf("limit=%q: want a whole number from 1 to %d (a larger one reads as %d)", s, maxItemLimit, maxItemLimit)
		}
	}
	if s := v.Get("cursor"); s != "" {
		if q.After, err = features.ParseCursor(collection, s); err != nil {
			return q, fmt.Errorf("cursor=%q: %w", s, err)
		}
	}
	if s := v.Get("bbox"); s != "" {
		if q.Boxes, err = features.ParseBBox(s); err != nil {
			return q, err
		}
	}
	if s := v.Get("bbox-crs"); s != "" && s != crs84 {
		return q, fmt.Errorf("bbox-crs=%q: only %s is supported", s, crs84)
	}
	if s := v.Get("datetime"); s != "" {
		if q.From, q.To, err = features.ParseDatetime(s); err != nil {
			return q, err
		}
	}
	switch q.Crop = v.Get("crop"); q.Crop {
	case "", "poppy", "cannabis":
	default:
		return q, fmt.Errorf("crop=%q: want poppy or cannabis", q.Crop)
	}
	return q, nil
}

func (a *api) ogcItem(w http.ResponseWriter, r *http.Request) {
	c := findCollection(w, r)
	if c == nil || !checkParams(w, r, jsonFeatures) {
		return
	}
	id := chi.URLParam(r, "id")
	db, ok := a.reader(w, r)
	if !ok {
		return
	}
	f, err := c.one(r.Context(), db, id)
	switch {
	case errors.Is(err, features.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no feature %s in %s", id, c.id))
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	base := baseURL(r) + "/ogc/collections/" + c.id
	links, err := json.Marshal([]link{
		{base + "/items/" + url.PathEscape(id) + passToken(r), "self", geoJSON, ""},
		{base + passToken(r), "collection", "application/json", c.title},
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The feature ends with its closing brace: the links go before it.
	f = append(bytes.TrimSuffix(f, []byte("}")), `,"links":`...)
	f = append(append(f, links...), "}\n"...)
	w.Header().Set("Content-Type", geoJSON)
	w.Write(f)
}

// passToken keeps a query-string token on links, for clients that cannot
// send headers.
func passToken(r *http.Request) string {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return "?access_token=" + url.QueryEscape(t)
	}
	return ""
}
