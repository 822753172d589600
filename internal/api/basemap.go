package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// noBasemap answers a basemap route on a server started without one.
func noBasemap(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "no basemap: this server was started without CLEARMAP_BASEMAP")
}

// basemapJSON describes the operator's basemap (TileJSON 3.0.0): its tile
// URL (with the file's extension), zooms, bounds, attribution, and for
// vector tiles their layers. `format` (mvt, png, jpg, webp, avif) and, for
// raster tiles, `tileSize` in pixels tell a client how to draw it.
func (a *api) basemapJSON(w http.ResponseWriter, r *http.Request) {
	b := a.Basemap
	if b == nil {
		noBasemap(w)
		return
	}
	token := ""
	if v := r.URL.Query().Get("access_token"); v != "" {
		token = "?" + url.Values{"access_token": {v}}.Encode()
	}
	name := b.Name
	if name == "" {
		name = "basemap"
	}
	tj := map[string]any{
		"tilejson":    "3.0.0",
		"name":        name,
		"description": b.Description,
		"scheme":      "xyz",
		"tiles":       []string{baseURL(r) + "/basemap/{z}/{x}/{y}." + string(b.Type) + token},
		"minzoom":     b.MinZoom,
		"maxzoom":     b.MaxZoom,
		"attribution": b.Attribution,
		"format":      b.Type,
	}
	if b.Bounds != nil {
		tj["bounds"] = b.Bounds
	}
	if b.Center != nil {
		tj["center"] = b.Center
	}
	if b.Type.Vector() {
		layers := b.VectorLayers
		if layers == nil {
			layers = []json.RawMessage{}
		}
		tj["vector_layers"] = layers
	} else {
		tj["tileSize"] = b.TileSize
	}
	writeJSON(w, http.StatusOK, tj)
}

// basemapTile serves /basemap/{z}/{x}/{y}, with or without the extension
// of the file's tiles (.mvt or .pbf, .png, .jpg or .jpeg, .webp, .avif):
// the stored tile, 200 with an empty body where the file has none, 400
// outside the file's zooms or the zoom's grid. Tiles stored gzipped are
// sent so to clients that accept gzip, and decompressed for others.
// ETag and 304 as for /tiles.
func (a *api) basemapTile(w http.ResponseWriter, r *http.Request) {
	b := a.Basemap
	if b == nil {
		noBasemap(w)
		return
	}
	yText, ext, hasExt := strings.Cut(chi.URLParam(r, "y"), ".")
	if hasExt && !b.Type.Extension(ext) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("the basemap's tiles are %s: /basemap/{z}/{x}/{y}.%s", b.Type, b.Type))
		return
	}
	var zxy [3]int
	for i, text := range []string{chi.URLParam(r, "z"), chi.URLParam(r, "x"), yText} {
		n, err := strconv.Atoi(text)
		if err != nil {
			badParameter(w, "tile coordinates must be whole numbers: /basemap/{z}/{x}/{y}."+string(b.Type))
			return
		}
		zxy[i] = n
	}
	z, x, y := zxy[0], zxy[1], zxy[2]
	if !b.Covers(z, x, y) {
		badParameter(w, fmt.Sprintf("no such basemap tile: z must be %d to %d, and x and y 0 to 2^z - 1", b.MinZoom, b.MaxZoom))
		return
	}
	tile, err := b.Tile(r.Context(), z, x, y)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "private, no-cache")
	h.Add("Vary", "Accept-Encoding") // after cors's Origin
	h.Set("Content-Type", b.Type.ContentType())
	if len(tile.Data) == 0 {
		// Not 404, which MapLibre reports as an error, nor 204, which
		// QGIS draws as a white box.
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	body, etag := tile.Data, tile.ETag
	gz := tile.Gzipped && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
	if gz {
		etag = etag[:len(etag)-1] + `-gz"`
	}
	h.Set("ETag", etag)
	if noneMatch(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
	} else if tile.Gzipped {
		if body, err = tile.Gunzip(); err != nil {
			a.fail(w, r, fmt.Errorf("basemap tile %d/%d/%d: %w", z, x, y, err))
			return
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
