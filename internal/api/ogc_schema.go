package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"clearmap/internal/features"
)

// Each collection publishes its schema (OGC API - Features Part 5) so that
// GIS clients read declared types instead of guessing them from a page of
// values (GDAL types a property that is null on its first page as text).

// object is a JSON object that keeps its members in order: GDAL makes a
// layer's fields in the order the schema lists them.
type object []kv

type kv struct {
	k string
	v any
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := enc.Encode(m.k); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		b.WriteByte(':')
		if err := enc.Encode(m.v); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// propertySchema is a property's JSON Schema. A nullable property has its
// one type all the same (GDAL 3.6 reads a type list as text), and says in
// its description that it may be null.
func propertySchema(p features.Property) object {
	o := object{{"title", p.Title}}
	if p.Nullable {
		o = append(o, kv{"description", "null when not known"})
	}
	o = append(o, kv{"type", p.Type})
	if p.Format != "" {
		o = append(o, kv{"format", p.Format})
	}
	if len(p.Enum) > 0 {
		o = append(o, kv{"enum", p.Enum})
	}
	if p.Role != "" {
		o = append(o, kv{"x-ogc-role", p.Role})
	}
	if p.Unit != "" {
		o = append(o, kv{"x-ogc-unit", p.Unit})
	}
	return o
}

// collectionSchema is the collection's schema (Part 5 "returnables"): the
// logical feature, with its id, geometry and properties side by side. The
// allOf states the same types for the GeoJSON encoding, where the
// properties sit in a Feature's "properties" member: GDAL 3.6's OAPIF
// driver reads a schema of that shape, and reads allOf before properties.
// For the logical feature, which has no member called "properties", the
// allOf adds no constraint.
func collectionSchema(r *http.Request, c *collection) object {
	props := object{
		{"id", object{{"title", "Feature id"}, {"type", c.idType}, {"x-ogc-role", "id"}, {"readOnly", true}}},
		{"geometry", object{{"x-ogc-role", "primary-geometry"}, {"format", "geometry-multipolygon"}}},
	}
	encoded := object{}
	required := []string{"id", "geometry"}
	for _, p := range c.properties {
		props = append(props, kv{p.Name, propertySchema(p)})
		encoded = append(encoded, kv{p.Name, propertySchema(p)})
		if !p.Nullable {
			required = append(required, p.Name)
		}
	}
	return object{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", baseURL(r) + "/ogc/collections/" + c.id + "/schema"},
		{"title", c.title},
		{"description", c.description},
		{"type", "object"},
		{"required", required},
		{"properties", props},
		{"allOf", []object{{
			{"description", "As GeoJSON: a Feature whose properties member holds the properties"},
			{"type", "object"},
			{"properties", object{{"properties", object{{"type", "object"}, {"properties", encoded}}}}},
		}}},
	}
}

func (a *api) ogcSchema(w http.ResponseWriter, r *http.Request) {
	c := findCollection(w, r)
	if c == nil || !checkParams(w, r, jsonOnly) {
		return
	}
	writeJSONAs(w, http.StatusOK, schemaJSON, collectionSchema(r, c))
}

// ogcQueryables lists the properties that filter the collection's items,
// each as a query parameter of its name (Part 3 "queryables as query
// parameters"); bbox and datetime filter by geometry and date.
func (a *api) ogcQueryables(w http.ResponseWriter, r *http.Request) {
	c := findCollection(w, r)
	if c == nil || !checkParams(w, r, jsonOnly) {
		return
	}
	props := object{}
	for _, p := range c.properties {
		if features.Queryable(c.id, p) {
			props = append(props, kv{p.Name, propertySchema(p)})
		}
	}
	writeJSONAs(w, http.StatusOK, schemaJSON, object{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", baseURL(r) + "/ogc/collections/" + c.id + "/queryables"},
		{"title", c.title},
		{"type", "object"},
		{"properties", props},
		{"additionalProperties", false},
	})
}

// ogcAPI is the OpenAPI 3.0 definition of the /ogc endpoints, with the
// problem details every error answers with.
func (a *api) ogcAPI(w http.ResponseWriter, r *http.Request) {
	if !checkParams(w, r, jsonOnly) {
		return
	}
	param := func(name, in, desc string, schema map[string]any) map[string]any {
		p := map[string]any{"name": name, "in": in, "description": desc, "required": in == "path", "schema": schema}
		if in == "query" {
			p["style"], p["explode"] = "form", false
		}
		return p
	}
	str := map[string]any{"type": "string"}
	f := func(formats []string) map[string]any {
		return param("f", "query", "the format; JSON is the only one", map[string]any{"type": "string", "enum": formats})
	}
	ref := func(name string) map[string]any { return map[string]any{"$ref": "#/components/responses/" + name} }
	answers := func(desc, typ string, errs ...string) map[string]any {
		a := map[string]any{"200": map[string]any{"description": desc, "content": map[string]any{typ: map[string]any{}}}}
		for _, e := range append([]string{"400", "401", "500", "503"}, errs...) {
			a[e] = ref(e)
		}
		return a
	}
	get := func(summary string, params []any, responses map[string]any) map[string]any {
		op := map[string]any{"summary": summary, "responses": responses}
		if len(params) > 0 {
			op["parameters"] = params
		}
		return map[string]any{"get": op}
	}
	collection := param("collectionId", "path", "clearances or districts", map[string]any{"type": "string", "enum": []string{"clearances", "districts"}})
	problem := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{
			"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	}
	unavailable := problem("the database cannot be reached or timed out, or the server is shutting down; retry after Retry-After")
	unavailable["headers"] = map[string]any{"Retry-After": map[string]any{"description": "seconds to wait", "schema": map[string]any{"type": "integer"}}}
	w.Header().Set("Content-Type", openAPIType)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "clearmap OGC API - Features", "version": "1.0.0"},
		"servers": []map[string]string{{"url": baseURL(r) + "/ogc"}},
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"query":  map[string]any{"type": "apiKey", "in": "query", "name": "access_token"},
			},
			"schemas": map[string]any{"Problem": map[string]any{
				"type":        "object",
				"description": "RFC 9457 problem details",
				"required":    []string{"type", "title", "status", "detail"},
				"properties": map[string]any{
					"type":   map[string]any{"type": "string", "description": "a URI reference naming the class of problem"},
					"title":  map[string]any{"type": "string"},
					"status": map[string]any{"type": "integer"},
					"detail": map[string]any{"type": "string", "description": "what is wrong, naming the parameter"},
				},
			}},
			"responses": map[string]any{
				"400": problem("a query parameter is unknown, given twice, or has a value that is not allowed; detail names it"),
				"401": problem("no valid token"),
				"404": problem("no such collection or feature"),
				"500": problem("a bug; detail gives the request id"),
				"503": unavailable,
			},
		},
		"security": []map[string][]string{{"bearer": {}}, {"query": {}}},
		"paths": map[string]any{
			"/":            get("Landing page", []any{f(jsonOnly)}, answers("Links to the API, conformance and collections", "application/json")),
			"/api":         get("This definition", []any{f(jsonOnly)}, answers("OpenAPI 3.0", openAPIType)),
			"/conformance": get("Conformance classes", []any{f(jsonOnly)}, answers("The classes", "application/json")),
			"/collections": get("Collections", []any{f(jsonOnly)}, answers("clearances and districts", "application/json")),
			"/collections/{collectionId}": get("One collection", []any{collection, f(jsonOnly)},
				answers("The collection, with the extent of its data", "application/json", "404")),
			"/collections/{collectionId}/schema": get("The schema of the collection's features", []any{collection, f(jsonOnly)},
				answers("JSON Schema", schemaJSON, "404")),
			"/collections/{collectionId}/queryables": get("The properties that filter the collection's items", []any{collection, f(jsonOnly)},
				answers("JSON Schema", schemaJSON, "404")),
			"/collections/{collectionId}/items": get("Features, a page at a time", []any{collection,
				param("limit", "query", "features per page; a larger number reads as the maximum",
					map[string]any{"type": "integer", "minimum": 1, "maximum": maxItemLimit, "default": defaultItemLimit}),
				param("cursor", "query", "where the page starts: from the next link of the page before", str),
				param("bbox", "query", "min lon, min lat, max lon, max lat (CRS84), or six numbers with heights; min lon above max lon crosses the antimeridian",
					map[string]any{"type": "array", "minItems": 4, "maxItems": 6, "items": map[string]any{"type": "number"}}),
				param("bbox-crs", "query", "the CRS of bbox", map[string]any{"type": "string", "enum": []string{crs84}}),
				param("datetime", "query", "a date, an RFC 3339 time, or an interval of them (start/end, .. for an open end)", str),
				param("crop", "query", "poppy or cannabis (for districts: the crop their figures count)", map[string]any{"type": "string", "enum": []string{"poppy", "cannabis"}}),
				f(jsonFeatures),
			}, answers("A GeoJSON FeatureCollection with numberReturned, numberMatched where cheap, and a next link while more follow", geoJSON, "404")),
			"/collections/{collectionId}/items/{featureId}": get("One feature", []any{collection,
				param("featureId", "path", "a clearance id or a district code", str), f(jsonFeatures)},
				answers("A GeoJSON Feature", geoJSON, "404")),
		},
	})
}
