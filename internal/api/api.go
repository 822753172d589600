// Package api is clearmap's HTTP interface: routing, authentication,
// request logging and the handlers.
package api

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/auth"
	"clearmap/internal/basemap"
	"clearmap/internal/ingest"
	"clearmap/internal/metrics"
	"clearmap/internal/store"
	"clearmap/internal/tiles"
	"clearmap/web"
)

// Deps are what the handlers need.
type Deps struct {
	// DB is the primary: writes, sign-ins, tokens and health go there.
	DB *pgxpool.Pool
	// Reads chooses the pool each read route reads from: a standby that
	// has replayed the client's own writes, or DB. Nil: every read goes to
	// DB.
	Reads    *store.Pools
	Migrator *store.Migrator
	Logger   *slog.Logger
	Ingest   *ingest.Service
	// MaxUploadBytes bounds an upload's body; larger ones get 413.
	MaxUploadBytes int64
	// TargetAcres is the national target until a national figure is recorded.
	TargetAcres float64
	// Tiles builds (or remembers) vector tiles.
	Tiles *tiles.Cache
	// Tokens authenticates requests.
	Tokens *auth.Cache
	// Metrics counts requests and uploads, and serves /metrics.
	Metrics *metrics.Metrics
	// UploadsPerMinute bounds each token's uploads; 0 lifts the bound.
	UploadsPerMinute int
	// TrustedProxies are the peers whose X-Forwarded-For, -Proto and -Host
	// headers are believed; no one else's are.
	TrustedProxies []netip.Prefix
	// Basemap is the operator's basemap file, nil when there is none.
	Basemap *basemap.Basemap
	// CORSOrigins are the other web origins ("https://host:port", or "*"
	// for any) whose scripts may call the API with a token; none when empty.
	CORSOrigins []string
}

type api struct {
	Deps
	uploads *limiter
	signIns *failureLimiter
}

// New returns the service's HTTP handler.
func New(d Deps) http.Handler {
	if d.Reads == nil {
		d.Reads = store.NewPools(d.DB, nil, 0)
	}
	a := &api{Deps: d, uploads: newLimiter(d.UploadsPerMinute), signIns: newFailureLimiter(signInBurst, signInRefill, time.Now)}
	r := chi.NewRouter()
	// Every GET route answers HEAD too (net/http sends no body for it).
	// CORS comes before checkInput, so other origins can read its 400s too.
	r.Use(a.logRequests, securityHeaders, cors(d.CORSOrigins, r), checkInput, middleware.GetHead)
	r.NotFound(notFound)
	r.MethodNotAllowed(methodNotAllowed(r))

	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	// Scrapers without a token use the listener MetricsHandler serves.
	r.With(a.authenticate, require(auth.Admin)).Get("/metrics", a.Metrics.Handler().ServeHTTP)
	site := webFiles()
	r.With(webApp("no-cache")).Get("/", site)
	// Asset names carry a hash of their content, so they never change.
	r.With(webApp("public, max-age=31536000, immutable"), middleware.Compress(5, "text/javascript", "text/css")).
		Get("/assets/*", site)

	r.Group(func(r chi.Router) {
		r.Use(a.authenticate, require(auth.Analyst))
		r.Get("/tiles/{z}/{x}/{y}.mvt", a.tile)
		r.Get("/tiles/{z}/{x}/{y}.pbf", a.tile)
		r.Get("/tiles.json", a.tileJSON)
		r.Get("/style.json", a.style)
		r.Get("/basemap.json", a.basemapJSON)
		r.Get("/basemap/{z}/{x}/{y}", a.basemapTile)
		r.Get("/ogc", a.ogcLanding)
		r.Get("/ogc/api", a.ogcAPI)
		r.Get("/ogc/conformance", a.ogcConformance)
		r.Get("/ogc/collections", a.ogcCollections)
		r.Get("/ogc/collections/{collection}", a.ogcCollection)
		r.Get("/ogc/collections/{collection}/schema", a.ogcSchema)
		r.Get("/ogc/collections/{collection}/queryables", a.ogcQueryables)
		r.Get("/ogc/collections/{collection}/items", a.ogcItems)
		r.Get("/ogc/collections/{collection}/items/{id}", a.ogcItem)
	})

	r.Post("/api/v1/session", a.signIn)
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(a.authenticate)
		r.Get("/me", a.me)
		r.Get("/session", a.session)
		r.Delete("/session", a.signOut)
		r.With(require(auth.Uploader), a.limitUploads, a.recordWrites).Post("/uploads", a.postUpload)
		r.Group(func(r chi.Router) {
			r.Use(require(auth.Uploader, auth.Analyst))
			r.Get("/uploads", a.listUploads)
			r.Get("/uploads/{id}", a.getUpload)
			r.Get("/uploads/{id}/raw", a.getUploadRaw)
		})
		r.Group(func(r chi.Router) {
			r.Use(require(auth.Analyst))
			r.Get("/summary", a.summary)
			r.Get("/progress", a.progress)
			r.Get("/districts", a.districts)
			r.Get("/districts/{code}", a.district)
			r.Get("/reported", a.listReported)
		})
		r.Group(func(r chi.Router) {
			r.Use(require(auth.Admin))
			r.Get("/tokens", a.listTokens)
			r.Post("/tokens", a.createToken)
			r.Delete("/tokens/{name}", a.revokeToken)
			r.With(a.recordWrites).Delete("/uploads/{id}", a.retractUpload)
			r.With(a.recordWrites).Post("/reported", a.addReported)
			r.With(a.recordWrites).Delete("/reported/{id}", a.deleteReported)
		})
	})
	return r
}

// notFound answers a request for a path the service does not have.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no such resource: "+r.URL.Path)
}

// methodNotAllowed answers a request whose path routes knows but not its
// method, listing in Allow the methods it does answer (chi sets Allow only
// for its own 405 handler, which this one replaces).
func methodNotAllowed(routes chi.Routes) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			if routes.Match(chi.NewRouteContext(), m, r.URL.Path) ||
				m == http.MethodHead && routes.Match(chi.NewRouteContext(), http.MethodGet, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allowed, ", "))
	}
}

// securityHeaders are sent on every response: the data is sensitive and the
// API is never meant to be framed or sniffed.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets the web app load only its own scripts, styles,
// workers and data: nothing inline, nothing from elsewhere. MapLibre's
// stylesheet draws its control icons from data: URLs.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"worker-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// webApp sets the web app's headers: its Content-Security-Policy and how
// long browsers may keep the file.
func webApp(cacheControl string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
			w.Header().Set("Cache-Control", cacheControl)
			next.ServeHTTP(w, r)
		})
	}
}

// webFiles serves the built web app, with the service's JSON 404 for a
// file it does not have.
func webFiles() http.HandlerFunc {
	files := web.FS()
	serve := http.FileServerFS(files)
	return func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		if _, err := fs.Stat(files, name); err != nil {
			notFound(w, r)
			return
		}
		serve.ServeHTTP(w, r)
	}
}

// decodeBody reads a small JSON object into v. It answers 415 for a body
// that is not application/json (which an HTML form on another site could
// send), and 400, naming the shape wanted, for anything but one object.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, shape string) bool {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%s takes Content-Type: application/json, not %q", r.URL.Path, ct))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = fmt.Errorf("more data after the JSON object, at byte %d", dec.InputOffset())
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON object "+shape+": "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, "application/json", v)
}

func writeJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // a failed write means the client has gone; nothing to tell it
}
