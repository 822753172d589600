package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"clearmap/internal/features"
)

// OGC API - Features Part 1 (Core, GeoJSON, OpenAPI 3.0) under /ogc.

const (
	geoJSON      = "application/geo+json"
	openAPIType  = "application/vnd.oai.openapi+json;version=3.0"
	crs84        = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
	maxItemLimit = 10000
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
	list                   func(*api, *http.Request, features.Query) (features.Page, error)
	one                    func(*api, *http.Request, string) (json.RawMessage, error)
}

var collections = []collection{
	{"clearances", "Cleared fields", "Every counted cleared field, with its crop, date, team and mapped acres",
		func(a *api, r *http.Request, q features.Query) (features.Page, error) {
			return features.Clearances(r.Context(), a.DB, q)
		},
		func(a *api, r *http.Request, id string) (json.RawMessage, error) {
			return features.Clearance(r.Context(), a.DB, id)
		}},
	{"districts", "Districts", "District boundaries with cleared acres under the date and crop filters",
		func(a *api, r *http.Request, q features.Query) (features.Page, error) {
			return features.Districts(r.Context(), a.DB, q)
		},
		func(a *api, r *http.Request, id string) (json.RawMessage, error) {
			return features.District(r.Context(), a.DB, id)
		}},
}

func findCollection(id string) *collection {
	for i := range collections {
		if collections[i].id == id {
			return &collections[i]
		}
	}
	return nil
}

func (a *api) ogcLanding(w http.ResponseWriter, r *http.Request) {
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

func (a *api) ogcConformance(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"conformsTo": []string{
		"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
		"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
		"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
	}})
}

// temporalExtent is the collections' time span: the days fields were
// cleared on (both collections filter by them), open at the end while
// there are none.
func (a *api) temporalExtent(r *http.Request) ([]any, error) {
	first, last, err := features.Dates(r.Context(), a.DB)
	if err != nil || first == nil {
		return []any{nil, nil}, err
	}
	return []any{first.Format(time.DateOnly) + "T00:00:00Z", last.Format(time.DateOnly) + "T23:59:59Z"}, nil
}

func (a *api) describe(r *http.Request, c *collection, interval []any) map[string]any {
	base := baseURL(r) + "/ogc/collections/" + c.id
	return map[string]any{
		"id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
		"crs": []string{crs84},
		"extent": map[string]any{
			"spatial":  map[string]any{"bbox": [][]float64{pakistanBounds}, "crs": crs84},
			"temporal": map[string]any{"interval": [][]any{interval}, "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
		},
		"links": []link{
			{base + passToken(r), "self", "application/json", c.title},
			{base + "/items" + passToken(r), "items", geoJSON, c.title + " as GeoJSON"},
		},
	}
}

func (a *api) ogcCollections(w http.ResponseWriter, r *http.Request) {
	interval, err := a.temporalExtent(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	list := []map[string]any{}
	for i := range collections {
		list = append(list, a.describe(r, &collections[i], interval))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"links":       []link{{baseURL(r) + "/ogc/collections" + passToken(r), "self", "application/json", "The collections"}},
		"collections": list,
	})
}

func (a *api) ogcCollection(w http.ResponseWriter, r *http.Request) {
	c := findCollection(chi.URLParam(r, "collection"))
	if c == nil {
		writeError(w, http.StatusNotFound, "no collection "+chi.URLParam(r, "collection")+": there are clearances and districts")
		return
	}
	interval, err := a.temporalExtent(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.describe(r, c, interval))
}

// ogcItems pages through a collection, with next and prev links, so a client
// such as QGIS can read all of it.
func (a *api) ogcItems(w http.ResponseWriter, r *http.Request) {
	c := findCollection(chi.URLParam(r, "collection"))
	if c == nil {
		writeError(w, http.StatusNotFound, "no collection "+chi.URLParam(r, "collection")+": there are clearances and districts")
		return
	}
	q, err := itemsQuery(r.URL.Query())
	if err != nil {
		badParameter(w, err.Error())
		return
	}
	page, err := c.list(a, r, q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	self := baseURL(r) + "/ogc/collections/" + c.id + "/items"
	at := func(offset int) string {
		v := r.URL.Query()
		v.Set("limit", strconv.Itoa(q.Limit))
		v.Set("offset", strconv.Itoa(offset))
		return self + "?" + v.Encode()
	}
	links := []link{{at(q.Offset), "self", geoJSON, "This page"}}
	if q.Offset+len(page.Features) < page.Matched {
		links = append(links, link{at(q.Offset + q.Limit), "next", geoJSON, "Next page"})
	}
	if q.Offset > 0 {
		links = append(links, link{at(max(q.Offset-q.Limit, 0)), "prev", geoJSON, "Previous page"})
	}
	w.Header().Set("Content-Type", geoJSON)
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(map[string]any{
		"type": "FeatureCollection", "features": page.Features,
		"numberMatched": page.Matched, "numberReturned": len(page.Features),
		"timeStamp": time.Now().UTC().Format(time.RFC3339), "links": links,
	})
}

// itemsQuery reads limit, offset, bbox, datetime and crop.
func itemsQuery(v url.Values) (features.Query, error) {
	q := features.Query{Limit: 10}
	var err error
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 {
			return q, fmt.Errorf("limit=%q: want a whole number from 1 to %d", s, maxItemLimit)
		}
		q.Limit = min(q.Limit, maxItemLimit)
	}
	if s := v.Get("offset"); s != "" {
		if q.Offset, err = strconv.Atoi(s); err != nil || q.Offset < 0 {
			return q, fmt.Errorf("offset=%q: want a whole number, 0 or more", s)
		}
	}
	if s := v.Get("bbox"); s != "" {
		if q.BBox, err = features.ParseBBox(s); err != nil {
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
	c := findCollection(chi.URLParam(r, "collection"))
	if c == nil {
		writeError(w, http.StatusNotFound, "no collection "+chi.URLParam(r, "collection"))
		return
	}
	id := chi.URLParam(r, "id")
	f, err := c.one(a, r, id)
	switch {
	case errors.Is(err, features.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no feature %s in %s", id, c.id))
	case err != nil:
		a.fail(w, r, err)
	default:
		// Members stay as the database wrote them: decoding them would
		// turn numbers into doubles, and a team's 30-digit id with them.
		var feature map[string]json.RawMessage
		if err := json.Unmarshal(f, &feature); err != nil {
			a.fail(w, r, fmt.Errorf("feature %s of %s: %w", id, c.id, err))
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
		feature["links"] = links
		w.Header().Set("Content-Type", geoJSON)
		json.NewEncoder(w).Encode(feature)
	}
}

// passToken keeps a query-string token on links, for clients that cannot
// send headers.
func passToken(r *http.Request) string {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return "?access_token=" + url.QueryEscape(t)
	}
	return ""
}

// ogcAPI is the OpenAPI 3.0 definition of the /ogc endpoints.
func (a *api) ogcAPI(w http.ResponseWriter, r *http.Request) {
	param := func(name, in, desc string, schema map[string]any) map[string]any {
		return map[string]any{"name": name, "in": in, "description": desc, "required": in == "path", "schema": schema}
	}
	str := map[string]any{"type": "string"}
	ok := func(desc, typ string) map[string]any {
		return map[string]any{"200": map[string]any{"description": desc, "content": map[string]any{typ: map[string]any{}}}}
	}
	collection := param("collectionId", "path", "clearances or districts", map[string]any{"type": "string", "enum": []string{"clearances", "districts"}})
	w.Header().Set("Content-Type", openAPIType)
	json.NewEncoder(w).Encode(map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "clearmap OGC API - Features", "version": "1.0.0"},
		"servers": []map[string]string{{"url": baseURL(r) + "/ogc"}},
		"components": map[string]any{"securitySchemes": map[string]any{
			"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			"query":  map[string]any{"type": "apiKey", "in": "query", "name": "access_token"},
		}},
		"security": []map[string][]string{{"bearer": {}}, {"query": {}}},
		"paths": map[string]any{
			"/":            map[string]any{"get": map[string]any{"summary": "Landing page", "responses": ok("Links to the API, conformance and collections", "application/json")}},
			"/api":         map[string]any{"get": map[string]any{"summary": "This definition", "responses": ok("OpenAPI 3.0", openAPIType)}},
			"/conformance": map[string]any{"get": map[string]any{"summary": "Conformance classes", "responses": ok("The classes", "application/json")}},
			"/collections": map[string]any{"get": map[string]any{"summary": "Collections", "responses": ok("clearances and districts", "application/json")}},
			"/collections/{collectionId}": map[string]any{"get": map[string]any{"summary": "One collection",
				"parameters": []any{collection}, "responses": ok("The collection", "application/json")}},
			"/collections/{collectionId}/items": map[string]any{"get": map[string]any{"summary": "Features, paged",
				"parameters": []any{collection,
					param("limit", "query", "features per page (default 10, at most 10000)", map[string]any{"type": "integer", "minimum": 1, "maximum": maxItemLimit, "default": 10}),
					param("offset", "query", "features to skip", map[string]any{"type": "integer", "minimum": 0}),
					param("bbox", "query", "min lon, min lat, max lon, max lat (CRS84)", map[string]any{"type": "array", "minItems": 4, "maxItems": 4, "items": map[string]any{"type": "number"}}),
					param("datetime", "query", "a date or an interval (start/end, .. for open)", str),
					param("crop", "query", "poppy or cannabis", map[string]any{"type": "string", "enum": []string{"poppy", "cannabis"}}),
				},
				"responses": ok("A GeoJSON FeatureCollection with numberMatched, numberReturned and next/prev links", geoJSON)}},
			"/collections/{collectionId}/items/{featureId}": map[string]any{"get": map[string]any{"summary": "One feature",
				"parameters": []any{collection, param("featureId", "path", "a clearance id or a district code", str)},
				"responses":  ok("A GeoJSON Feature", geoJSON)}},
		},
	})
}
