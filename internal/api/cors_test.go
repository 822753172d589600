package api_test

import (
	"slices"
	"strings"
	"testing"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// corsHeaders are the CORS response headers, for checking that none is sent.
var corsHeaders = []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
	"Access-Control-Max-Age", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials"}

func noCORS(t *testing.T, what string, r response) {
	t.Helper()
	for _, h := range corsHeaders {
		if v := r.header.Get(h); v != "" {
			t.Errorf("%s: %s: %s, want no CORS header", what, h, v)
		}
	}
}

func TestCORS(t *testing.T) {
	const app = "https://dash.example"
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.CORSOrigins = []string{app, "http://localhost:3000"} })
	analyst := createToken(t, s, "analyst", auth.Analyst)
	admin := createToken(t, s, "admin", auth.Admin)

	// A request from an allowed origin can be read, with its ETag and
	// request id; the answer varies by Origin (and, for tiles, encoding).
	r := s.send(t, "GET", "/tiles/10/0/0.mvt", analyst, nil, "Origin", app, "Accept-Encoding", "gzip")
	expose := strings.Split(r.header.Get("Access-Control-Expose-Headers"), ", ")
	vary := r.header.Values("Vary")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != app || r.header.Get("Access-Control-Allow-Credentials") != "" ||
		!slices.Contains(vary, "Origin") || !slices.Contains(vary, "Accept-Encoding") || r.header.Get("ETag") == "" {
		t.Fatalf("tile from %s: %d %v", app, r.status, r.header)
	}
	for _, h := range []string{"ETag", "Link", "Retry-After", "Upload-Truncated", "X-Request-Id", "Location"} {
		if !slices.Contains(expose, h) {
			t.Errorf("Access-Control-Expose-Headers %v lacks %s", expose, h)
		}
	}
	// Errors are readable too: the app can show why.
	r = s.send(t, "GET", "/api/v1/summary", "", nil, "Origin", app)
	if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("401 from %s: %d %v", app, r.status, r.header)
	}

	// Preflights: 204 without a token, the route's methods, the headers a
	// token-carrying script needs, cached for a while.
	preflight := func(origin, path, method string) response {
		return s.send(t, "OPTIONS", path, "", nil, "Origin", origin, "Access-Control-Request-Method", method,
			"Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
	}
	for path, methods := range map[string]string{
		"/api/v1/uploads":          "GET, HEAD, POST",
		"/api/v1/uploads/7":        "GET, HEAD, DELETE",
		"/api/v1/tokens/team-a":    "DELETE",
		"/tiles/5/22/13.mvt":       "GET, HEAD",
		"/ogc/collections":         "GET, HEAD",
		"/api/v1/reported/3":       "DELETE",
		"/healthz":                 "GET, HEAD",
		"/api/v1/districts/PK-KP-": "GET, HEAD",
	} {
		r := preflight("http://localhost:3000", path, "POST")
		allowHeaders := strings.Split(r.header.Get("Access-Control-Allow-Headers"), ", ")
		if r.status != 204 || r.body != "" || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
			r.header.Get("Access-Control-Allow-Methods") != methods || r.header.Get("Access-Control-Max-Age") != "7200" ||
			r.header.Get("Access-Control-Allow-Credentials") != "" || !slices.Contains(r.header.Values("Vary"), "Origin") {
			t.Errorf("preflight %s: %d %q %v", path, r.status, r.body, r.header)
		}
		for _, h := range []string{"Authorization", "Content-Type", "Idempotency-Key", "If-None-Match"} {
			if !slices.Contains(allowHeaders, h) {
				t.Errorf("preflight %s: Access-Control-Allow-Headers %v lacks %s", path, allowHeaders, h)
			}
		}
	}
	// The preflight allowed, the request itself still needs its token.
	createToken(t, s, "victim", auth.Analyst)
	r = s.send(t, "DELETE", "/api/v1/tokens/victim", "", nil, "Origin", app)
	if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("DELETE without a token: %d %v", r.status, r.header)
	}
	if r := s.send(t, "DELETE", "/api/v1/tokens/victim", admin, nil, "Origin", app); r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("DELETE with a token: %d %v", r.status, r.header)
	}

	// Other origins, a path the service lacks, and the session routes get
	// no CORS: preflights fall through to the router, which answers 405
	// (401 under /api/v1, which authenticates before it routes; 404 for a
	// path it lacks).
	for _, c := range []struct {
		origin, path string
		status       int
	}{
		{"https://evil.example", "/api/v1/uploads", 401},
		{"https://dash.example.evil.example", "/tiles/5/22/13.mvt", 405},
		{"http://dash.example", "/healthz", 405}, // another scheme is another origin
		{"https://dash.example:8443", "/api/v1/summary", 401},
		{"null", "/tiles.json", 405},
		{app, "/no/such/thing", 404},
		{app, "/api/v1/session", 401},
	} {
		r := preflight(c.origin, c.path, "GET")
		if r.status != c.status {
			t.Errorf("preflight from %s to %s: %d, want %d", c.origin, c.path, r.status, c.status)
		}
		noCORS(t, "preflight from "+c.origin+" to "+c.path, r)
	}
	r = s.send(t, "GET", "/api/v1/summary", analyst, nil, "Origin", "https://evil.example")
	if r.status != 200 {
		t.Fatalf("summary from another origin: %d", r.status)
	}
	noCORS(t, "GET from another origin", r)
	// Sign-in stays the service's own page's: no CORS, and refused.
	r = s.send(t, "POST", "/api/v1/session", "", []byte(`{"token":"`+analyst+`"}`), "Origin", app, "Content-Type", "application/json")
	if r.status != 403 {
		t.Fatalf("sign-in from %s: %d", app, r.status)
	}
	noCORS(t, "sign-in from "+app, r)
}

func TestCORSOffByDefault(t *testing.T) {
	s := start(t, testdb.WithBoundaries(t))
	analyst := createToken(t, s, "analyst", auth.Analyst)
	r := s.send(t, "GET", "/api/v1/summary", analyst, nil, "Origin", "https://dash.example")
	if r.status != 200 || slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Fatalf("GET: %d %v", r.status, r.header)
	}
	noCORS(t, "GET with no origins configured", r)
	r = s.send(t, "OPTIONS", "/tiles.json", "", nil, "Origin", "https://dash.example", "Access-Control-Request-Method", "GET")
	if r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	noCORS(t, "preflight with no origins configured", r)
}

func TestCORSAnyOrigin(t *testing.T) {
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.CORSOrigins = []string{"*"} })
	analyst := createToken(t, s, "analyst", auth.Analyst)
	for _, origin := range []string{"https://a.example", "http://localhost:5173"} {
		r := s.send(t, "GET", "/tiles.json", analyst, nil, "Origin", origin)
		// The origin is echoed, never "*" with credentials, and no
		// credentials are allowed at all.
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != origin || r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("%s: %d %v", origin, r.status, r.header)
		}
	}
	// A tool sending no Origin gets no CORS headers, just Vary.
	r := s.send(t, "GET", "/tiles.json", analyst, nil)
	if !slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Fatalf("no Vary: Origin: %v", r.header)
	}
	noCORS(t, "no Origin", r)
}
