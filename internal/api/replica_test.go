package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/store"
	"clearmap/internal/testdb"
)

// timeStamp is an OGC page's timeStamp member.
var timeStamp = regexp.MustCompile(`"timeStamp":"[^"]*"`)

// TestStandbys runs two servers reading from a streaming hot standby of a
// primary (throwaway clusters of the test's own) and a third reading only
// from the primary, as a reference. The standby replays with a delay, so
// the test can tell where each read went: every read route answers from
// the standby as the reference does once it has replayed; a writer reads
// its own write at once on either server, others only after the delay, and
// tile caches neither serve nor keep tiles from before it; a standby that
// is down or lags too much is skipped and used again when it is back; and
// when the primary stops and the standby is promoted, writes answer 503
// with Retry-After until it is, then succeed, nothing lost or counted twice.
func TestStandbys(t *testing.T) {
	ctx := context.Background()
	const (
		delay  = 4 * time.Second // the standby's replay delay while lagging
		maxLag = 8 * time.Second
		poll   = 200 * time.Millisecond
	)
	primary := testdb.StartCluster(t)
	name := primary.WithBoundaries(t).Config().ConnConfig.Database
	standby := primary.StartStandby(t, 0)
	// DATABASE_URL as for a failover: both hosts, whichever takes writes.
	primaryURL := strings.Replace(primary.DatabaseURL(name), fmt.Sprintf("127.0.0.1:%d", primary.Port()),
		fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", primary.Port(), standby.Port()), 1) + "&target_session_attrs=read-write"

	watching, stopWatching := context.WithCancel(ctx)
	t.Cleanup(stopWatching)
	server := func(withStandby bool) (*service, *store.Pools) {
		pool := testdb.Open(t, primaryURL)
		var reads *store.Pools
		if withStandby {
			sb, err := store.OpenStandby(ctx, standby.DatabaseURL(name), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sb.Close)
			reads = store.NewPools(pool, []*pgxpool.Pool{sb}, maxLag)
			go reads.Watch(watching, slog.New(slog.DiscardHandler), poll)
		}
		return startWith(t, pool, func(d *api.Deps) {
			d.Reads, d.UploadsPerMinute = reads, 0
			if reads != nil {
				d.Metrics.WatchStandbys(reads) // as serve does
			}
		}), reads
	}
	a, readsA := server(true)
	b, readsB := server(true)
	ref, _ := server(false)
	usable := func(want bool, what string) {
		t.Helper()
		testdb.Eventually(t, what, func() bool {
			return readsA.Standbys()[0].Usable == want && readsB.Standbys()[0].Usable == want
		})
	}
	usable(true, "the standby to be used")
	setDelay := func(d time.Duration) {
		t.Helper()
		standby.Configure(fmt.Sprintf("recovery_min_apply_delay = '%dms'", d.Milliseconds()))
		standby.Reload()
		time.Sleep(300 * time.Millisecond) // the startup process rereads it
	}

	uploader := createToken(t, a, "team", auth.Uploader)
	analyst := createToken(t, a, "analyst", auth.Analyst)
	admin := createToken(t, a, "boss", auth.Admin)
	upload := func(s *service, token string, body []byte, want int) receipt {
		t.Helper()
		r := s.post(t, "/api/v1/uploads", token, "application/geo+json", body)
		if r.status != want {
			t.Fatalf("upload: %d %.300s, want %d", r.status, r.body, want)
		}
		return receiptOf(t, r)
	}
	get := func(s *service, token, path string) string {
		t.Helper()
		r := s.do(t, "GET", path, token, "")
		if r.status != 200 {
			t.Fatalf("GET %s: %d %.300s", path, r.status, r.body)
		}
		// OGC pages carry the time they were made.
		return timeStamp.ReplaceAllString(strings.ReplaceAll(r.body, s.url, "SERVER"), `"timeStamp":""`)
	}
	// Every read route, on the first upload's data.
	u0 := upload(a, uploader, fieldsFrom("U0", 30, 71.05, 33.95), 201)
	testdb.Eventually(t, "the first upload replayed", func() bool {
		return get(b, analyst, "/api/v1/summary") == get(ref, analyst, "/api/v1/summary")
	})
	var items struct {
		Features []struct{ ID json.Number } `json:"features"`
	}
	if err := json.Unmarshal([]byte(get(ref, analyst, "/ogc/collections/clearances/items?limit=5")), &items); err != nil || len(items.Features) == 0 {
		t.Fatalf("no OGC items: %v", err)
	}
	field := maptile.At(orb.Point{71.06, 33.955}, 10)
	low := maptile.At(orb.Point{71.06, 33.955}, 6)
	tile := func(tc maptile.Tile) string { return fmt.Sprintf("/tiles/%d/%d/%d.mvt", tc.Z, tc.X, tc.Y) }
	routes := []string{
		"/api/v1/summary", "/api/v1/districts", "/api/v1/districts?format=csv", "/api/v1/districts/PK-KP-KHYBER",
		"/api/v1/progress", "/api/v1/reported", "/api/v1/uploads", fmt.Sprintf("/api/v1/uploads/%d", u0.ID),
		fmt.Sprintf("/api/v1/uploads/%d/raw", u0.ID), "/ogc/collections/clearances", "/ogc/collections/clearances/items?limit=1000",
		"/ogc/collections/clearances/items/" + items.Features[0].ID.String(), tile(field), tile(low),
	}
	answers := func(s *service, token string) map[string]string {
		t.Helper()
		m := map[string]string{}
		for _, path := range routes {
			m[path] = get(s, token, path)
		}
		return m
	}
	same := func(what string, got, want map[string]string, paths ...string) {
		t.Helper()
		if len(paths) == 0 {
			paths = routes
		}
		for _, path := range paths {
			if got[path] != want[path] {
				t.Fatalf("%s: GET %s:\n%.400s\nwant\n%.400s", what, path, got[path], want[path])
			}
		}
	}
	before := answers(ref, analyst)
	same("server a, from the standby", answers(a, analyst), before)
	// Server b has the field's tile in its cache; the low-zoom one it will
	// build while the standby lags.
	get(b, analyst, tile(field))

	// Lagging: a writer reads its own writes at once, on either server;
	// an analyst sees them when the standby has replayed them.
	setDelay(delay)
	wrote := time.Now()
	upload(a, admin, fieldsFrom("U1", 40, 71.05, 33.96), 201)
	u2 := upload(b, uploader, fieldsFrom("U2", 10, 71.12, 33.97), 201)
	laggingB := answers(b, analyst)
	if took := time.Since(wrote); took > delay*3/4 {
		t.Fatalf("the lagging reads took %v, too close to the standby's delay %v to tell", took, delay)
	}
	same("an analyst on server b while the standby lags", laggingB, before)
	after := answers(ref, analyst)
	for _, path := range []string{"/api/v1/summary", "/api/v1/districts", "/ogc/collections/clearances/items?limit=1000", tile(field), tile(low)} {
		if after[path] == before[path] {
			t.Fatalf("GET %s did not change with two uploads", path)
		}
	}
	same("the writer on server a", answers(a, admin), answers(ref, admin))
	same("the writer on server b", answers(b, admin), answers(ref, admin))
	for _, s := range []*service{a, b} {
		if got, want := get(s, uploader, "/api/v1/uploads"), get(ref, uploader, "/api/v1/uploads"); got != want || !strings.Contains(got, fmt.Sprintf(`"id":%d`, u2.ID)) {
			t.Fatalf("the uploader's own uploads:\n%.300s\nwant\n%.300s", got, want)
		}
	}
	testdb.Eventually(t, "server b's figures replayed", func() bool {
		return get(b, analyst, "/api/v1/summary") == after["/api/v1/summary"]
	})
	replayed := time.Since(wrote)
	if replayed < delay {
		t.Fatalf("an analyst on server b saw the uploads after %v, before the standby's delay of %v", replayed, delay)
	}
	// The tile caches drop the tiles once each server's own poll has seen
	// the replay (up to one poll after the figures show it); neither the
	// stale tile nor one built before the replay stays.
	for _, s := range []*service{b, a} {
		testdb.Eventually(t, "the tiles replayed", func() bool {
			return get(s, analyst, tile(field)) == after[tile(field)] && get(s, analyst, tile(low)) == after[tile(low)]
		})
	}
	same("an analyst on server b after the replay", answers(b, analyst), after)
	same("an analyst on server a after the replay", answers(a, analyst), after)
	t.Logf("an analyst on the other server saw the uploads after %v (replay delay %v)", replayed.Round(time.Millisecond), delay)

	// A reported figure and a retraction: the admin's own reads show them
	// at once on the other server, an analyst's after the delay.
	before = after
	if r := b.do(t, "POST", "/api/v1/reported", admin, `{"scope":"PK-KP","from":"2026-01-01","to":"2026-12-31","acres":1234,"source":"test"}`); r.status != 201 {
		t.Fatalf("reported figure: %d %.300s", r.status, r.body)
	}
	if r := b.do(t, "DELETE", fmt.Sprintf("/api/v1/uploads/%d", u2.ID), admin, ""); r.status != 200 {
		t.Fatalf("retraction: %d %.300s", r.status, r.body)
	}
	same("an analyst on server a while the standby lags", answers(a, analyst), before, "/api/v1/reported", "/api/v1/summary", tile(field))
	after = answers(ref, analyst)
	same("the admin on server a", answers(a, admin), answers(ref, admin))
	testdb.Eventually(t, "the figure and the retraction replayed", func() bool {
		return get(a, analyst, "/api/v1/summary") == after["/api/v1/summary"] && get(a, analyst, tile(field)) == after[tile(field)]
	})
	same("an analyst on server a after the replay", answers(a, analyst), after)

	// The standby stopped: reads go on from the primary; started again,
	// it is used again (an analyst's reads lag once more).
	standby.Stop()
	usable(false, "the stopped standby to be skipped")
	standbyMetric := fmt.Sprintf(`clearmap_db_standby_usable{address="127.0.0.1:%d",standby="0"} `, standby.Port())
	if m := get(b, admin, "/metrics"); !strings.Contains(m, standbyMetric+"0\n") {
		t.Fatalf("the metrics do not say the standby is skipped (%s0):\n%s", standbyMetric, m)
	}
	same("an analyst on server b with the standby down", answers(b, analyst), after)
	standby.Start()
	usable(true, "the restarted standby to be used again")
	if m := get(b, admin, "/metrics"); !strings.Contains(m, standbyMetric+"1\n") {
		t.Fatalf("the metrics do not say the standby is used (%s1)", standbyMetric)
	}
	before = after
	if r := a.do(t, "POST", "/api/v1/reported", admin, `{"scope":"PK-KP-KHYBER","from":"2026-01-01","to":"2026-12-31","acres":99,"source":"test"}`); r.status != 201 {
		t.Fatalf("reported figure: %d %.300s", r.status, r.body)
	}
	same("an analyst on server b from the restarted standby", answers(b, analyst), before, "/api/v1/reported")
	testdb.Eventually(t, "the figure replayed", func() bool {
		return get(b, analyst, "/api/v1/reported") == get(ref, analyst, "/api/v1/reported")
	})

	// Lagging more than the maximum: skipped, so reads show the primary.
	setDelay(time.Hour)
	if r := a.do(t, "POST", "/api/v1/reported", admin, `{"scope":"PK-BA","from":"2026-01-01","to":"2026-12-31","acres":7,"source":"test"}`); r.status != 201 {
		t.Fatalf("reported figure: %d %.300s", r.status, r.body)
	}
	stale := get(b, analyst, "/api/v1/reported")
	if stale == get(ref, analyst, "/api/v1/reported") {
		t.Fatal("an analyst on server b saw the figure at once from a standby replaying an hour late")
	}
	for deadline := time.Now().Add(maxLag + 5*time.Second); readsB.Standbys()[0].Usable; time.Sleep(poll) {
		if time.Now().After(deadline) {
			t.Fatalf("the standby is still used %v after a write it has not replayed (lag %v)", maxLag+5*time.Second, readsB.Standbys()[0].Lag)
		}
	}
	if lag := readsB.Standbys()[0].Lag; lag <= maxLag {
		t.Fatalf("skipped at a lag of %v, within the maximum %v", lag, maxLag)
	}
	same("an analyst on server b with the standby lagging too much", answers(b, analyst), answers(ref, analyst))
	setDelay(0)
	usable(true, "the standby to be used again once caught up")
	same("an analyst on server b from the caught-up standby", answers(b, analyst), answers(ref, analyst))

	// Failover: the primary stops; until the standby is promoted writes
	// answer 503 with Retry-After; then they succeed, once.
	acceptedBefore, fieldsBefore := stored(t, a)
	body := fieldsFrom("U3", 20, 71.05, 33.99)
	primary.Stop()
	r := a.post(t, "/api/v1/uploads", uploader, "application/geo+json", body)
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "/problems/database-unavailable") {
		t.Fatalf("an upload with the primary down: %d Retry-After %q %.300s", r.status, r.header.Get("Retry-After"), r.body)
	}
	standby.Promote()
	// Each server finds the new primary on its own: a client retries as
	// the 503 tells it to.
	retries := 0
	retried := func(s *service) response {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			r := s.post(t, "/api/v1/uploads", uploader, "application/geo+json", body)
			if r.status != 503 {
				return r
			}
			if r.header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %.300s", r.body)
			}
			if retries++; time.Now().After(deadline) {
				t.Fatal("writes still fail 30 s after the standby was promoted")
			}
		}
	}
	if r = retried(a); r.status != 201 {
		t.Fatalf("the upload after the failover: %d %.300s", r.status, r.body)
	}
	u3 := receiptOf(t, r)
	if r = retried(b); r.status != 200 || receiptOf(t, r).ID != u3.ID {
		t.Fatalf("the upload sent again after the failover: %d %.300s, want 200 and upload %d", r.status, r.body, u3.ID)
	}
	if accepted, fields := stored(t, b); accepted != acceptedBefore+1 || fields != fieldsBefore+20 {
		t.Fatalf("after the failover: %d accepted uploads and %d fields; want %d and %d", accepted, fields, acceptedBefore+1, fieldsBefore+20)
	}
	var summary struct{ Fields int }
	if err := json.Unmarshal([]byte(get(b, analyst, "/api/v1/summary")), &summary); err != nil {
		t.Fatal(err)
	}
	// U0, U1 and U3 count; U2 was retracted.
	if summary.Fields != 30+40+20 {
		t.Fatalf("after the failover the summary counts %d fields, want %d", summary.Fields, 30+40+20)
	}
	t.Logf("failover: %d answers of 503 with Retry-After after the promotion", retries)
}
