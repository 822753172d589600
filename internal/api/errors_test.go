package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// problemBody is an RFC 9457 problem details object as clearmap sends it.
type problemBody struct {
	Type     string
	Title    string
	Status   int
	Detail   string
	Problems []struct {
		Index   int
		FieldID string `json:"field_id"`
		Pointer string
		Message string
	}
	Upload *receipt
}

// wantProblem checks that r is an RFC 9457 problem with this status, whose
// type is typ (when not empty) and whose detail, or a listed problem's
// pointer and message, says msg.
func wantProblem(t *testing.T, r response, status int, typ, msg string) problemBody {
	t.Helper()
	var p problemBody
	if r.status != status {
		t.Fatalf("status %d, want %d: %.400s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json: %.400s", ct, r.body)
	}
	r.json(t, &p)
	var members map[string]json.RawMessage
	r.json(t, &members)
	for _, m := range []string{"type", "title", "status", "detail"} {
		if _, ok := members[m]; !ok {
			t.Fatalf("problem lacks %q: %.400s", m, r.body)
		}
	}
	if p.Status != r.status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem members do not match the answer %d: %.400s", r.status, r.body)
	}
	if typ != "" && p.Type != typ {
		t.Fatalf("type %q, want %q", p.Type, typ)
	}
	text := p.Detail
	for _, q := range p.Problems {
		text += "\n" + q.Pointer + ": " + q.Message
	}
	if !strings.Contains(text, msg) {
		t.Fatalf("%q does not say %q", text, msg)
	}
	return p
}

// TestErrorsSayWhatHappened sends requests that used to be answered 503
// "database unavailable" although the client was at fault, and the common
// 4xx: each is a problem+json naming the parameter, feature or property,
// and a rejected upload stores no field.
func TestErrorsSayWhatHappened(t *testing.T) {
	ctx := context.Background()
	s := startWith(t, testdb.WithBoundaries(t), func(d *api.Deps) { d.UploadsPerMinute = 0 })
	up, _ := auth.Create(ctx, s.pool, "team", auth.Uploader, "test")
	analyst, _ := auth.Create(ctx, s.pool, "reader", auth.Analyst, "test")
	admin, _ := auth.Create(ctx, s.pool, "boss", auth.Admin, "test")
	fc := func(props string) string {
		return `{"type":"FeatureCollection","features":[` + polygonFeature(props, okSquare) + `]}`
	}
	const (
		rejectedUpload = "/problems/upload-rejected"
		blank          = blankType
		badParameter   = "/problems/invalid-parameter"
	)
	for _, c := range []struct {
		name, method, path, token, contentType, body string
		header                                       []string
		status                                       int
		typ, msg                                     string
	}{
		{"lone surrogate in a property", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"notes":"cut \ud83c"`), nil,
			422, rejectedUpload, "/features/0/properties/notes: notes holds a lone UTF-16 surrogate"},
		{"lone low surrogate", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"extra":{"a":["\udc00x"]}`), nil,
			422, rejectedUpload, "/features/0/properties/extra: extra holds a lone UTF-16 surrogate"},
		{"NUL in a property", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"team":"a\u0000b"`), nil,
			422, rejectedUpload, `/features/0/properties/team: team holds a NUL character (\u0000)`},
		{"NUL in a property name", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"a\u0000b":1`), nil,
			422, rejectedUpload, `a property name holds a NUL character`},
		{"NUL in a feature type", "POST", "/api/v1/uploads", up, "application/geo+json",
			`{"type":"FeatureCollection","features":[{"type":"Poly\u0000gon","properties":{},"geometry":null}]}`, nil,
			422, rejectedUpload, `/features/0/type: a "Poly\x00gon" is not accepted`},
		{"a number jsonb cannot hold", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"x":1e200000`), nil,
			422, rejectedUpload, "/features/0/properties/x: x holds the number 1e200000, out of range"},
		{"a number jsonb cannot hold, partial upload", "POST", "/api/v1/uploads?partial=true", up, "application/geo+json", fc(okProps + `,"x":{"y":-1e-200000}`), nil,
			422, rejectedUpload, "/features/0/properties/x: x holds the number -1e-200000, out of range"},
		{"reported_area past every bound", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"reported_area":1e308,"reported_unit":"acre"`), nil,
			422, rejectedUpload, "/features/0/properties/reported_area: reported_area 1e+308 acre is out of range"},
		{"reported_area with a unit in it", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"reported_area":"5 acres","reported_unit":"acre"`), nil,
			422, rejectedUpload, `/features/0/properties/reported_area: reported_area "5 acres" is not a number`},
		{"NUL in an upload query value", "POST", "/api/v1/uploads?team=a%00b", up, "application/geo+json", fc(okProps), nil,
			400, badParameter, "team"},
		{"Idempotency-Key not UTF-8", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps), []string{"Idempotency-Key", "k\xff"},
			400, blank, "Idempotency-Key"},
		{"from in year 0", "GET", "/api/v1/summary?from=0000-01-01", analyst, "", "", nil,
			400, badParameter, `from="0000-01-01": want a date, YYYY-MM-DD, from 0001-01-01 to 9999-12-31`},
		{"to in year 10000", "GET", "/api/v1/districts?to=10000-01-01", analyst, "", "", nil,
			400, badParameter, `to="10000-01-01"`},
		{"datetime in year 0", "GET", "/ogc/collections/clearances/items?datetime=0000-01-01T00:00:00Z", analyst, "", "", nil,
			400, badParameter, "datetime="},
		{"tile filter in year 0", "GET", "/tiles/5/22/13.mvt?to=0000-12-31", analyst, "", "", nil,
			400, badParameter, "to="},
		{"NUL in a query value", "GET", "/api/v1/districts?province=%00", analyst, "", "", nil,
			400, badParameter, "province"},
		{"query value not UTF-8", "GET", "/api/v1/summary?crop=%ff", analyst, "", "", nil,
			400, badParameter, "crop"},
		{"query name not UTF-8", "GET", "/api/v1/summary?%ff=1", analyst, "", "", nil,
			400, badParameter, "query parameter"},
		{"NUL in a path", "GET", "/api/v1/districts/PK%00", analyst, "", "", nil,
			404, blank, "no such resource"},
		{"path not UTF-8", "GET", "/ogc/collections/districts/items/%ff", analyst, "", "", nil,
			404, blank, "no such resource"},
		{"NUL in a token name", "DELETE", "/api/v1/tokens/x%00", admin, "", "", nil,
			404, blank, "no such resource"},
		{"reported figure dated year 0", "POST", "/api/v1/reported", admin, "application/json",
			`{"scope":"PK","from":"0000-01-01","to":"2026-01-01","acres":1,"source":"s"}`, nil,
			422, blank, `from "0000-01-01": want a date, YYYY-MM-DD, from 0001-01-01 to 9999-12-31`},
		{"NUL in a reported figure", "POST", "/api/v1/reported", admin, "application/json",
			`{"scope":"PK\u0000","from":"2026-01-01","to":"2026-01-01","acres":1,"source":"a\u0000"}`, nil,
			422, blank, `source must be text without NUL characters`},
		{"no token", "GET", "/api/v1/summary", "", "", "", nil, 401, blank, "a token is required"},
		{"wrong role", "GET", "/api/v1/summary", up, "", "", nil, 403, blank, "the uploader role may not do this"},
		{"no such route", "GET", "/api/v1/nothing", analyst, "", "", nil, 404, blank, "no such resource: /api/v1/nothing"},
		{"no such file", "GET", "/assets/nothing.js", "", "", "", nil, 404, blank, "no such resource: /assets/nothing.js"},
		{"wrong method", "PUT", "/api/v1/summary", analyst, "", "", nil, 405, blank, "PUT is not allowed on /api/v1/summary; allowed: GET, HEAD"},
		{"too large", "POST", "/api/v1/uploads", up, "application/geo+json", fc(okProps + `,"notes":"` + strings.Repeat("n", 70000) + `"`), nil,
			413, blank, "the upload is larger than 65536 bytes"},
		{"wrong content type", "POST", "/api/v1/uploads", up, "text/csv", "a,b", nil, 415, blank, `Content-Type "text/csv" is not accepted`},
	} {
		t.Run(c.name, func(t *testing.T) {
			fields := count(t, s.pool, "clearances")
			r := s.send(t, c.method, c.path, c.token, []byte(c.body), append([]string{"Content-Type", c.contentType}, c.header...)...)
			p := wantProblem(t, r, c.status, c.typ, c.msg)
			if n := count(t, s.pool, "clearances"); n != fields {
				t.Fatalf("%d fields stored by a rejected request", n-fields)
			}
			if c.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("405 with Allow %q, want GET, HEAD", r.header.Get("Allow"))
			}
			if c.typ == rejectedUpload && (p.Upload == nil || p.Upload.Status != "rejected" || p.Upload.ID == 0) {
				t.Fatalf("a rejected upload's problem lacks its receipt: %.400s", r.body)
			}
		})
	}

	// Text that only looks like an escape is stored as sent.
	looksLikeNUL := fc(okProps + `,"notes":"C:\\u0000x \\ud800"`)
	r := s.post(t, "/api/v1/uploads", up, "application/geo+json", []byte(looksLikeNUL))
	if r.status != 201 {
		t.Fatalf("an escaped backslash before u0000: %d %s", r.status, r.body)
	}
	var notes string
	if err := s.pool.QueryRow(ctx, "SELECT notes FROM clearances ORDER BY id DESC LIMIT 1").Scan(&notes); err != nil {
		t.Fatal(err)
	}
	if notes != `C:\u0000x \ud800` {
		t.Fatalf("notes stored as %q", notes)
	}
	// So is a surrogate pair: a whole emoji.
	emoji := fc(`"crop":"poppy","cleared_on":"2026-03-13","notes":"done \ud83c\udf3e"`)
	if r := s.post(t, "/api/v1/uploads", up, "application/geo+json", []byte(emoji)); r.status != 201 {
		t.Fatalf("an emoji as a surrogate pair: %d %s", r.status, r.body)
	}
}

// count counts a table's rows.
func count(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotencyKeyOfARetractedUpload: a retry under the key of an upload
// since retracted is refused with 409 naming the retraction, and stores
// nothing; a new key stores the data again.
func TestIdempotencyKeyOfARetractedUpload(t *testing.T) {
	s, tokens := uploadService(t)
	up := tokens[auth.Uploader]
	body := []byte(`{"type":"FeatureCollection","features":[` + field + `]}`)
	first := s.post(t, "/api/v1/uploads", up, "application/geo+json", body, "Idempotency-Key", "phone-1")
	var rc receipt
	first.json(t, &rc)
	if first.status != 201 {
		t.Fatalf("%d %s", first.status, first.body)
	}
	if r := s.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", rc.ID), tokens[auth.Admin], ""); r.status != 200 {
		t.Fatalf("retract: %d %s", r.status, r.body)
	}
	uploads := count(t, s.pool, "uploads")
	for range 2 { // the same answer every time, not 503 forever
		r := s.post(t, "/api/v1/uploads", up, "application/geo+json", body, "Idempotency-Key", "phone-1")
		wantProblem(t, r, 409, "/problems/idempotency-key-retracted",
			fmt.Sprintf(`Idempotency-Key "phone-1" was used for upload %d, which t-admin retracted`, rc.ID))
	}
	if n := count(t, s.pool, "uploads"); n != uploads {
		t.Fatalf("the refused retry stored %d uploads", n-uploads)
	}
	if r := s.post(t, "/api/v1/uploads", up, "application/geo+json", body, "Idempotency-Key", "phone-2"); r.status != 201 {
		t.Fatalf("a new key: %d %s", r.status, r.body)
	}
}

// TestDatabaseUnreachable: with nothing listening where the database should
// be, requests that need it get 503 with Retry-After.
func TestDatabaseUnreachable(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://root@127.0.0.1:1/clearmap?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := startWith(t, testdb.Migrated(t), func(d *api.Deps) { d.DB, d.Tokens = pool, auth.NewCache(pool, nil) })
	for _, path := range []string{"/readyz", "/api/v1/me"} {
		r := s.do(t, "GET", path, "cm_anything", "")
		wantProblem(t, r, 503, "/problems/database-unavailable", "database unavailable: it could not be reached")
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("%s: 503 without Retry-After", path)
		}
	}
}

// TestClientGoneAndDraining: a request whose client hung up is logged as
// such with status 499, not as a 5xx; one cut off because the server is
// shutting down is a 503 with Retry-After.
func TestClientGoneAndDraining(t *testing.T) {
	s, tokens := uploadService(t)
	serve := func(ctx context.Context) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/v1/summary", nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+tokens[auth.Analyst])
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, req)
		return w
	}
	gone, hangUp := context.WithCancel(context.Background())
	hangUp()
	if w := serve(gone); w.Code != 499 {
		t.Fatalf("client gone: %d %s", w.Code, w.Body)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "client closed request") || strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "unavailable") {
		t.Fatalf("logs: %s", logs)
	}
	if m := s.do(t, "GET", "/metrics", tokens[auth.Admin], "").body; !strings.Contains(m, `status="499"`) || strings.Contains(m, `status="5`) {
		t.Fatalf("metrics:\n%s", m)
	}

	draining, drain := context.WithCancelCause(context.Background())
	drain(api.ErrDraining)
	w := serve(draining)
	r := response{w.Code, w.Header(), w.Body.String()}
	wantProblem(t, r, 503, "/problems/draining", "shutting down")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
}

// TestBugsAre500WithTheRequestID: an error that is nobody's fault but the
// code's is a 500 naming the request id, logged at error level with it.
func TestBugsAre500WithTheRequestID(t *testing.T) {
	s, tokens := uploadService(t)
	if _, err := s.pool.Exec(context.Background(), "DROP TABLE reported_figures CASCADE"); err != nil {
		t.Fatal(err)
	}
	r := s.send(t, "GET", "/api/v1/reported", tokens[auth.Analyst], nil, "X-Request-Id", "bug-1")
	wantProblem(t, r, 500, blankType, "internal error; request id bug-1")
	if logs := s.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "request_id=bug-1") {
		t.Fatalf("logs: %s", logs)
	}
}

const blankType = "about:blank"

// TestJSONBodiesHoldOneObject: the small JSON bodies (a new token, a
// reported figure, a sign-in) are application/json holding one object and
// nothing after it; anything else is refused before it changes anything.
func TestJSONBodiesHoldOneObject(t *testing.T) {
	ctx := context.Background()
	s, tokens := uploadService(t)
	admin := tokens[auth.Admin]
	reported := `{"scope":"PK","from":"2026-01-01","to":"2026-12-31","acres":40659,"source":"ANF"}`
	for _, c := range []struct {
		name, path, contentType, body string
		status                        int
		msg                           string
	}{
		{"two tokens", "/api/v1/tokens", "application/json", `{"name":"zz1","role":"analyst"}{"name":"zz2","role":"admin"}`,
			400, "more data after the JSON object"},
		{"a token and garbage", "/api/v1/tokens", "application/json", `{"name":"zz3","role":"analyst"} garbage`,
			400, "more data after the JSON object"},
		{"a token as text", "/api/v1/tokens", "text/plain", `{"name":"zz4","role":"analyst"}`,
			415, `takes Content-Type: application/json, not "text/plain"`},
		{"a token as a form", "/api/v1/tokens", "application/x-www-form-urlencoded", `{"name":"zz5","role":"analyst"}`,
			415, "application/json"},
		{"a figure and another", "/api/v1/reported", "application/json", reported + `{"a":1}`,
			400, "more data after the JSON object"},
		{"a sign-in and another", "/api/v1/session", "application/json", `{"token":"` + tokens[auth.Analyst] + `"}{"token":"x"}`,
			400, "more data after the JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, s.post(t, c.path, admin, c.contentType, []byte(c.body)), c.status, "", c.msg)
		})
	}
	var tokensMade, figures int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM tokens WHERE name LIKE 'zz%'), (SELECT count(*) FROM reported_figures)`).Scan(&tokensMade, &figures); err != nil {
		t.Fatal(err)
	}
	if tokensMade != 0 || figures != 0 {
		t.Fatalf("refused bodies stored %d tokens and %d reported figures", tokensMade, figures)
	}
	// One object, with white space after it, is taken.
	if r := s.post(t, "/api/v1/tokens", admin, "application/json; charset=utf-8", []byte(`{"name":"zz6","role":"analyst"}`+" \n")); r.status != 201 {
		t.Fatalf("one token: %d %s", r.status, r.body)
	}
}

// TestEveryGetAnswersHead: each GET route answers HEAD with the status and
// headers GET gives, and no body (SPEC §4; RFC 9110 §9.3.2).
func TestEveryGetAnswersHead(t *testing.T) {
	s, tokens := uploadService(t)
	admin := tokens[auth.Admin]
	for _, path := range []string{"/healthz", "/readyz", "/", "/tiles.json", "/style.json", "/tiles/5/22/13.mvt",
		"/ogc", "/ogc/collections/districts/items?limit=1", "/api/v1/summary", "/api/v1/progress?by=week", "/api/v1/districts?format=csv", "/metrics"} {
		get := s.do(t, "GET", path, admin, "")
		head := s.do(t, "HEAD", path, admin, "")
		if get.status != 200 || head.status != 200 || head.body != "" ||
			head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("%s: GET %d %q, HEAD %d %q with %d bytes of body", path, get.status, get.header.Get("Content-Type"),
				head.status, head.header.Get("Content-Type"), len(head.body))
		}
	}
	// A route without GET still refuses HEAD.
	if r := s.do(t, "HEAD", "/api/v1/reported/1", admin, ""); r.status != 405 || r.header.Get("Allow") != "DELETE" {
		t.Errorf("HEAD on a DELETE-only route: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}
