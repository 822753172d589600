package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/ingest"
	"clearmap/internal/metrics"
	"clearmap/internal/store"
	"clearmap/internal/testdb"
	"clearmap/internal/testlog"
	"clearmap/internal/tiles"
	"clearmap/web"
)

// service is a running API on its own database.
type service struct {
	url     string
	pool    *pgxpool.Pool
	logs    *testlog.Buffer
	handler http.Handler
}

func start(t *testing.T, pool *pgxpool.Pool) *service {
	t.Helper()
	return startWith(t, pool, nil)
}

// startWith starts the API, letting change alter its dependencies first.
func startWith(t testing.TB, pool *pgxpool.Pool, change func(*api.Deps)) *service {
	t.Helper()
	m, err := store.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// As in serve: tiles and tokens kept in memory, told of changes by
	// notifications.
	tileChanges, revocations := new(store.Signal), new(store.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go store.Watch(ctx, pool, logger, map[string]*store.Signal{
		store.TileChangesChannel: tileChanges, store.TokensChannel: revocations})
	testdb.Eventually(t, "the change listener to start", func() bool { _, live := tileChanges.Version(); return live })
	tiler := &tiles.Service{DB: pool}
	cache := tiles.NewCache(tiler, 8<<20, tileChanges)
	deps := api.Deps{
		DB: pool, Migrator: m, Logger: logger,
		Ingest:           &ingest.Service{DB: pool},
		MaxUploadBytes:   64 << 10,
		TargetAcres:      40659,
		Tiles:            cache,
		Tokens:           auth.NewCache(pool, revocations),
		Metrics:          metrics.New(pool, cache),
		UploadsPerMinute: 600,
	}
	if change != nil {
		change(&deps)
	}
	tiler.Reads = deps.Reads // as in serve: tiles are read where reads go
	handler := api.New(deps)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &service{url: srv.URL, pool: pool, logs: logs, handler: handler}
}

type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into v, failing the test if it is not JSON.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
}

// do makes a request with a token (if not empty) and a body, sent as
// application/json when there is one.
func (s *service) do(t *testing.T, method, path, token, body string) response {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return s.send(t, method, path, token, []byte(body), "Content-Type", contentType)
}

// send makes a request with a token (if not empty) and headers given as
// name, value pairs (empty values are left out).
func (s *service) send(t *testing.T, method, path, token string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// wantError checks that r is a problem+json answer with this status whose
// detail (or a listed problem) says msg.
func wantError(t *testing.T, r response, status int, msg string) {
	t.Helper()
	wantProblem(t, r, status, "", msg)
}

func TestHealthAndReadiness(t *testing.T) {
	s := start(t, testdb.Migrated(t))
	if r := s.do(t, "GET", "/healthz", "", ""); r.status != 200 || r.body != "{\"status\":\"ok\"}\n" {
		t.Fatalf("/healthz = %d %q", r.status, r.body)
	}
	if r := s.do(t, "GET", "/readyz", "", ""); r.status != 200 || r.body != "{\"status\":\"ready\"}\n" {
		t.Fatalf("/readyz = %d %q", r.status, r.body)
	}
}

func TestReadyzIs503WhileMigrationsArePending(t *testing.T) {
	s := start(t, testdb.Open(t, testdb.New(t)))
	r := s.do(t, "GET", "/readyz", "", "")
	wantError(t, r, 503, "migrations are pending")
	if s.do(t, "GET", "/healthz", "", "").status != 200 {
		t.Fatal("/healthz must answer while the process runs")
	}
}

func TestReadyzFollowsTheDatabase(t *testing.T) {
	url := testdb.New(t)
	pool := testdb.Open(t, url)
	m, _ := store.NewMigrator(pool)
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Close()
	s := start(t, pool)
	if r := s.do(t, "GET", "/readyz", "", ""); r.status != 200 {
		t.Fatalf("before the outage: %d %s", r.status, r.body)
	}

	testdb.Cut(t, url)
	r := s.do(t, "GET", "/readyz", "", "")
	wantError(t, r, 503, "database unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if s.do(t, "GET", "/healthz", "", "").status != 200 {
		t.Fatal("/healthz must answer during a database outage")
	}
	// A token check needs the database too: 503, not a misleading 401.
	wantError(t, s.do(t, "GET", "/api/v1/me", "cm_x", ""), 503, "database unavailable")

	testdb.Restore(t, url)
	if r := s.do(t, "GET", "/readyz", "", ""); r.status != 200 {
		t.Fatalf("after the outage: %d %s", r.status, r.body)
	}
}

func TestAuthenticationAndRoles(t *testing.T) {
	ctx := context.Background()
	s := start(t, testdb.Migrated(t))
	tokens := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.Uploader, auth.Analyst, auth.Admin} {
		secret, err := auth.Create(ctx, s.pool, "t-"+string(role), role, "test")
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = secret
	}
	revoked, _ := auth.Create(ctx, s.pool, "gone", auth.Admin, "test")
	auth.Revoke(ctx, s.pool, "gone", "test")

	for _, c := range []struct {
		name, path, token string
		status            int
		msg               string
	}{
		{"no token", "/api/v1/me", "", 401, "a token is required"},
		{"unknown token", "/api/v1/me", "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "token not recognised"},
		{"revoked token", "/api/v1/me", revoked, 401, "token not recognised"},
		{"uploader on admin route", "/api/v1/tokens", tokens[auth.Uploader], 403, "the uploader role may not do this"},
		{"analyst on admin route", "/api/v1/tokens", tokens[auth.Analyst], 403, "the analyst role may not do this"},
		{"no token on admin route", "/api/v1/tokens", "", 401, "a token is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(t, "GET", c.path, c.token, "")
			wantError(t, r, c.status, c.msg)
			if c.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without a Bearer challenge: %v", r.header)
			}
		})
	}

	for role, secret := range tokens {
		r := s.do(t, "GET", "/api/v1/me", secret, "")
		var me struct{ Name, Role string }
		r.json(t, &me)
		if r.status != 200 || me.Name != "t-"+string(role) || me.Role != string(role) {
			t.Errorf("%s: /api/v1/me = %d %s", role, r.status, r.body)
		}
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("authenticated response cacheable: %q", r.header.Get("Cache-Control"))
		}
	}

	r := s.do(t, "GET", "/api/v1/tokens", tokens[auth.Admin], "")
	var list []struct{ Name, Role string }
	r.json(t, &list)
	if r.status != 200 || len(list) != 4 || list[0].Name != "t-uploader" || list[3].Name != "gone" {
		t.Fatalf("admin GET /api/v1/tokens = %d %s", r.status, r.body)
	}
	if strings.Contains(r.body, "cm_") || strings.Contains(r.body, "hash") {
		t.Fatalf("token list leaks secrets: %s", r.body)
	}

	t.Run("access_token query parameter, for GIS tools", func(t *testing.T) {
		r := s.do(t, "GET", "/api/v1/me?access_token="+tokens[auth.Analyst], "", "")
		if r.status != 200 || !strings.Contains(r.body, `"role":"analyst"`) {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if strings.Contains(s.logs.String(), tokens[auth.Analyst]) {
			t.Fatal("a token secret reached the log")
		}
	})

	t.Run("other authorization schemes are not tokens", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.url+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Basic "+tokens[auth.Admin])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("Basic scheme: %d", resp.StatusCode)
		}
	})
}

func TestTokenAdministrationOverHTTP(t *testing.T) {
	ctx := context.Background()
	s := start(t, testdb.Migrated(t))
	admin, _ := auth.Create(ctx, s.pool, "root", auth.Admin, "test")

	for _, c := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"not JSON", "name=x", 400, "body must be a JSON object"},
		{"truncated", `{"name": "x"`, 400, "body must be a JSON object"},
		{"unknown field", `{"name": "x", "role": "admin", "extra": 1}`, 400, `unknown field "extra"`},
		{"bad role", `{"name": "x", "role": "superuser"}`, 422, `unknown role "superuser"`},
		{"bad name", `{"name": "a b", "role": "analyst"}`, 422, `token name "a b" must be 1-64`},
		{"huge body", `{"name": "` + strings.Repeat("x", 10000) + `"}`, 400, "request body too large"},
		{"taken name", `{"name": "root", "role": "analyst"}`, 409, "already called root"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, s.do(t, "POST", "/api/v1/tokens", admin, c.body), c.status, c.msg)
		})
	}
	var n int
	s.pool.QueryRow(ctx, "SELECT count(*) FROM tokens").Scan(&n)
	if n != 1 {
		t.Fatalf("%d tokens after only bad requests, want 1", n)
	}

	r := s.do(t, "POST", "/api/v1/tokens", admin, `{"name": "bajaur-team", "role": "uploader"}`)
	var created struct{ Name, Role, Token string }
	r.json(t, &created)
	if r.status != 201 || created.Name != "bajaur-team" || created.Role != "uploader" {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	if r := s.do(t, "GET", "/api/v1/me", created.Token, ""); r.status != 200 || !strings.Contains(r.body, "bajaur-team") {
		t.Fatalf("new token: %d %s", r.status, r.body)
	}
	var createdBy string
	s.pool.QueryRow(ctx, "SELECT created_by FROM tokens WHERE name = 'bajaur-team'").Scan(&createdBy)
	if createdBy != "root" {
		t.Fatalf("created_by = %q, want the admin's token name", createdBy)
	}

	wantError(t, s.do(t, "DELETE", "/api/v1/tokens/nobody", admin, ""), 404, "no active token is called nobody")
	wantError(t, s.do(t, "DELETE", "/api/v1/tokens/bajaur-team", created.Token, ""), 403, "uploader role may not")
	if r := s.do(t, "DELETE", "/api/v1/tokens/bajaur-team", admin, ""); r.status != 204 {
		t.Fatalf("revoke = %d %s", r.status, r.body)
	}
	wantError(t, s.do(t, "GET", "/api/v1/me", created.Token, ""), 401, "token not recognised")

	// Revoked by another process (`clearmap token revoke`) while this server
	// remembers the token: refused as soon as the notification arrives.
	other, _ := auth.Create(ctx, s.pool, "chitral-team", auth.Uploader, "test")
	if r := s.do(t, "GET", "/api/v1/me", other, ""); r.status != 200 {
		t.Fatalf("new token: %d %s", r.status, r.body)
	}
	if err := auth.Revoke(ctx, s.pool, "chitral-team", "cli"); err != nil {
		t.Fatal(err)
	}
	testdb.Eventually(t, "a token revoked elsewhere to stop working", func() bool {
		return s.do(t, "GET", "/api/v1/me", other, "").status == 401
	})
}

func TestRequestIDsAndLogs(t *testing.T) {
	s := start(t, testdb.Migrated(t))
	req, _ := http.NewRequest("GET", s.url+"/healthz", nil)
	req.Header.Set("X-Request-Id", "field-7.retry-2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "field-7.retry-2" {
		t.Fatalf("X-Request-Id = %q, want the caller's", got)
	}

	req.Header.Set("X-Request-Id", "forged\" level=ERROR msg=x")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if len(id) != 16 || strings.Contains(s.logs.String(), "forged") {
		t.Fatalf("unsafe X-Request-Id was not replaced: %q", id)
	}
	if !strings.Contains(s.logs.String(), "request_id="+id) || !strings.Contains(s.logs.String(), "path=/healthz status=200") {
		t.Fatalf("log lacks the request: %s", s.logs.String())
	}
}

func TestUnknownRoutesAndIndex(t *testing.T) {
	s := start(t, testdb.Migrated(t))
	wantError(t, s.do(t, "GET", "/nowhere", "", ""), 404, "no such resource: /nowhere")
	wantError(t, s.do(t, "POST", "/healthz", "", ""), 405, "POST is not allowed on /healthz")
	wantError(t, s.do(t, "POST", "/", "", ""), 405, "POST is not allowed on /")
	wantError(t, s.do(t, "GET", "/assets/nothing.js", "", ""), 404, "no such resource: /assets/nothing.js")
	r := s.do(t, "GET", "/", "", "")
	if r.status != 200 || !strings.Contains(r.body, "OpenStreetMap contributors") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self';") ||
		r.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("web app headers %v", r.header)
	}
	// The scripts it names are served, kept for a year, gzipped on request;
	// MapLibre's worker too.
	for _, pattern := range []string{`/assets/index-[\w-]+\.js`, `/assets/index-[\w-]+\.css`} {
		path := regexp.MustCompile(pattern).FindString(r.body)
		a := s.send(t, "GET", path, "", nil, "Accept-Encoding", "gzip")
		if path == "" || a.status != 200 || a.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || a.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("asset %q: %d %v", path, a.status, a.header)
		}
	}
	entries, err := fs.Glob(web.FS(), "assets/maplibre-gl-worker-*.mjs")
	if err != nil || len(entries) != 1 {
		t.Fatalf("worker %v %v", entries, err)
	}
	if w := s.do(t, "GET", "/"+entries[0], "", ""); w.status != 200 || !strings.HasPrefix(w.header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("worker: %d %s", w.status, w.header.Get("Content-Type"))
	}
}
