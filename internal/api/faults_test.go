package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// manyFields is a FeatureCollection of n separate fields in Khyber.
func manyFields(prefix string, n int) []byte {
	return fieldsFrom(prefix, n, 71.05, 33.95)
}

// fieldsFrom is a FeatureCollection of n separate fields in rows of 60
// going north from lon, lat.
func fieldsFrom(prefix string, n int, lon, lat float64) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(fieldAt(fmt.Sprintf("%s-%d", prefix, i), lon+float64(i%60)*0.003, lat+float64(i/60)*0.003))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// stored counts the accepted uploads and all clearances.
func stored(t *testing.T, s *service) (uploads, fields int) {
	t.Helper()
	err := s.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM uploads WHERE status = 'accepted'),
		(SELECT count(*) FROM clearances)`).Scan(&uploads, &fields)
	if err != nil {
		t.Fatal(err)
	}
	return uploads, fields
}

// TestBackendKilledMidUpload kills the database session storing an upload:
// the client gets 503 with Retry-After, nothing of the upload counts, and
// the retry is stored once.
func TestBackendKilledMidUpload(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.MaxUploadBytes = 8 << 20; d.UploadsPerMinute = 0 })
	token := createToken(t, s, "team", auth.Uploader)
	body := manyFields("K", 1500)

	// Kill whichever session is writing clearances once one is.
	// (Only this test's own database's sessions.)
	type kill struct {
		n   int
		err error
	}
	killed := make(chan kill, 1)
	go func() {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			if err := s.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
				  AND (query ILIKE '%clearance%' OR query ILIKE 'COPY%')`).Scan(&n); err != nil {
				killed <- kill{err: err}
				return
			}
			if n > 0 {
				killed <- kill{n: n}
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		killed <- kill{}
	}()
	r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
	if k := <-killed; k.err != nil || k.n == 0 {
		t.Fatalf("never caught the upload at work (%v); it answered %d", k.err, r.status)
	}
	wantProblem(t, r, 503, "/problems/database-unavailable", "database unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if uploads, fields := stored(t, s); uploads != 0 || fields != 0 {
		t.Fatalf("after the kill: %d accepted uploads, %d fields", uploads, fields)
	}

	// The retry counts once; a second retry is a replay.
	if r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body); r.status != 201 {
		t.Fatalf("retry: %d %.300s", r.status, r.body)
	}
	if r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body); r.status != 200 {
		t.Fatalf("second retry: %d, want the first result again", r.status)
	}
	if uploads, fields := stored(t, s); uploads != 1 || fields != 1500 {
		t.Fatalf("after the retries: %d accepted uploads, %d fields; want 1 and 1500", uploads, fields)
	}
}

// TestDatabaseOutageDuringTraffic cuts the database off (every session
// ended, new ones refused: what a restart looks like from here) while
// requests come: they fail with 503, /readyz says so, nothing partial is
// stored, and once it is back the service recovers by itself.
func TestDatabaseOutageDuringTraffic(t *testing.T) {
	pool := testdb.WithBoundaries(t)
	url := pool.Config().ConnString()
	s := startWith(t, pool, func(d *api.Deps) { d.UploadsPerMinute = 0 })
	token := createToken(t, s, "team", auth.Uploader)
	analyst := createToken(t, s, "analyst", auth.Analyst)
	body := manyFields("O", 20)
	if r := s.do(t, "GET", "/tiles/10/714/414.mvt", analyst, ""); r.status != 200 {
		t.Fatalf("before: tile %d", r.status)
	}

	testdb.Cut(t, url)
	wantError(t, s.do(t, "GET", "/readyz", "", ""), 503, "database unavailable")
	r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
	wantError(t, r, 503, "database unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	for _, path := range []string{"/api/v1/summary", "/ogc/collections/clearances/items", "/tiles/11/1429/829.mvt"} {
		wantError(t, s.do(t, "GET", path, analyst, ""), 503, "database unavailable")
	}
	if s.do(t, "GET", "/healthz", "", "").status != 200 {
		t.Fatal("/healthz must answer during the outage")
	}

	testdb.Restore(t, url)
	if r := s.do(t, "GET", "/readyz", "", ""); r.status != 200 {
		t.Fatalf("after the outage: %d", r.status)
	}
	if uploads, fields := stored(t, s); uploads != 0 || fields != 0 {
		t.Fatalf("the failed upload left %d uploads, %d fields", uploads, fields)
	}
	if r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body); r.status != 201 {
		t.Fatalf("retry after the outage: %d %.300s", r.status, r.body)
	}
	if uploads, fields := stored(t, s); uploads != 1 || fields != 20 {
		t.Fatalf("after the retry: %d uploads, %d fields", uploads, fields)
	}
	// The figures follow, with no restart.
	r = s.do(t, "GET", "/api/v1/summary", analyst, "")
	if r.status != 200 || !strings.Contains(r.body, `"fields":20`) {
		t.Fatalf("summary after recovery: %d %.200s", r.status, r.body)
	}
}

// TestClientGoneMidBody sends half a body and hangs up: nothing is stored.
func TestClientGoneMidBody(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.UploadsPerMinute = 0 })
	token := createToken(t, s, "team", auth.Uploader)
	body := manyFields("G", 100)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/geo+json\r\nContent-Length: %d\r\n\r\n", token, len(body))
	conn.Write(body[:len(body)/2])
	time.Sleep(200 * time.Millisecond)
	conn.Close()

	// The server notices, and stores nothing: not the fields, not the half body.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(s.logs.String(), "path=/api/v1/uploads") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var uploads, fields int
	if err := s.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM clearances)").Scan(&uploads, &fields); err != nil {
		t.Fatal(err)
	}
	if uploads != 0 || fields != 0 {
		t.Fatalf("a cut-off body left %d uploads and %d fields", uploads, fields)
	}
	// The whole body afterwards is stored.
	if r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body); r.status != 201 {
		t.Fatalf("whole body: %d", r.status)
	}
}

// TestSlowClientsCannotHoldTheServer opens connections that dribble their
// headers: the server hangs up on them and keeps answering others.
func TestSlowClientsCannotHoldTheServer(t *testing.T) {
	srv := api.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), nil)
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Fatalf("a timeout is missing: %+v", srv)
	}
	srv.ReadHeaderTimeout = 300 * time.Millisecond // the real one is 10 s
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	var slow []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the blank line
		slow = append(slow, c)
	}
	start := time.Now()
	for _, c := range slow {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(c); err != nil && !isReset(err) {
			t.Fatalf("slow client not cut off: %v", err)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("slow clients held for %v", took)
	}
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(b, []byte("ok")) {
		t.Fatalf("after the slow clients: %q", b)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "reset by peer")
}

// TestDatabaseRestart stops PostgreSQL while uploads and reads go on, and
// starts it again: a server of the test's own (testdb.StartCluster), never
// the machine's, which other tests and users share. While it is down,
// requests that need it get 503 with Retry-After and nothing else; once it
// is back, every request succeeds, each upload that failed succeeds on its
// one retry, nothing is stored twice, and the figures equal those of the
// same uploads sent one by one.
func TestDatabaseRestart(t *testing.T) {
	cluster := testdb.StartCluster(t)
	opts := func(d *api.Deps) { d.UploadsPerMinute = 0; d.MaxUploadBytes = 8 << 20 }
	s := startWith(t, cluster.WithBoundaries(t), opts)
	token := createToken(t, s, "team", auth.Uploader)
	analyst := createToken(t, s, "analyst", auth.Analyst)

	// Eight uploads of 200 separate fields each, apart from each other's.
	const uploads, perUpload = 8, 200
	bodies := make([][]byte, uploads)
	for u := range bodies {
		bodies[u] = fieldsFrom(fmt.Sprintf("R%d", u), perUpload, 71.05, 33.90+float64(u)*0.015)
	}

	var mu sync.Mutex
	var bad []string
	unavailable := 0
	// note records an answer given while the server was, or may have been,
	// down: a success, or 503 with Retry-After.
	note := func(what string, r response, ok ...int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.status == 503 && r.header.Get("Retry-After") != "":
			unavailable++
		case !slices.Contains(ok, r.status):
			bad = append(bad, fmt.Sprintf("%s: %d %.200s", what, r.status, r.body))
		}
	}
	retry := make([]bool, uploads)
	var wg sync.WaitGroup
	for u := range uploads {
		wg.Go(func() {
			time.Sleep(time.Duration(u) * 100 * time.Millisecond)
			r := s.post(t, "/api/v1/uploads", token, "application/geo+json", bodies[u])
			note(fmt.Sprintf("upload %d", u), r, 201)
			retry[u] = r.status != 201
		})
	}
	stopReading := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			note("summary", s.do(t, "GET", "/api/v1/summary", analyst, ""), 200)
			time.Sleep(20 * time.Millisecond)
		}
	})

	time.Sleep(250 * time.Millisecond)
	down := time.Now()
	cluster.Stop()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		seen := unavailable
		mu.Unlock()
		if seen > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no 503 with Retry-After in 30 s of the server being down")
		}
	}
	cluster.Start()
	for deadline := time.Now().Add(60 * time.Second); s.do(t, "GET", "/readyz", "", "").status != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not ready a minute after the server started again")
		}
	}
	outage := time.Since(down)
	close(stopReading)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d answers other than a success or 503 with Retry-After while the server was down, first: %s", len(bad), bad[0])
	}

	// Back up: only successes. Each failed upload, retried once, is stored.
	retried := 0
	for u, again := range retry {
		if !again {
			continue
		}
		retried++
		if r := s.post(t, "/api/v1/uploads", token, "application/geo+json", bodies[u]); r.status != 201 {
			t.Fatalf("upload %d retried after the restart: %d %.300s", u, r.status, r.body)
		}
	}
	for _, path := range []string{"/api/v1/summary", "/api/v1/districts", "/tiles/10/714/414.mvt", "/ogc/collections/clearances/items?limit=5"} {
		if r := s.do(t, "GET", path, analyst, ""); r.status != 200 {
			t.Fatalf("%s after the restart: %d %.300s", path, r.status, r.body)
		}
	}
	if accepted, fields := stored(t, s); accepted != uploads || fields != uploads*perUpload {
		t.Fatalf("after the restart: %d accepted uploads, %d fields; want %d and %d", accepted, fields, uploads, uploads*perUpload)
	}

	// The same uploads one by one, into a fresh database: the same figures.
	serial := startWith(t, cluster.WithBoundaries(t), opts)
	serialToken := createToken(t, serial, "team", auth.Uploader)
	serialAnalyst := createToken(t, serial, "analyst", auth.Analyst)
	for u, body := range bodies {
		if r := serial.post(t, "/api/v1/uploads", serialToken, "application/geo+json", body); r.status != 201 {
			t.Fatalf("serial upload %d: %d %.300s", u, r.status, r.body)
		}
	}
	for _, path := range []string{"/api/v1/summary", "/api/v1/districts"} {
		got, want := s.do(t, "GET", path, analyst, ""), serial.do(t, "GET", path, serialAnalyst, "")
		if got.status != 200 || want.status != 200 || withoutTimes(got.body) != withoutTimes(want.body) {
			t.Fatalf("%s after the restart:\n%.600s\none by one:\n%.600s", path, got.body, want.body)
		}
	}
	t.Logf("server down for %v; %d answers of 503 with Retry-After; %d of %d uploads retried", outage.Round(time.Millisecond), unavailable, retried, uploads)
}

// withoutTimes drops the summary's updated_at, which differs between any
// two databases.
func withoutTimes(body string) string {
	return regexp.MustCompile(`"updated_at":"[^"]*"`).ReplaceAllString(body, "")
}

// createToken makes a token for the role and returns its secret.
func createToken(t *testing.T, s *service, name string, role auth.Role) string {
	t.Helper()
	secret, err := auth.Create(context.Background(), s.pool, name, role, "test")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
