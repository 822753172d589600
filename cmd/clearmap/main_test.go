package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"clearmap/internal/auth"
	"clearmap/internal/testdb"
	"clearmap/internal/testlog"
	"clearmap/migrations"
)

// result is what one command line did.
type result struct {
	code           int
	stdout, stderr string
}

// clearmap runs a command line against the database at dbURL, as the
// environment variable DATABASE_URL would point it.
func clearmap(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	}
	code := run(context.Background(), args, getenv, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "usage: clearmap COMMAND"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"migrate", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"migrate", "extra"}, "want no arguments, got 1 arguments"},
		{[]string{"token"}, "want a subcommand: create, list or revoke"},
		{[]string{"token", "burn"}, `unknown subcommand "burn"`},
		{[]string{"token", "create", "--name", "x"}, "--role and --name are required"},
		{[]string{"token", "create", "--role", "root", "--name", "x"}, `unknown role "root"`},
		{[]string{"token", "create", "--role", "admin", "--name", "two words"}, `token name "two words" must be`},
		{[]string{"token", "revoke"}, "want the NAME of the token to revoke"},
		{[]string{"load-districts", "a.geojson", "b.geojson"}, "want at most one districts FILE"},
		{[]string{"load-districts", "--provinces", "p.geojson"}, "--provinces needs a districts FILE too"},
		{[]string{"serve", "--log-format", "xml"}, "invalid value \"xml\" for flag -log-format"},
		{[]string{"serve", "--db-max-conns", "0"}, "db-max-conns must be at least 1"},
	} {
		r := clearmap(t, "postgres://127.0.0.1:1/unused", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("clearmap %v = %d\nstderr %q\nwant 2 and %q", c.args, r.code, r.stderr, c.msg)
		}
	}
}

func TestEnvironmentConfiguresAndFlagsOverride(t *testing.T) {
	var stderr bytes.Buffer
	getenv := func(k string) string {
		return map[string]string{"CLEARMAP_DB_MAX_CONNS": "lots"}[k]
	}
	code := run(context.Background(), []string{"migrate"}, getenv, &bytes.Buffer{}, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `CLEARMAP_DB_MAX_CONNS="lots"`) {
		t.Fatalf("bad environment value: %d %q", code, stderr.String())
	}

	// A bad DATABASE_URL is overridden by --database-url.
	url := testdb.New(t)
	r := clearmap(t, "postgres://127.0.0.1:1/wrong", "migrate", "--database-url", url)
	if r.code != 0 || !strings.Contains(r.stdout, "applied 00001_postgis.sql") {
		t.Fatalf("flag did not override the environment: %+v", r)
	}
}

func TestMigrate(t *testing.T) {
	url := testdb.New(t)
	files, _ := fs.Glob(migrations.FS, "*.sql")
	r := clearmap(t, url, "migrate")
	if r.code != 0 || len(files) < 13 || strings.Count(r.stdout, "applied ") != len(files) {
		t.Fatalf("first migrate: %+v", r)
	}
	r = clearmap(t, url, "migrate")
	if r.code != 0 || r.stdout != "database schema is current\n" {
		t.Fatalf("second migrate: %+v", r)
	}
	r = clearmap(t, "postgres://127.0.0.1:1/nothing?connect_timeout=2", "migrate")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "clearmap migrate: database: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("unreachable database: %+v", r)
	}
}

func TestCommandsRefuseAnUnmigratedDatabase(t *testing.T) {
	url := testdb.New(t)
	for _, args := range [][]string{{"token", "list"}, {"load-districts"}} {
		r := clearmap(t, url, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "run `clearmap migrate` first") {
			t.Errorf("%v on an empty database: %+v", args, r)
		}
	}
}

func TestTokenCommands(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	clearmap(t, url, "migrate")
	pool := testdb.Open(t, url)

	r := clearmap(t, url, "token", "create", "--role", "uploader", "--name", "orakzai-team")
	if r.code != 0 || r.stderr != "" || !regexp.MustCompile(`^cm_[A-Za-z0-9_-]{43}\n$`).MatchString(r.stdout) {
		t.Fatalf("token create printed %+v; want the token alone on stdout", r)
	}
	tok, err := auth.Authenticate(ctx, pool, strings.TrimSpace(r.stdout))
	if err != nil || tok.Name != "orakzai-team" || tok.Role != auth.Uploader || !strings.HasPrefix(tok.CreatedBy, "cli") {
		t.Fatalf("created token = %+v, %v", tok, err)
	}

	r = clearmap(t, url, "token", "create", "--role", "analyst", "--name", "orakzai-team")
	if r.code != 1 || !strings.Contains(r.stderr, "a token with that name already exists") {
		t.Fatalf("duplicate name: %+v", r)
	}

	r = clearmap(t, url, "token", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") ||
		!regexp.MustCompile(`^orakzai-team\s+uploader\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+cli\S*\s+-$`).MatchString(lines[1]) {
		t.Fatalf("token list: %+v", r)
	}

	if r := clearmap(t, url, "token", "revoke", "orakzai-team"); r.code != 0 || r.stdout != "revoked orakzai-team\n" {
		t.Fatalf("revoke: %+v", r)
	}
	if r := clearmap(t, url, "token", "revoke", "orakzai-team"); r.code != 1 || r.stderr != "clearmap token: orakzai-team: no such token\n" {
		t.Fatalf("second revoke: %+v", r)
	}
	if r := clearmap(t, url, "token", "list"); !regexp.MustCompile(`orakzai-team\s+uploader\s+.*\d\d:\d\d\n$`).MatchString(r.stdout) {
		t.Fatalf("revoked token not shown as revoked: %q", r.stdout)
	}
}

func TestLoadDistrictsCommand(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	clearmap(t, url, "migrate")
	pool := testdb.Open(t, url)
	dir := t.TempDir()

	r := clearmap(t, url, "load-districts")
	if r.code != 0 || r.stdout != "loaded 156 districts in 7 provinces, with 441 places and 343 river lines inside them, from embedded\n" {
		t.Fatalf("embedded: %+v", r)
	}

	bad := filepath.Join(dir, "bad.geojson")
	os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[71,34]},"properties":{"district_code":"X"}}]}`), 0o644)
	r = clearmap(t, url, "load-districts", bad)
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "clearmap load-districts: 4 problems: feature 0 (X): missing property \"district_name\"") {
		t.Fatalf("bad file: %+v", r)
	}
	if r := clearmap(t, url, "load-districts", filepath.Join(dir, "missing.geojson")); r.code != 1 || !strings.Contains(r.stderr, "no such file or directory") {
		t.Fatalf("missing file: %+v", r)
	}
	var n int
	pool.QueryRow(ctx, "SELECT count(*) FROM districts").Scan(&n)
	if n != 156 {
		t.Fatalf("%d districts after rejected loads, want 156", n)
	}

	good := filepath.Join(dir, "districts.geojson")
	os.WriteFile(good, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature",
		"geometry":{"type":"Polygon","coordinates":[[[70,30],[71,30],[71,31],[70,31],[70,30]]]},
		"properties":{"district_code":"X-A-ONE","district_name":"One","province_code":"X-A","province_name":"A"}}]}`), 0o644)
	provinces := filepath.Join(dir, "provinces.geojson")
	os.WriteFile(provinces, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature",
		"geometry":{"type":"Polygon","coordinates":[[[69,29],[72,29],[72,32],[69,32],[69,29]]]},
		"properties":{"province_code":"X-A","province_name":"A","province_kind":"province"}}]}`), 0o644)
	r = clearmap(t, url, "load-districts", good, "--provinces", provinces)
	// 70–71 E, 30–31 N holds 9 of the shipped places.
	if r.code != 0 || !regexp.MustCompile(`^loaded 1 districts in 1 provinces, with 9 places and [1-9]\d* river lines inside them, from `+
		regexp.QuoteMeta(good+" + "+provinces)+"\nremoved PK-").MatchString(r.stdout) {
		t.Fatalf("replacement: %+v", r)
	}
	var kind string
	pool.QueryRow(ctx, "SELECT kind FROM provinces WHERE code = 'X-A'").Scan(&kind)
	if kind != "province" {
		t.Fatalf("provinces file not used: kind %q", kind)
	}
}

// startServe runs `clearmap serve` until the test stops it, and returns the
// URL it listens on. env sets more variables, as name, value pairs.
func startServe(t *testing.T, dbURL string, env ...string) (base string, stdout, stderr *testlog.Buffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &testlog.Buffer{}, &testlog.Buffer{}
	vars := map[string]string{"DATABASE_URL": dbURL, "CLEARMAP_ADDR": "127.0.0.1:0"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	getenv := func(k string) string { return vars[k] }
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, getenv, stdout, stderr) }()
	listening := regexp.MustCompile(`msg=listening url=(http://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	return base, stdout, stderr, stop
}

func TestServeOnAnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)

	base, stdout, stderr, stop := startServe(t, url)
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	admin := regexp.MustCompile(`(?m)^    (cm_[A-Za-z0-9_-]{43})$`).FindStringSubmatch(stdout.String())
	if admin == nil || strings.Count(stdout.String(), "cm_") != 1 {
		t.Fatalf("first start did not print one admin token: %q", stdout.String())
	}
	if strings.Contains(stderr.String(), admin[1]) {
		t.Fatal("the admin token reached the log")
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+admin[1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("printed admin token does not work: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM-like cancel: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `msg="loaded embedded boundaries" districts=156 provinces=7 places=441 rivers=343`) ||
		!strings.Contains(stderr.String(), "msg=stopped") {
		t.Fatalf("log: %s", stderr.String())
	}

	// A second start migrates nothing, loads nothing and prints no token.
	_, stdout, stderr, stop = startServe(t, url)
	if code := stop(); code != 0 {
		t.Fatalf("second serve exited %d", code)
	}
	if stdout.String() != "" || strings.Contains(stderr.String(), "applied migration") || strings.Contains(stderr.String(), "loaded embedded") {
		t.Fatalf("second start redid first-start work:\nstdout %q\nstderr %s", stdout.String(), stderr.String())
	}
	pool := testdb.Open(t, url)
	var loads, admins int
	pool.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action = 'boundaries.load'").Scan(&loads)
	pool.QueryRow(ctx, "SELECT count(*) FROM tokens WHERE role = 'admin'").Scan(&admins)
	if loads != 1 || admins != 1 {
		t.Fatalf("%d boundary loads and %d admin tokens after two starts, want 1 and 1", loads, admins)
	}

	// Boundaries loaded before there were places and rivers (migration
	// 00022): the next start loads them, and only them.
	if _, err := pool.Exec(ctx, "DELETE FROM places; DELETE FROM rivers"); err != nil {
		t.Fatal(err)
	}
	_, _, stderr, stop = startServe(t, url)
	if code := stop(); code != 0 {
		t.Fatalf("third serve exited %d", code)
	}
	var places int
	pool.QueryRow(ctx, "SELECT count(*) FROM places").Scan(&places)
	pool.QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE action = 'boundaries.load'").Scan(&loads)
	if !strings.Contains(stderr.String(), `msg="loaded embedded places and rivers" places=441 rivers=343`) || places != 441 || loads != 1 {
		t.Fatalf("third start: %d places, %d boundary loads; log %s", places, loads, stderr.String())
	}
}

func TestServeMetricsListener(t *testing.T) {
	base, _, stderr, stop := startServe(t, testdb.New(t), "CLEARMAP_METRICS_ADDR", "127.0.0.1:0")
	m := regexp.MustCompile(`msg="serving metrics" url=(http://\S+)/metrics`).FindStringSubmatch(stderr.String())
	if m == nil {
		stop()
		t.Fatalf("no metrics listener in the log: %s", stderr.String())
	}
	scrape := m[1]
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get(scrape + "/metrics"); code != 200 || !strings.Contains(body, "clearmap_db_connections_max ") {
		t.Fatalf("scrape without a token: %d %.300s", code, body)
	}
	for _, path := range []string{"/", "/healthz", "/api/v1/me"} {
		if code, _ := get(scrape + path); code != 404 {
			t.Errorf("metrics listener %s: %d, want 404", path, code)
		}
	}
	if code, _ := get(base + "/metrics"); code != 401 {
		t.Fatalf("main port /metrics without a token: %d, want 401", code)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	if resp, err := http.Get(scrape + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatal("the metrics listener outlived the server")
	}
}

func TestServeNoMigrateRefusesAStaleSchema(t *testing.T) {
	var stderr bytes.Buffer
	getenv := func(k string) string { return map[string]string{"DATABASE_URL": testdb.New(t)}[k] }
	code := run(context.Background(), []string{"serve", "--no-migrate"}, getenv, &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "migrations are pending and --no-migrate was given") {
		t.Fatalf("got %d %q", code, stderr.String())
	}
}

func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	url := testdb.New(t)
	clearmap(t, url, "migrate")
	clearmap(t, url, "load-districts")
	pool := testdb.Open(t, url)

	r := clearmap(t, url, "import", "../../geodata/sample-clearances.geojson")
	var receipt struct {
		ID        int64
		Status    string
		Features  int
		Acres     float64
		Districts []struct{ Code string }
		Warnings  []any
	}
	if err := json.Unmarshal([]byte(r.stdout), &receipt); err != nil || r.code != 0 {
		t.Fatalf("import: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if receipt.Status != "accepted" || receipt.Features != 300 || len(receipt.Districts) != 9 || len(receipt.Warnings) != 0 || receipt.Acres < 300*0.2 {
		t.Fatalf("sample receipt: %+v", receipt)
	}
	var uploader string
	pool.QueryRow(ctx, "SELECT uploader FROM uploads WHERE id = $1", receipt.ID).Scan(&uploader)
	if !strings.HasPrefix(uploader, "cli") {
		t.Fatalf("uploader %q", uploader)
	}

	// Again: the same receipt, nothing new stored.
	if again := clearmap(t, url, "import", "../../geodata/sample-clearances.geojson"); again.code != 0 || again.stdout != r.stdout {
		t.Fatalf("re-import: %+v", again)
	}

	// A bare geometry with its values from flags; and a rejected file.
	dir := t.TempDir()
	bare := filepath.Join(dir, "gps.geojson")
	os.WriteFile(bare, []byte(`{"type":"Polygon","coordinates":[[[71.1,34.05],[71.101,34.05],[71.101,34.051],[71.1,34.051],[71.1,34.05]]]}`), 0o644)
	bad := filepath.Join(dir, "bad.geojson")
	os.WriteFile(bad, []byte(`{"type":"Polygon","coordinates":[[[71.1,34.05],[71.101,34.05],[71.101,34.051],[71.1,34.051],[71.1,34.05]]]}`), 0o644)
	r = clearmap(t, url, "import", "--crop", "cannabis", "--cleared-on", "2026-04-02", bare)
	if r.code != 0 || !strings.Contains(r.stdout, `"status": "accepted"`) {
		t.Fatalf("bare geometry: %+v", r)
	}
	r = clearmap(t, url, "import", bad)
	if r.code != 1 || !strings.Contains(r.stdout, `"status": "rejected"`) || r.stderr != "clearmap import: rejected: "+bad+": 1 of 1 features have problems; nothing was stored. Fix them and upload again, or store the valid ones with a partial upload (?partial=true, or import --partial)\n" {
		t.Fatalf("rejected file: %+v", r)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"import"}, 2, "want one or more FILEs, or - for standard input"},
		{[]string{"import", "--crop", "hemp", bare}, 2, `crop="hemp": want poppy or cannabis`},
		{[]string{"import", filepath.Join(dir, "missing.geojson")}, 1, "no such file or directory"},
	} {
		if r := clearmap(t, url, c.args...); r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: %+v", c.args, r)
		}
	}
	var clearances int
	pool.QueryRow(ctx, "SELECT count(*) FROM clearances WHERE NOT retracted").Scan(&clearances)
	if clearances != 301 {
		t.Fatalf("%d clearances, want 301", clearances)
	}
}
