package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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
	var b strings.Builder
	b.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(fieldAt(fmt.Sprintf("%s-%d", prefix, i), 71.05+float64(i%60)*0.003, 33.95+float64(i/60)*0.003))
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// stored counts the accepted uploads and their fields.
func stored(t *testing.T, s *service) (uploads, fields int) {
	t.Helper()
	s.pool.QueryRow(context.Background(), "SELECT count(*) FROM uploads WHERE status = 'accepted'").Scan(&uploads)
	s.pool.QueryRow(context.Background(), "SELECT count(*) FROM clearances").Scan(&fields)
	return uploads, fields
}

// TestBackendKilledMidUpload kills the database session storing an upload:
// the client gets 503 with Retry-After, nothing of the upload counts, and
// the retry is stored once.
func TestBackendKilledMidUpload(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.MaxUploadBytes = 8 << 20; d.UploadsPerMinute = 0 })
	token, _ := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	body := manyFields("K", 1500)

	// Kill whichever session is writing clearances once one is.
	killed := make(chan int, 1)
	go func() {
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			s.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
				  AND (query ILIKE '%clearance%' OR query ILIKE 'COPY%')`).Scan(&n)
			if n > 0 {
				killed <- n
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		killed <- 0
	}()
	r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
	if n := <-killed; n == 0 {
		t.Fatalf("never caught the upload at work; it answered %d", r.status)
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
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	url := pool.Config().ConnString()
	s := startWith(t, pool, func(d *api.Deps) { d.UploadsPerMinute = 0 })
	token, _ := auth.Create(ctx, pool, "team", auth.Uploader, "test")
	analyst, _ := auth.Create(ctx, pool, "analyst", auth.Analyst, "test")
	body := manyFields("O", 20)
	if r := s.do(t, "GET", "/tiles/10/714/414.mvt", analyst, ""); r.status != 200 && r.status != 204 {
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
	token, _ := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
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
	s.pool.QueryRow(ctx, "SELECT count(*) FROM uploads").Scan(&uploads)
	s.pool.QueryRow(ctx, "SELECT count(*) FROM clearances").Scan(&fields)
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
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, []byte("ok")) {
		t.Fatalf("after the slow clients: %q", b)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "reset by peer")
}

// TestDatabaseRestart restarts the real PostgreSQL server while uploads and
// reads go on. It runs only when CLEARMAP_TEST_RESTART names the command
// that restarts it (`make test` runs it alone, after the other packages,
// since a restart ends their sessions too). Requests during the restart get
// 503 with Retry-After, never a 5xx of another kind; every upload retried
// until it succeeds is stored exactly once; the service recovers by itself.
func TestDatabaseRestart(t *testing.T) {
	restart := os.Getenv("CLEARMAP_TEST_RESTART")
	if restart == "" {
		t.Skip("CLEARMAP_TEST_RESTART is not set")
	}
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.UploadsPerMinute = 0 })
	token, _ := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	analyst, _ := auth.Create(ctx, s.pool, "analyst", auth.Analyst, "test")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var bad []string
	note := func(r response) {
		mu.Lock()
		defer mu.Unlock()
		statuses[r.status]++
		if r.status >= 500 && (r.status != 503 || r.header.Get("Retry-After") == "") {
			bad = append(bad, fmt.Sprintf("%d %.200s", r.status, r.body))
		}
	}
	const uploads = 8
	for u := range uploads {
		wg.Go(func() {
			body := manyFields(fmt.Sprintf("R%d", u), 30)
			time.Sleep(time.Duration(u) * 150 * time.Millisecond)
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
				note(r)
				if r.status == 201 || r.status == 200 {
					return
				}
			}
			mu.Lock()
			bad = append(bad, fmt.Sprintf("upload %d never got through", u))
			mu.Unlock()
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			note(s.do(t, "GET", "/api/v1/summary", analyst, ""))
			time.Sleep(20 * time.Millisecond)
		}
	})
	time.Sleep(300 * time.Millisecond)
	if out, err := exec.Command("sh", "-c", restart).CombinedOutput(); err != nil {
		t.Fatalf("restart: %v %s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for s.do(t, "GET", "/readyz", "", "").status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("not ready a minute after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d bad answers, first: %s", len(bad), bad[0])
	}
	var accepted, fields int
	s.pool.QueryRow(ctx, "SELECT count(*) FROM uploads WHERE status = 'accepted'").Scan(&accepted)
	s.pool.QueryRow(ctx, "SELECT count(*) FROM clearances").Scan(&fields)
	if accepted != uploads || fields != uploads*30 {
		t.Fatalf("after the restart: %d accepted uploads, %d fields; want %d and %d", accepted, fields, uploads, uploads*30)
	}
	t.Logf("answers during the run: %v", statuses)
}
