package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"clearmap/geodata"
	"clearmap/internal/tiles"
)

// tile serves /tiles/{z}/{x}/{y}.mvt (and .pbf): 400 out of range, gzip when
// accepted, ETag and 304. An empty tile is 200 with an empty body, which
// QGIS, GDAL and MapLibre all draw as nothing (QGIS draws a 204 as a white
// box); it is never gzipped, as a gzip stream of nothing is not empty.
func (a *api) tile(w http.ResponseWriter, r *http.Request) {
	c, err := parseTile(chi.URLParam(r, "z"), chi.URLParam(r, "x"), chi.URLParam(r, "y"))
	if err != nil {
		badParameter(w, err.Error())
		return
	}
	f, ok := a.filter(w, r)
	if !ok {
		return
	}
	tile, err := a.Tiles.Tile(r.Context(), c, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "private, no-cache") // revalidate: figures change with every upload
	h.Add("Vary", "Accept-Encoding")            // after cors's Origin
	body, etag := tile.MVT, tile.ETag
	gz := len(body) > 0 && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
	if gz {
		// A different representation needs its own strong ETag.
		etag = etag[:len(etag)-1] + `-gz"`
	}
	h.Set("ETag", etag)
	if noneMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/vnd.mapbox-vector-tile")
	if gz {
		body = tile.Gzipped()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// parseTile reads a tile's address from its path segments.
func parseTile(z, x, y string) (tiles.Coordinate, error) {
	var c tiles.Coordinate
	for _, p := range []struct {
		text string
		dst  *int
	}{{z, &c.Z}, {x, &c.X}, {y, &c.Y}} {
		var err error
		if *p.dst, err = strconv.Atoi(p.text); err != nil {
			return c, errors.New("tile coordinates must be whole numbers: /tiles/{z}/{x}/{y}.mvt")
		}
	}
	if !c.Valid() {
		return c, errors.New("no such tile: z must be 0 to 22, and x and y 0 to 2^z - 1")
	}
	return c, nil
}

// passOn keeps the query values a tile URL must carry: the filters, and a
// token given in the query (GIS tools that cannot set headers).
func passOn(r *http.Request) string {
	q := url.Values{}
	for _, k := range []string{"crop", "from", "to", "access_token"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// Pakistan's extent, from geodata/SOURCE.md §5.
var pakistanBounds = []float64{60.872855, 24.051648, 77.120391, 37.091675}

// tileJSON describes the tiles (TileJSON 3.0.0).
func (a *api) tileJSON(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.filter(w, r); !ok {
		return
	}
	field := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tilejson":    "3.0.0",
		"name":        "clearmap",
		"description": "Cleared poppy and cannabis fields in Pakistan, and cleared acres per district",
		"scheme":      "xyz",
		"tiles":       []string{baseURL(r) + "/tiles/{z}/{x}/{y}.mvt" + passOn(r)},
		"minzoom":     tiles.MinZoom,
		"maxzoom":     16,
		"bounds":      pakistanBounds,
		"center":      []float64{69.3, 30.4, 5},
		"attribution": geodata.Attribution,
		"vector_layers": []map[string]any{
			{"id": "provinces", "description": "Province outlines", "minzoom": 0, "maxzoom": 16,
				"fields": field("code", "String", "name", "String")},
			{"id": "districts", "description": "District boundaries with cleared acres under the filters", "minzoom": 0, "maxzoom": 16,
				"fields": field("code", "String", "name", "String", "province", "String", "acres", "Number",
					"acres_poppy", "Number", "acres_cannabis", "Number", "fields", "Number")},
			// A field's id is its MVT feature id, not an attribute.
			{"id": "clearances", "description": "Cleared fields (feature id the clearance's id): polygons from zoom 10, points below", "minzoom": 0, "maxzoom": 16,
				"fields": field("crop", "String", "cleared_on", "String", "acres", "Number",
					"team", "String", "upload_id", "Number")},
			{"id": "places", "description": "Populated places (GeoNames; feature id the GeoNames id): below zoom 6 those of 500,000 people or more, below zoom 8 of 100,000 or more, all from zoom 8; the capitals at every zoom. kind is national_capital, provincial_capital, district_seat or town",
				"minzoom": 0, "maxzoom": 16,
				"fields": field("name", "String", "population", "Number", "kind", "String")},
			{"id": "labels", "description": "Where to write province names (every zoom) and district names (from zoom " + strconv.Itoa(tiles.DistrictLabelZoom) + "): a point well inside each. kind is province or district",
				"minzoom": 0, "maxzoom": 16,
				"fields": field("name", "String", "kind", "String", "code", "String")},
			{"id": "rivers", "description": "Rivers and canals in Pakistan (GSHHG). level is GMT's river level: 0 river-lakes, 1-4 permanent rivers (major to minor), 5-7 intermittent, 8-10 canals; below zoom 6 levels 0-2, below zoom 8 levels 0-5, all from zoom 8",
				"minzoom": 0, "maxzoom": 16,
				"fields": field("level", "Number")},
		},
	})
}

// style is a MapLibre style on the service's own tiles: the district
// choropleth, rivers, the fields coloured by crop, and the names of places,
// districts and provinces. It names no glyphs or sprites, so it works with
// no internet: GL clients draw the labels' text with a local font.
//
// It is written for QGIS's converter (3.22 and later) as much as for
// MapLibre: that converter drops data-driven `interpolate`, `step` and
// `case` over feature properties, misreads legacy property functions as
// zoom functions, and ignores data-driven circle colours. So every colour
// or size that depends on a property is a layer per class, selected by a
// filter (which QGIS turns into the style's filter expression) with a
// constant paint; only zoom drives interpolation.
func (a *api) style(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.filter(w, r); !ok {
		return
	}
	font := []string{"Noto Sans Regular"}
	halo := map[string]any{"text-color": "#333333", "text-halo-color": "#ffffff", "text-halo-width": 1.2}
	layers := []map[string]any{
		{"id": "background", "type": "background", "paint": map[string]any{"background-color": "#f4f1ea"}},
	}
	// The choropleth: cleared acres in classes, from under 10 to 10,000
	// and more.
	for i, c := range choropleth {
		filter := []any{">=", []any{"get", "acres"}, c.from}
		if i+1 < len(choropleth) {
			filter = []any{"all", filter, []any{"<", []any{"get", "acres"}, choropleth[i+1].from}}
		}
		layers = append(layers, map[string]any{"id": "districts-fill-" + strconv.Itoa(c.from), "type": "fill",
			"source": "clearmap", "source-layer": "districts", "filter": filter,
			"paint": map[string]any{"fill-color": c.colour, "fill-opacity": 0.75}})
	}
	// Rivers: the double-lined and major ones (levels 0-2) wider. Two layers,
	// as QGIS drops a case inside a zoom interpolation.
	river := func(id string, filter []any, at5, at10 float64) map[string]any {
		return map[string]any{"id": id, "type": "line", "source": "clearmap", "source-layer": "rivers", "filter": filter,
			"layout": map[string]any{"line-cap": "round", "line-join": "round"},
			"paint": map[string]any{"line-color": "#5b9bd5",
				"line-width": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 5, at5, 10, at10}}}
	}
	layers = append(layers,
		river("rivers", []any{">", []any{"get", "level"}, 2}, 0.4, 1),
		river("rivers-major", []any{"<=", []any{"get", "level"}, 2}, 1, 2.5),
		map[string]any{"id": "districts-line", "type": "line", "source": "clearmap", "source-layer": "districts",
			"paint": map[string]any{"line-color": "#6d6d6d", "line-width": 0.6}},
		map[string]any{"id": "provinces-line", "type": "line", "source": "clearmap", "source-layer": "provinces",
			"paint": map[string]any{"line-color": "#333333", "line-width": 1.6}})
	// The fields, a layer per crop: points below PolygonZoom, polygons from it.
	for _, crop := range []struct{ name, colour string }{{"poppy", "#c2185b"}, {"cannabis", "#2e7d32"}} {
		isCrop := []any{"==", []any{"get", "crop"}, crop.name}
		layers = append(layers,
			map[string]any{"id": "clearances-points-" + crop.name, "type": "circle", "source": "clearmap", "source-layer": "clearances",
				"maxzoom": tiles.PolygonZoom, "filter": []any{"all", []any{"==", []any{"geometry-type"}, "Point"}, isCrop},
				"paint": map[string]any{"circle-color": crop.colour, "circle-radius": 2.5, "circle-opacity": 0.8}},
			map[string]any{"id": "clearances-fill-" + crop.name, "type": "fill", "source": "clearmap", "source-layer": "clearances",
				"minzoom": tiles.PolygonZoom, "filter": []any{"all", []any{"==", []any{"geometry-type"}, "Polygon"}, isCrop},
				"paint": map[string]any{"fill-color": crop.colour, "fill-opacity": 0.6, "fill-outline-color": "#222222"}})
	}
	// Places of a million people or more, and the capitals, are cities: a
	// bigger dot and name.
	// (Comparisons joined by any and all: QGIS drops "in" and "!".)
	city := []any{"any", []any{">=", []any{"get", "population"}, 1000000},
		[]any{"==", []any{"get", "kind"}, "national_capital"}, []any{"==", []any{"get", "kind"}, "provincial_capital"}}
	town := []any{"all", []any{"<", []any{"get", "population"}, 1000000},
		[]any{"!=", []any{"get", "kind"}, "national_capital"}, []any{"!=", []any{"get", "kind"}, "provincial_capital"}}
	placeLabel := func(id string, filter []any, size []any) map[string]any {
		return map[string]any{"id": id, "type": "symbol", "source": "clearmap", "source-layer": "places", "filter": filter,
			"layout": map[string]any{"text-field": []any{"get", "name"}, "text-font": font, "text-max-width": 8,
				// Within a layer the capitals, then bigger places, are
				// placed first, so they win a collision (Islamabad over
				// Rawalpindi).
				"symbol-sort-key": []any{"-", []any{"+", []any{"get", "population"},
					[]any{"match", []any{"get", "kind"}, "national_capital", 2e8, "provincial_capital", 1e8, 0}}},
				"text-size":            size,
				"text-variable-anchor": []string{"left", "right", "top", "bottom"}, "text-radial-offset": 0.6},
			"paint": halo}
	}
	dot := func(id string, filter []any, radius float64) map[string]any {
		return map[string]any{"id": id, "type": "circle", "source": "clearmap", "source-layer": "places", "filter": filter,
			"paint": map[string]any{"circle-color": "#333333", "circle-stroke-color": "#ffffff", "circle-stroke-width": 1,
				"circle-radius": radius}}
	}
	zoomSize := func(at5, at10 float64) []any {
		return []any{"interpolate", []any{"linear"}, []any{"zoom"}, 5, at5, 10, at10}
	}
	layers = append(layers,
		// Symbols later in this list are placed first: provinces, then
		// cities, towns, and districts last.
		map[string]any{"id": "labels-districts", "type": "symbol", "source": "clearmap", "source-layer": "labels",
			"minzoom": tiles.DistrictLabelZoom, "filter": []any{"==", []any{"get", "kind"}, "district"},
			"layout": map[string]any{"text-field": []any{"get", "name"}, "text-font": font, "text-max-width": 7,
				"text-size": zoomSize(10, 14)},
			"paint": map[string]any{"text-color": "#555555", "text-halo-color": "#ffffff", "text-halo-width": 1}},
		dot("places-dot", town, 2.5),
		dot("places-dot-cities", city, 4),
		placeLabel("places", town, zoomSize(10, 12)),
		placeLabel("places-cities", city, zoomSize(13, 16)),
		map[string]any{"id": "labels-provinces", "type": "symbol", "source": "clearmap", "source-layer": "labels",
			"filter": []any{"==", []any{"get", "kind"}, "province"},
			"layout": map[string]any{"text-field": []any{"get", "name"}, "text-font": font, "text-max-width": 8,
				"text-transform": "uppercase", "text-letter-spacing": 0.1,
				"text-size": []any{"interpolate", []any{"linear"}, []any{"zoom"}, 3, 10, 8, 16}},
			"paint": halo})
	writeJSON(w, http.StatusOK, map[string]any{
		"version": 8,
		"name":    "clearmap",
		"center":  []float64{69.3, 30.4},
		"zoom":    5,
		"sources": map[string]any{
			"clearmap": map[string]any{"type": "vector", "url": baseURL(r) + "/tiles.json" + passOn(r)},
		},
		"layers": layers,
	})
}

// choropleth are the classes of the districts' cleared acres: each from
// its lower bound to the next one's.
var choropleth = []struct {
	from   int
	colour string
}{{0, "#fff7ec"}, {10, "#fdd49e"}, {100, "#fc8d59"}, {1000, "#d7301f"}, {10000, "#7f0000"}}

// noneMatch says whether an If-None-Match header matches etag, a strong
// entity tag: "*", or a list holding etag under weak comparison (RFC 9110
// §13.1.2), so that a cache which weakened the tag still gets its 304.
func noneMatch(header, etag string) bool {
	if strings.TrimSpace(header) == "*" {
		return true
	}
	for _, tag := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == etag {
			return true
		}
	}
	return false
}
