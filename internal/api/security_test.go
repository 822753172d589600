package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/metrics"
	"clearmap/internal/store"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

// public are the routes anyone may call.
var public = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /": true, "GET /assets/*": true,
	"POST /api/v1/session": true,
}

// routes lists every route the router knows, with its URL parameters
// filled in.
func routes(t *testing.T, s *service) (list []struct{ method, pattern, path string }) {
	t.Helper()
	param := regexp.MustCompile(`\{[^}]+\}`)
	err := chi.Walk(s.handler.(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		path := param.ReplaceAllStringFunc(pattern, func(p string) string {
			if v, ok := map[string]string{"{collection}": "clearances", "{z}": "3", "{x}": "5", "{y}": "3"}[p]; ok {
				return v
			}
			return "1" // ids, codes, names
		})
		list = append(list, struct{ method, pattern, path string }{method, pattern, strings.ReplaceAll(path, "*", "x")})
		return nil
	})
	if err != nil || len(list) < 30 {
		t.Fatalf("walked %d routes, %v", len(list), err)
	}
	return list
}

func TestEveryRouteNeedsATokenAndItsRole(t *testing.T) {
	s, tokens := uploadService(t)
	for _, r := range routes(t, s) {
		key := r.method + " " + r.pattern
		if public[key] {
			continue
		}
		t.Run(key, func(t *testing.T) {
			wantError(t, s.do(t, r.method, r.path, "", ""), 401, "a token is required")
			wantError(t, s.do(t, r.method, r.path, "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""), 401, "token not recognised")
			// Every state-changing route refuses the read-only role; those
			// for admins refuse uploaders too.
			if r.method != "GET" && r.pattern != "/api/v1/session" {
				wantError(t, s.do(t, r.method, r.path, tokens[auth.Analyst], ""), 403, "the analyst role may not do this")
				if r.pattern != "/api/v1/uploads" {
					wantError(t, s.do(t, r.method, r.path, tokens[auth.Uploader], ""), 403, "the uploader role may not do this")
				}
			}
		})
	}
	// /metrics on the service's port is for admins, even from this machine:
	// behind a reverse proxy on the same host every client is local.
	wantError(t, s.do(t, "GET", "/metrics", "", ""), 401, "a token is required")
	wantError(t, s.do(t, "GET", "/metrics", tokens[auth.Analyst], ""), 403, "the analyst role may not do this")
	if r := s.do(t, "GET", "/metrics", tokens[auth.Admin], ""); r.status != 200 || !strings.Contains(r.body, "clearmap_http_requests_total") {
		t.Fatalf("/metrics for an admin: %d %.200s", r.status, r.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s, tokens := uploadService(t)
	for _, path := range []string{"/healthz", "/api/v1/summary", "/tiles/3/5/3.mvt", "/"} {
		r := s.do(t, "GET", path, tokens[auth.Analyst], "")
		h := r.header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s: headers %v", path, h)
		}
		if path != "/" && path != "/healthz" && !strings.Contains(h.Get("Cache-Control"), "no") {
			t.Fatalf("%s: Cache-Control %q lets shared caches keep it", path, h.Get("Cache-Control"))
		}
	}
	csp := s.do(t, "GET", "/", "", "").header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Fatalf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP allows inline code: %q", csp)
	}
}

func TestUploadsAreRateLimitedPerToken(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.UploadsPerMinute = 1 })
	team, _ := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	other, _ := auth.Create(ctx, s.pool, "other", auth.Uploader, "test")
	up := func(token string, i int) response {
		return s.post(t, "/api/v1/uploads", token, "application/geo+json",
			[]byte(fieldAt("R-"+string(rune('a'+i)), 71.10+float64(i)*0.003, 34.05)))
	}
	for i := 0; i < 10; i++ { // the burst
		if r := up(team, i); r.status != 201 {
			t.Fatalf("upload %d: %d %s", i, r.status, r.body)
		}
	}
	r := up(team, 10)
	wantError(t, r, 429, "too many uploads from this token: at most 1 a minute")
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	var n int
	s.pool.QueryRow(ctx, "SELECT count(*) FROM uploads").Scan(&n)
	if n != 10 {
		t.Fatalf("%d uploads stored, want the 10 allowed", n)
	}
	if r := up(other, 11); r.status != 201 {
		t.Fatalf("another token was limited too: %d", r.status)
	}
}

func TestMetrics(t *testing.T) {
	s, tokens := uploadService(t)
	r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", []byte(fieldAt("M-1", 71.10, 34.05)))
	var receipt struct{ ID int64 }
	r.json(t, &receipt)
	s.post(t, "/api/v1/uploads", tokens[auth.Uploader], "application/geo+json", []byte(`{"type":"Feature"}`))
	s.do(t, "GET", "/api/v1/uploads/1", tokens[auth.Analyst], "")
	s.do(t, "GET", "/api/v1/uploads/999", tokens[auth.Analyst], "")
	for range 2 {
		s.do(t, "GET", "/tiles/12/2856/1641.mvt", tokens[auth.Analyst], "")
	}
	body := s.do(t, "GET", "/metrics", tokens[auth.Admin], "").body
	for _, want := range []string{
		`clearmap_http_requests_total{method="GET",route="/api/v1/uploads/{id}",status="200"} 1`,
		`clearmap_http_requests_total{method="GET",route="/api/v1/uploads/{id}",status="404"} 1`,
		`clearmap_http_requests_total{method="POST",route="/api/v1/uploads",status="201"} 1`,
		`clearmap_uploads_total{outcome="accepted"} 1`,
		`clearmap_uploads_total{outcome="rejected"} 1`,
		`clearmap_features_ingested_total 1`,
		`clearmap_tile_cache_hits_total 1`,
		`clearmap_tile_cache_misses_total 1`,
		`clearmap_db_connections_max `,
		`clearmap_db_acquires_total `,
		`clearmap_http_request_duration_seconds_bucket{method="GET",route="/tiles/{z}/{x}/{y}.mvt",le="+Inf"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if receipt.ID != 1 || strings.Contains(body, "/api/v1/uploads/1\"") {
		t.Fatal("a path with an id became a metric label")
	}
}

func TestMetricsListenerServesOnlyMetricsWithoutAToken(t *testing.T) {
	s, tokens := uploadService(t)
	m := metrics.New(s.pool, tiles.NewCache(&tiles.Service{DB: s.pool}, 1<<20, new(store.Signal)))
	m.Upload("accepted", 3)
	srv := httptest.NewServer(api.MetricsHandler(m))
	t.Cleanup(srv.Close)
	scraper := &service{url: srv.URL}

	r := scraper.do(t, "GET", "/metrics", "", "")
	if r.status != 200 || !strings.Contains(r.body, "clearmap_features_ingested_total 3\n") ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %q %.300s", r.status, r.header.Get("Content-Type"), r.body)
	}
	for _, path := range []string{"/", "/healthz", "/api/v1/me", "/api/v1/summary", "/tiles.json", "/metrics/x"} {
		wantError(t, scraper.do(t, "GET", path, tokens[auth.Admin], ""), 404, "no such resource")
	}
	wantError(t, scraper.do(t, "POST", "/metrics", "", ""), 405, "POST is not allowed")
}
