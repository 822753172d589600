package api_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// TestBodiesHoldOneValue: a GeoJSON document is one value; newline-delimited
// GeoJSON and RFC 8142 sequences hold one value per line or record. Anything
// more is a 400 naming the byte where it starts, and nothing counts.
func TestBodiesHoldOneValue(t *testing.T) {
	s, tokens := uploadService(t)
	up := tokens[auth.Uploader]
	fc := func(id string, lon float64) string {
		return `{"type":"FeatureCollection","features":[` + fieldAt(id, lon, 34.05) + `]}`
	}
	a, b := fc("A-1", 71.10), fc("B-1", 71.11)
	fa, fb := fieldAt("C-1", 71.12, 34.05), fieldAt("D-1", 71.13, 34.05)
	for _, c := range []struct {
		name, contentType, body string
		at                      int // byte offset of the extra data
		msg                     string
	}{
		{"two collections back to back", "application/geo+json", a + b, len(a), "more data after the GeoJSON object"},
		{"a collection, then a newline and another", "application/json", a + "\n" + b, len(a) + 1, "more data after the GeoJSON object"},
		{"two features on one line", "application/geo+json", fa + " " + fb, len(fa) + 1, "more data after the GeoJSON object"},
		{"a stray bracket", "application/geo+json", a + " ]", len(a) + 1, "more data after the GeoJSON object"},
		{"two features on one ndjson line", "application/x-ndjson", fa + "\n" + fb + fa + "\n", len(fa) + 1 + len(fb), "a second JSON value on the same line"},
		{"two features in one sequence record", "application/geo+json-seq", "\x1e" + fa + "\n" + fb + "\n", len(fa) + 2, "a second JSON value in the same record"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.post(t, "/api/v1/uploads", up, c.contentType, []byte(c.body))
			wantError(t, r, 400, fmt.Sprintf("at byte %d: %s", c.at, c.msg))
			var n int
			if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM clearances").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("%d clearances stored", n)
			}
		})
	}
	// Blanks after the value, and one value per line or record, are fine.
	for _, c := range []struct{ name, contentType, body string }{
		{"trailing blanks", "application/geo+json", a + " \r\n\t\n"},
		{"ndjson", "application/x-ndjson", fa + "  \r\n" + fb + "\n"},
		{"sequence", "application/geo+json-seq", "\x1e" + fieldAt("E-1", 71.14, 34.05) + "\n\x1e" + fieldAt("E-2", 71.15, 34.05) + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := s.post(t, "/api/v1/uploads", up, c.contentType, []byte(c.body)); r.status != 201 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
}

// multipartFile is a browser form with one file part of the given type.
func multipartFile(name, partType, content string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	if partType != "" {
		h.Set("Content-Type", partType)
	}
	w, _ := mw.CreatePart(h)
	io.WriteString(w, content)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// TestRawIsServedAsData: /raw never answers with the type the uploader
// claimed (text/html would run in the reader's browser): validated GeoJSON
// is application/geo+json (or its line or sequence type), anything else
// application/octet-stream, always as an attachment and not to be sniffed.
func TestRawIsServedAsData(t *testing.T) {
	s, tokens := uploadService(t)
	html := "<html><script>alert(document.cookie)</script></html>"
	for _, c := range []struct {
		name, contentType string
		body              []byte
		status            int
		want, filename    string
	}{
		{"html claimed in a form", "", nil, 201, "application/geo+json", "upload-%d.geojson"},
		{"html rejected", "text/html", []byte(html), 415, "", ""},
		{"html sent as geojson", "application/geo+json", []byte(html), 400, "application/octet-stream", "upload-%d.bin"},
		{"ndjson", "application/x-ndjson", []byte(fieldAt("L-1", 71.11, 34.05) + "\n"), 201, "application/x-ndjson", "upload-%d.geojsonl"},
		{"sequence", "application/geo+json-seq", []byte("\x1e" + fieldAt("S-1", 71.12, 34.05) + "\n"), 201, "application/geo+json-seq", "upload-%d.geojsons"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, ct := c.body, c.contentType
			if body == nil {
				body, ct = multipartFile("fields.html", "text/html", fieldAt("H-1", 71.10, 34.05))
			}
			r := s.post(t, "/api/v1/uploads", tokens[auth.Uploader], ct, body)
			if r.status != c.status {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			if c.want == "" {
				return
			}
			raw := s.do(t, "GET", fmt.Sprintf("/api/v1/uploads/%d/raw", receiptOf(t, r).ID), tokens[auth.Analyst], "")
			h := raw.header
			if raw.status != 200 || h.Get("Content-Type") != c.want || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="`+c.filename+`"`, receiptOf(t, r).ID) {
				t.Fatalf("raw: %d %v", raw.status, h)
			}
			if c.contentType != "" && raw.body != string(c.body) {
				t.Fatalf("raw body %q", raw.body)
			}
		})
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestGzipUploads: a gzip-encoded body is decompressed, with the size limit
// on the decompressed bytes and a bound on how far it may expand; other
// encodings are 415.
func TestGzipUploads(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.MaxUploadBytes = 8 << 20 })
	up, err := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	if err != nil {
		t.Fatal(err)
	}
	analyst, err := auth.Create(ctx, s.pool, "analyst", auth.Analyst, "test")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"FeatureCollection","features":[` + fieldAt("Z-1", 71.10, 34.05) + `]}`)
	r := s.post(t, "/api/v1/uploads", up, "application/geo+json", gzipped(body), "Content-Encoding", "gzip")
	var rc receipt
	r.json(t, &rc)
	if r.status != 201 || rc.Features != 1 {
		t.Fatalf("gzip upload: %d %s", r.status, r.body)
	}
	raw := s.do(t, "GET", fmt.Sprintf("/api/v1/uploads/%d/raw", rc.ID), analyst, "")
	if raw.status != 200 || raw.body != string(body) {
		t.Fatalf("raw of a gzip upload: %d %q", raw.status, raw.body)
	}
	var sum []byte
	if err := s.pool.QueryRow(ctx, "SELECT sha256 FROM uploads WHERE id = $1", rc.ID).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		t.Fatal("sha256 is not that of the decompressed body")
	}
	// The same data sent plain is a repeat of it.
	if again := s.post(t, "/api/v1/uploads", up, "application/geo+json", body); again.status != 200 {
		t.Fatalf("plain repeat: %d %s", again.status, again.body)
	}

	before := countUploads(t, s)
	// 4 MiB of blanks, under the limit, but a thousand-fold expansion.
	bomb := gzipped(append(append([]byte{}, body...), bytes.Repeat([]byte(" "), 4<<20)...))
	wantError(t, s.post(t, "/api/v1/uploads", up, "application/geo+json", bomb, "Content-Encoding", "gzip"), 413, "the gzip body expands more than 200-fold")
	// Over the limit once decompressed, though under it as sent: digits
	// that compress only two-fold.
	random := rand.New(rand.NewPCG(1, 2))
	digits := make([]byte, 9<<20)
	for i := range digits {
		digits[i] = '0' + byte(random.IntN(10))
	}
	big := gzipped([]byte(`{"type":"FeatureCollection","features":[],"pad":"` + string(digits) + `"}`))
	if len(big) > 8<<20 {
		t.Fatalf("the compressed body is %d bytes", len(big))
	}
	wantError(t, s.post(t, "/api/v1/uploads", up, "application/geo+json", big, "Content-Encoding", "gzip"), 413, "the upload is larger than 8388608 bytes")
	wantError(t, s.post(t, "/api/v1/uploads", up, "application/geo+json", []byte("not gzip at all"), "Content-Encoding", "gzip"), 400, "the gzip body cannot be decompressed")
	wantError(t, s.post(t, "/api/v1/uploads", up, "application/geo+json", body, "Content-Encoding", "br"), 415, `Content-Encoding "br" is not accepted`)
	if after := countUploads(t, s); after != before {
		t.Fatalf("uploads %d → %d: refused bodies were stored", before, after)
	}
}

func countUploads(t *testing.T, s *service) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM uploads").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRejectedUploadsKeepABoundedPrefix: a rejected upload keeps its
// receipt, the size and sha256 of all it sent, and only its first MiB,
// which /raw serves saying it is cut; once a token's rejected uploads of
// the last day have used its allowance, no more of their bytes are kept.
func TestRejectedUploadsKeepABoundedPrefix(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) {
		d.MaxUploadBytes = 8 << 20
		d.Ingest.RejectedBytesPerDay = 3 << 20
	})
	token, err := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	if err != nil {
		t.Fatal(err)
	}
	analyst, err := auth.Create(ctx, s.pool, "analyst", auth.Analyst, "test")
	if err != nil {
		t.Fatal(err)
	}
	noFeatures := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"type":"FeatureCollection","features":[],"pad%d":"%s"}`, i, strings.Repeat("x", 3<<20)))
	}
	for i, wantKept := range []int{1 << 20, 1 << 20, 1 << 20, 0} {
		body := noFeatures(i)
		r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
		rc := wantProblem(t, r, 422, "/problems/upload-rejected", "the upload has no features").Upload
		if rc == nil || rc.Error != "the upload has no features" {
			t.Fatalf("upload %d: %d %s", i, r.status, r.body)
		}
		var size, kept, chunks int64
		var sum []byte
		if err := s.pool.QueryRow(ctx, `SELECT size_bytes, kept_bytes, sha256,
			(SELECT coalesce(sum(octet_length(data)), 0) FROM upload_chunks WHERE upload_id = u.id)
			FROM uploads u WHERE id = $1`, rc.ID).Scan(&size, &kept, &sum, &chunks); err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(body)
		if size != int64(len(body)) || kept != int64(wantKept) || chunks != kept || !bytes.Equal(sum, want[:]) {
			t.Fatalf("upload %d: size %d kept %d chunks %d; want size %d kept %d", i, size, kept, chunks, len(body), wantKept)
		}
		raw := s.do(t, "GET", fmt.Sprintf("/api/v1/uploads/%d/raw", rc.ID), analyst, "")
		if raw.status != 200 || raw.body != string(body[:wantKept]) || raw.header.Get("Content-Length") != strconv.Itoa(wantKept) ||
			raw.header.Get("Upload-Truncated") != fmt.Sprintf("%d of %d bytes kept", wantKept, len(body)) {
			t.Fatalf("raw %d: %d, %d bytes, %v", i, raw.status, len(raw.body), raw.header)
		}
	}
	// An accepted upload keeps every byte, and its /raw says nothing is cut.
	body := []byte(`{"type":"FeatureCollection","features":[` + fieldAt("K-1", 71.10, 34.05) + `],"pad":"` + strings.Repeat("y", 2<<20) + `"}`)
	r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
	var rc receipt
	r.json(t, &rc)
	if r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	raw := s.do(t, "GET", fmt.Sprintf("/api/v1/uploads/%d/raw", rc.ID), analyst, "")
	if raw.status != 200 || raw.body != string(body) || raw.header.Get("Upload-Truncated") != "" {
		t.Fatalf("raw of an accepted upload: %d, %d bytes, %v", raw.status, len(raw.body), raw.header)
	}
}

// TestUploadsCannotStarveReads holds a district's acreage lock, so uploads
// into it wait, and sends more of them than the pool has connections:
// health, figures and tiles still answer, and once the lock goes every
// upload is stored.
func TestUploadsCannotStarveReads(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	s := startWith(t, pool, func(d *api.Deps) { d.Ingest.Concurrent = 2 })
	uploader, err := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	if err != nil {
		t.Fatal(err)
	}
	analyst, err := auth.Create(ctx, s.pool, "analyst", auth.Analyst, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Tokens are cached once used: use them before the pool is busy.
	if r := s.do(t, "GET", "/api/v1/summary", analyst, ""); r.status != 200 {
		t.Fatal(r.body)
	}
	if r := s.do(t, "GET", "/api/v1/uploads", uploader, ""); r.status != 200 {
		t.Fatal(r.body)
	}

	release := holdAcreageLock(t, pool, "PK-KP-KHYBER")
	defer release()

	uploads := int(pool.Config().MaxConns) + 2
	statuses := make([]int, uploads)
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Go(func() {
			body := []byte(fieldAt(fmt.Sprintf("W-%d", i), 71.05+0.004*float64(i), 34.05))
			req, _ := http.NewRequest("POST", s.url+"/api/v1/uploads", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+uploader)
			req.Header.Set("Content-Type", "application/geo+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	waitForLockWaiters(t, pool, 2)
	time.Sleep(100 * time.Millisecond) // let any further upload take a connection too

	get := func(path, token string) int {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/readyz", "/api/v1/summary", "/api/v1/districts", tileOf(71.1, 34.05, 8)} {
		if status := get(path, analyst); status != 200 {
			t.Errorf("%s answered %d while uploads waited on the lock", path, status)
		}
	}

	release()
	wg.Wait()
	for i, status := range statuses {
		if status != 201 {
			t.Errorf("upload %d: %d", i, status)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM clearances").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uploads {
		t.Fatalf("%d clearances stored, want %d", n, uploads)
	}
}

// holdAcreageLock takes a district's acreage maintenance lock, as an upload
// into it would, on a connection of its own; release lets it go (again is
// harmless).
func holdAcreageLock(t *testing.T, pool *pgxpool.Pool, district string) (release func()) {
	t.Helper()
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('clearmap.acreage:' || $1))", district); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Commit(ctx); err != nil {
				t.Error(err)
			}
			holder.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// waitForLockWaiters waits until n sessions wait on an advisory lock,
// watched from a connection of its own, as the pool's may all be taken.
func waitForLockWaiters(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	ctx := context.Background()
	watcher, err := pgx.Connect(ctx, pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(ctx)
	testdb.Eventually(t, fmt.Sprintf("%d uploads to wait on the acreage lock", n), func() bool {
		var waiting int
		err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&waiting)
		return err == nil && waiting >= n
	})
}

// TestBusyUploadsAre503: an upload that finds every place taken for as long
// as it may wait is a 503 with Retry-After, and nothing of it is stored.
func TestBusyUploadsAre503(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	s := startWith(t, pool, func(d *api.Deps) { d.Ingest.Concurrent, d.Ingest.QueueWait = 1, 100*time.Millisecond })
	uploader, err := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	if err != nil {
		t.Fatal(err)
	}
	release := holdAcreageLock(t, pool, "PK-KP-KHYBER")
	first := make(chan response, 1)
	go func() {
		first <- s.post(t, "/api/v1/uploads", uploader, "application/geo+json", []byte(fieldAt("B-1", 71.10, 34.05)))
	}()
	waitForLockWaiters(t, pool, 1)
	r := s.post(t, "/api/v1/uploads", uploader, "application/geo+json", []byte(fieldAt("B-2", 71.11, 34.05)))
	wantError(t, r, 503, "the server is busy storing other uploads; retry shortly")
	if r.header.Get("Retry-After") != "10" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	release()
	if r := <-first; r.status != 201 {
		t.Fatalf("the upload that had its turn: %d %s", r.status, r.body)
	}
	if n := countUploads(t, s); n != 1 {
		t.Fatalf("%d uploads stored, want the one that had its turn", n)
	}
}

// receiptOf reads an upload's receipt from its answer: the body of a 2xx,
// the problem's upload member otherwise.
func receiptOf(t *testing.T, r response) receipt {
	t.Helper()
	if r.status < 300 {
		var rc receipt
		r.json(t, &rc)
		return rc
	}
	p := wantProblem(t, r, r.status, "", "")
	if p.Upload == nil {
		t.Fatalf("%d without the upload's receipt: %s", r.status, r.body)
	}
	return *p.Upload
}

// TestAnnouncedOversizeIsRefusedAtOnce: a body whose Content-Length is over
// the limit gets its 413 before the client sends it (it may be 64 MiB over
// a field link); nothing is kept.
func TestAnnouncedOversizeIsRefusedAtOnce(t *testing.T) {
	ctx := context.Background()
	s, tokens := uploadService(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// The headers alone: the body never comes.
	if _, err := fmt.Fprintf(conn, "POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/geo+json\r\nContent-Length: 99999999999\r\n\r\n", tokens[auth.Uploader]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{resp.StatusCode, resp.Header, string(body)}
	wantProblem(t, r, 413, "", "larger than")
	var uploads int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM uploads").Scan(&uploads); err != nil {
		t.Fatal(err)
	}
	if uploads != 0 {
		t.Fatalf("%d uploads kept", uploads)
	}
}
