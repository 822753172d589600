package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
)

// CORS: other web apps, on the origins the operator lists, may call the
// API with a token in Authorization. Browser sessions stay same-site: no
// Access-Control-Allow-Credentials is ever sent (so a browser neither sends
// the session cookie on a CORS request nor shows the answer to one that
// did), the cookie is SameSite=Strict, and the session routes answer no CORS
// at all. That is also why "*" is safe to allow: a page of any site can
// read only what the token it already holds can read.

// corsAllowHeaders are the request headers another origin's script may send.
const corsAllowHeaders = "Authorization, Content-Type, Content-Encoding, Idempotency-Key, If-None-Match, X-Request-Id"

// corsExposeHeaders are the response headers its script may read.
const corsExposeHeaders = "ETag, Link, Location, Retry-After, Upload-Truncated, X-Request-Id, Content-Disposition, WWW-Authenticate"

// corsMaxAge is how long, in seconds, a browser may keep a preflight's
// answer (Chromium keeps at most 2 hours).
const corsMaxAge = "7200"

// corsMethods are the methods a preflight may grant, when the route has them.
var corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete}

// cors answers preflights from the allowed origins with 204 and marks the
// answers to their requests readable. With no origins listed it does
// nothing; requests from other origins get no CORS headers, their preflights
// fall through to the router (405).
func cors(origins []string, routes chi.Routes) func(http.Handler) http.Handler {
	anyOrigin := slices.Contains(origins, "*")
	return func(next http.Handler) http.Handler {
		if len(origins) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/session") {
				next.ServeHTTP(w, r) // sessions are for the service's own page
				return
			}
			h := w.Header()
			h.Add("Vary", "Origin") // the answer depends on it, for every request
			origin := r.Header.Get("Origin")
			if origin == "" || !anyOrigin && !slices.Contains(origins, origin) {
				next.ServeHTTP(w, r)
				return
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				var allowed []string
				for _, m := range corsMethods {
					if routes.Match(chi.NewRouteContext(), m, r.URL.Path) ||
						m == http.MethodHead && routes.Match(chi.NewRouteContext(), http.MethodGet, r.URL.Path) {
						allowed = append(allowed, m)
					}
				}
				if len(allowed) == 0 {
					next.ServeHTTP(w, r) // no such resource: 404, no CORS
					return
				}
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", strings.Join(allowed, ", "))
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
				h.Add("Vary", "Access-Control-Request-Method")
				h.Add("Vary", "Access-Control-Request-Headers")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			next.ServeHTTP(w, r)
		})
	}
}
