package tiles_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"clearmap/internal/acreage"
	"clearmap/internal/boundaries"
	"clearmap/internal/fieldgen"
	"clearmap/internal/ingest"
	"clearmap/internal/store"
	"clearmap/internal/testdb"
	"clearmap/internal/tiles"
)

func at(lon, lat float64, z int) tiles.Coordinate {
	t := maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
	return tiles.Coordinate{Z: int(t.Z), X: int(t.X), Y: int(t.Y)}
}

// fieldsAndAcres decodes a tile: the clearances in it, and the acres its
// districts layer gives the district code.
func fieldsAndAcres(t *testing.T, tile []byte, code string) (int, float64) {
	t.Helper()
	layers, err := mvt.Unmarshal(tile)
	if err != nil {
		t.Fatal(err)
	}
	fields, acres := 0, -1.0
	for _, l := range layers {
		switch l.Name {
		case "clearances":
			fields = len(l.Features)
		case "districts":
			for _, f := range l.Features {
				if f.Properties["code"] == code {
					acres = f.Properties["acres"].(float64)
				}
			}
		}
	}
	return fields, acres
}

func square(id string, lon, lat float64) string {
	return `{"type":"Feature","properties":{"field_id":"` + id + `","crop":"poppy","cleared_on":"2026-03-14"},"geometry":{"type":"Polygon","coordinates":[[[` +
		strings.Join([]string{ll(lon, lat), ll(lon+0.002, lat), ll(lon+0.002, lat+0.002), ll(lon, lat+0.002), ll(lon, lat)}, "],[") + `]]]}}`
}

func ll(lon, lat float64) string { return fmt.Sprintf("%g,%g", lon, lat) }

// storeFields stores the features given as one upload and returns its id.
func storeFields(t *testing.T, svc *ingest.Service, features ...string) int64 {
	t.Helper()
	res, err := svc.Store(context.Background(), ingest.Upload{
		Body: strings.NewReader(`{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`), Uploader: "t"})
	if err != nil || res.Outcome != ingest.Created {
		t.Fatalf("%v %+v", err, res.Receipt)
	}
	return res.Receipt.ID
}

// TestCacheServesUntilTheDataChanges runs the same story three ways: a
// cache that reads tile_changes before every answer; one told of changes
// by the process that made them (an upload through this server); and one
// told by a notification (a change made by another process).
func TestCacheServesUntilTheDataChanges(t *testing.T) {
	t.Run("checking every time", func(t *testing.T) {
		cacheStory(t, testdb.WithBoundaries(t), nil, func() {})
	})
	t.Run("told by this process", func(t *testing.T) {
		pool := testdb.WithBoundaries(t)
		signal := watch(t, pool)
		cacheStory(t, pool, signal, signal.Changed)
	})
	t.Run("told by a notification", func(t *testing.T) {
		pool := testdb.WithBoundaries(t)
		signal := watch(t, pool)
		cacheStory(t, pool, signal, notified(t, signal))
		// Told nothing, the cache does not look: a change written without
		// its notification goes unseen (until the minute's safety look).
		c := at(71.101, 34.051, 13)
		cache := tiles.NewCache(&tiles.Service{DB: pool}, 1<<20, signal)
		cache.Tile(context.Background(), c, acreage.Filter{})
		for _, q := range []string{"ALTER TABLE tile_changes DISABLE TRIGGER tile_changes_notify",
			"INSERT INTO tile_changes (bbox) VALUES (NULL)",
			"ALTER TABLE tile_changes ENABLE TRIGGER tile_changes_notify"} {
			if _, err := pool.Exec(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
		cache.Tile(context.Background(), c, acreage.Filter{})
		if s := cache.Stats(); s.Hits != 1 || s.Invalidations != 0 {
			t.Fatalf("%+v: with a live signal that did not move, the cache looked", s)
		}
	})
}

// watch starts a listener for tile changes and waits until it listens.
func watch(t *testing.T, pool *pgxpool.Pool) *store.Signal {
	signal := new(store.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go store.Watch(ctx, pool, slog.New(slog.DiscardHandler), map[string]*store.Signal{store.TileChangesChannel: signal})
	testdb.Eventually(t, "the listener to start", func() bool { _, live := signal.Version(); return live })
	return signal
}

// notified returns a function that waits until the signal has moved since
// it last returned (or since notified was called).
func notified(t *testing.T, signal *store.Signal) func() {
	last, _ := signal.Version()
	return func() {
		testdb.Eventually(t, "the notification", func() bool {
			v, _ := signal.Version()
			moved := v != last
			last = v
			return moved
		})
	}
}

// cacheStory uploads, retracts and reloads around a cache, calling changed
// after each change, and checks that each next fetch shows exactly the change.
func cacheStory(t *testing.T, pool *pgxpool.Pool, signal *store.Signal, changed func()) {
	ctx := context.Background()
	svc := &ingest.Service{DB: pool}
	cache := tiles.NewCache(&tiles.Service{DB: pool}, 1<<20, signal)
	upload := func(features ...string) int64 {
		id := storeFields(t, svc, features...)
		changed()
		return id
	}
	get := func(c tiles.Coordinate) []byte {
		tile, err := cache.Tile(ctx, c, acreage.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		return tile.MVT
	}

	upload(square("A", 71.10, 34.05))
	khyber := at(71.101, 34.051, 12)
	lahore := at(74.3587, 31.5204, 12)
	first := get(khyber)
	get(lahore)
	if n, _ := fieldsAndAcres(t, get(khyber), "PK-KP-KHYBER"); n != 1 {
		t.Fatalf("%d fields", n)
	}
	if s := cache.Stats(); s.Misses != 2 || s.Hits != 1 {
		t.Fatalf("stats %+v, want 2 misses and a hit", s)
	}

	// A field inside the Khyber tile: the very next fetch shows it and the
	// new acreage; the Lahore tile is still served from memory.
	id := upload(square("B", 71.104, 34.053))
	tile := get(khyber)
	n, acres := fieldsAndAcres(t, tile, "PK-KP-KHYBER")
	_, before := fieldsAndAcres(t, first, "PK-KP-KHYBER")
	if n != 2 || acres <= before {
		t.Fatalf("after upload: %d fields, %v acres (before %v)", n, acres, before)
	}
	get(lahore)
	if s := cache.Stats(); s.Hits != 2 || s.Invalidations != 1 {
		t.Fatalf("stats %+v: want the Lahore tile kept, the Khyber tile dropped", s)
	}

	// A field elsewhere in Khyber changes Khyber's acreage, so every tile
	// showing Khyber goes, even one without the field.
	upload(square("C", 71.30, 33.95))
	if _, a := fieldsAndAcres(t, get(khyber), "PK-KP-KHYBER"); a <= acres {
		t.Fatalf("Khyber acres %v after a field elsewhere in Khyber, was %v", a, acres)
	}

	// Retraction.
	if _, err := ingest.Retract(ctx, pool, id, "admin"); err != nil {
		t.Fatal(err)
	}
	changed()
	if n, _ := fieldsAndAcres(t, get(khyber), "PK-KP-KHYBER"); n != 1 {
		t.Fatalf("after retraction: %d fields", n)
	}

	// A boundary reload drops everything.
	before2 := cache.Stats()
	if _, err := boundaries.Load(ctx, pool, boundaries.Embedded(), "test"); err != nil {
		t.Fatal(err)
	}
	changed()
	get(lahore)
	if s := cache.Stats(); s.Misses != before2.Misses+1 {
		t.Fatalf("after reload the Lahore tile was still cached: %+v", s)
	}
}

// TestCacheSeesChangesCommittedOutOfOrder commits two changes in the
// opposite order of their tile_changes ids, and two servers on one
// database look in between: one reads tile_changes before every answer,
// the other, with a pool of its own, when its listener is notified. Once
// both changes have committed, each server serves both changed areas fresh
// and still serves the untouched area's tile from memory.
func TestCacheSeesChangesCommittedOutOfOrder(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &ingest.Service{DB: pool}
	upload := func(feature string) int64 {
		res, err := svc.Store(ctx, ingest.Upload{Body: strings.NewReader(feature), Uploader: "t"})
		if err != nil || res.Outcome != ingest.Created {
			t.Fatalf("%v %+v", err, res.Receipt)
		}
		return res.Receipt.ID
	}
	inKhyber, inLahore := upload(square("A", 71.10, 34.05)), upload(square("B", 74.3587, 31.5204))
	khyber, lahore, karachi := at(71.101, 34.051, 12), at(74.3588, 31.5205, 12), at(67.01, 24.86, 12)

	other := testdb.Open(t, pool.Config().ConnString())
	signal := watch(t, other)
	servers := []struct {
		name    string
		cache   *tiles.Cache
		waitFor func()
	}{
		{"checking every time", tiles.NewCache(&tiles.Service{DB: pool}, 1<<20, nil), func() {}},
		{"told by notifications", tiles.NewCache(&tiles.Service{DB: other}, 1<<20, signal), notified(t, signal)},
	}
	// fields checks, on every server, how many fields each tile shows.
	fields := func(when string, want map[tiles.Coordinate]int) {
		t.Helper()
		for _, s := range servers {
			for _, c := range []tiles.Coordinate{khyber, lahore, karachi} {
				tile, err := s.cache.Tile(ctx, c, acreage.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if n, _ := fieldsAndAcres(t, tile.MVT, ""); n != want[c] {
					t.Errorf("%s, %s: tile %v shows %d fields, want %d", when, s.name, c, n, want[c])
				}
			}
		}
	}
	fields("before the changes", map[tiles.Coordinate]int{khyber: 1, lahore: 1})

	// The change with the lower id commits last.
	first, firstID := retractUncommitted(t, pool, inKhyber)
	second, secondID := retractUncommitted(t, pool, inLahore)
	if firstID >= secondID {
		t.Fatalf("change ids %d then %d: want them rising", firstID, secondID)
	}
	commit := func(tx pgx.Tx) {
		t.Helper()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			s.waitFor()
		}
	}
	commit(second)
	fields("the second change committed", map[tiles.Coordinate]int{khyber: 1, lahore: 0})
	commit(first)
	fields("both committed", map[tiles.Coordinate]int{khyber: 0, lahore: 0})

	for _, s := range servers {
		// 3 tiles built first, Lahore's again after the second change,
		// Khyber's after the first; Karachi's served from memory throughout.
		if st := s.cache.Stats(); st.Misses != 5 || st.Hits != 4 || st.Invalidations != 2 || st.Tiles != 3 {
			t.Errorf("%s: %+v, want 5 misses, 4 hits, 2 invalidations, 3 tiles", s.name, st)
		}
	}
}

// retractUncommitted begins a transaction that takes the upload's fields
// off the map and records the change, as a retraction does, and returns it
// uncommitted with the id of its change.
func retractUncommitted(t *testing.T, pool *pgxpool.Pool, uploadID int64) (pgx.Tx, int64) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, "UPDATE clearances SET retracted = true WHERE upload_id = $1", uploadID); err != nil {
		t.Fatal(err)
	}
	if err := tiles.RecordUploadChange(ctx, tx, uploadID); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := tx.QueryRow(ctx, "SELECT max(id) FROM tile_changes").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return tx, id
}

// TestSnapshotsAsPostgresSeesThem checks the cache's reading of transaction
// snapshots against PostgreSQL's, around two transactions that commit in
// the opposite order of their ids: which transactions each snapshot sees
// (asked of pg_visible_in_snapshot with the snapshot's text form), and
// that of two snapshots the later one counts as newer, and only it.
func TestSnapshotsAsPostgresSeesThem(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Open(t, testdb.New(t))
	begin := func() (pgx.Tx, uint64) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback(ctx) })
		var xid uint64
		if err := tx.QueryRow(ctx, "SELECT pg_current_xact_id()").Scan(&xid); err != nil {
			t.Fatal(err)
		}
		return tx, xid
	}
	take := func() tiles.Snapshot {
		var xmin, xmax uint64
		var xip []uint64
		if err := pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(s), pg_snapshot_xmax(s), ARRAY(SELECT pg_snapshot_xip(s))
			FROM pg_current_snapshot() s`).Scan(&xmin, &xmax, &xip); err != nil {
			t.Fatal(err)
		}
		return tiles.NewSnapshot(xmin, xmax, xip)
	}
	commit := func(tx pgx.Tx) {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}

	first, a := begin()
	second, b := begin()
	snapshots := []tiles.Snapshot{take()}
	commit(second)
	snapshots = append(snapshots, take())
	commit(first)
	snapshots = append(snapshots, take())

	// Seen: by the first snapshot neither, by the second only b, by the
	// third both.
	want := [][2]bool{{false, false}, {false, true}, {true, true}}
	for i, s := range snapshots {
		for j, xid := range []uint64{a, b} {
			var pg bool
			if err := pool.QueryRow(ctx, "SELECT pg_visible_in_snapshot($1::xid8, $2::pg_snapshot)", xid, s.String()).Scan(&pg); err != nil {
				t.Fatal(err)
			}
			if s.Sees(xid) != want[i][j] || pg != want[i][j] {
				t.Errorf("snapshot %d (%s) sees transaction %d: %v, PostgreSQL says %v; want %v", i, s, xid, s.Sees(xid), pg, want[i][j])
			}
		}
		for j, o := range snapshots {
			if s.After(o) != (i > j) {
				t.Errorf("snapshot %d (%s) after %d (%s): %v", i, s, j, o, s.After(o))
			}
		}
	}
}

func TestCacheBoundsAndOff(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &tiles.Service{DB: pool}
	coords := []tiles.Coordinate{at(71.1, 34.05, 8), at(74.35, 31.52, 8), at(67.0, 30.18, 8)}
	// A cached tile takes its bytes and its gzip bytes.
	var sizes []int
	for _, c := range coords {
		tile, err := tiles.NewCache(svc, 0, nil).Tile(ctx, c, acreage.Filter{})
		if err != nil || len(tile.MVT) == 0 {
			t.Fatalf("tile %v: %v", c, err)
		}
		sizes = append(sizes, len(tile.MVT)+len(tile.Gzipped()))
	}
	sizes0 := sizes[0]
	// Room for the two largest tiles but not all three.
	slices.Sort(sizes)
	small := tiles.NewCache(svc, int64(sizes[1]+sizes[2]), nil)
	for _, c := range coords {
		if _, err := small.Tile(ctx, c, acreage.Filter{}); err != nil {
			t.Fatal(err)
		}
	}
	if s := small.Stats(); s.Evictions != 1 {
		t.Fatalf("cache of %d bytes for tiles of %v: %+v, want one eviction", sizes[1]+sizes[2], sizes, s)
	}
	// Requests missing the same tile at once share one build.
	shared := tiles.NewCache(svc, 1<<20, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if tile, err := shared.Tile(ctx, coords[0], acreage.Filter{}); err != nil || len(tile.MVT)+len(tile.Gzipped()) != sizes0 {
				t.Errorf("shared build: %v", err)
			}
		})
	}
	wg.Wait()
	if s := shared.Stats(); s.Builds != 1 || s.Hits+s.Misses != 8 {
		t.Fatalf("8 requests at once for one tile: %+v, want one build", s)
	}
	off := tiles.NewCache(&tiles.Service{DB: pool}, 0, nil)
	for i := 0; i < 2; i++ {
		off.Tile(ctx, at(71.1, 34.05, 8), acreage.Filter{})
	}
	if s := off.Stats(); s.Hits != 0 || s.Misses != 0 {
		t.Fatalf("a cache of 0 MB cached: %+v", s)
	}
}

// TestPointCellsFollowRetraction checks that a cell whose field is
// retracted shows another field of the cell, and that a crop filter shows
// the cell's field of that crop, whether the points were chosen in advance
// (no date filter) or are thinned per request (a date filter).
func TestPointCellsFollowRetraction(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &ingest.Service{DB: pool}
	store := func(f string) int64 {
		res, err := svc.Store(ctx, ingest.Upload{Body: strings.NewReader(f), Uploader: "t"})
		if err != nil || res.Outcome != ingest.Created {
			t.Fatalf("%v %+v", err, res.Receipt)
		}
		return res.Receipt.ID
	}
	first := store(square("A", 71.10, 34.05))
	second := store(square("B", 71.1001, 34.05)) // 10 m away: the same cell
	hemp := store(strings.Replace(square("C", 71.1002, 34.05), "poppy", "cannabis", 1))
	tiler := &tiles.Service{DB: pool}
	ids := func(f acreage.Filter) []any {
		tile, err := tiler.Tile(ctx, at(71.101, 34.051, 6), f)
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := mvt.Unmarshal(tile)
		var got []any
		for _, l := range layers {
			if l.Name == "clearances" {
				for _, f := range l.Features {
					got = append(got, f.Properties["upload_id"])
				}
			}
		}
		return got
	}
	march := acreage.Filter{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		name string
		f    acreage.Filter
		want int64
	}{
		{"both crops", acreage.Filter{}, first},
		{"both crops, dated", march, first},
		{"cannabis", acreage.Filter{Crop: "cannabis"}, hemp},
		{"cannabis, dated", acreage.Filter{Crop: "cannabis", From: march.From, To: march.To}, hemp},
		{"poppy", acreage.Filter{Crop: "poppy"}, first},
	} {
		if got := ids(c.f); len(got) != 1 || got[0] != float64(c.want) {
			t.Fatalf("%s: z6 points from uploads %v, want only upload %d's", c.name, got, c.want)
		}
	}
	if _, err := ingest.Retract(ctx, pool, first, "admin"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []acreage.Filter{{Crop: "poppy"}, {Crop: "poppy", From: march.From, To: march.To}} {
		if got := ids(f); len(got) != 1 || got[0] != float64(second) {
			t.Fatalf("after retracting upload %d, poppy z6 points from %v, want upload %d's", first, got, second)
		}
	}
	var n int
	pool.QueryRow(ctx, "SELECT count(*) FROM point_cells p JOIN clearances c ON c.id = p.clearance_id WHERE c.retracted").Scan(&n)
	if n != 0 {
		t.Fatalf("%d cells still hold a retracted field", n)
	}
}

// TestGenericPlanStaysWithTheTile checks that the tile query's plan
// setting does not outlive it on the connection.
func TestGenericPlanStaysWithTheTile(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	one, err := pgxpool.New(ctx, pool.Config().ConnString()+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if _, err := (&tiles.Service{DB: one}).Tile(ctx, at(71.1, 34.05, 8), acreage.Filter{}); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := one.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil || mode != "auto" {
		t.Fatalf("plan_cache_mode after a tile = %q, %v; want auto", mode, err)
	}
}

// TestChosenPointsAreTheThinnedOnes checks the points that zooms below 10
// read from point_cells against the ones they choose per request under a
// date filter (one that excludes nothing, here): the same fields, with the
// same attributes and positions, for both crops and each, after uploads
// over the same cells, a retraction, and an upload after it.
func TestChosenPointsAreTheThinnedOnes(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	svc := &ingest.Service{DB: pool}
	upload := func(skip, n int, seed uint64) int64 {
		var body strings.Builder
		if err := fieldgen.Write(&body, skip, n, false, seed); err != nil {
			t.Fatal(err)
		}
		res, err := svc.Store(ctx, ingest.Upload{Body: strings.NewReader(body.String()), Uploader: "t"})
		if err != nil || res.Outcome != ingest.Created {
			t.Fatalf("%v %+v", err, res.Receipt)
		}
		return res.Receipt.ID
	}
	tiler := &tiles.Service{DB: pool}
	clearances := func(c tiles.Coordinate, f acreage.Filter) []*geojson.Feature {
		tile, err := tiler.Tile(ctx, c, f)
		if err != nil {
			t.Fatal(err)
		}
		if l := layersOf(t, tile)["clearances"]; l != nil {
			return l.Features
		}
		return nil
	}
	compare := func(when string) {
		t.Helper()
		points := lonLats(t, pool, 40, `SELECT ST_X(p), ST_Y(p) FROM (
			SELECT ST_PointOnSurface(geom) AS p FROM clearances WHERE NOT retracted ORDER BY id % 97, id LIMIT 40) s`)
		compared := 0
		for _, z := range []int{5, 7, 9} {
			seen := map[tiles.Coordinate]bool{}
			for _, p := range points {
				c := at(p[0], p[1], z)
				if seen[c] {
					continue
				}
				seen[c] = true
				for _, crop := range []string{"", "poppy", "cannabis"} {
					chosen := clearances(c, acreage.Filter{Crop: crop})
					thinned := clearances(c, acreage.Filter{Crop: crop, From: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)})
					if len(chosen) == 0 && crop == "" {
						t.Fatalf("%s: tile %v has no points", when, c)
					}
					if len(chosen) != len(thinned) {
						t.Fatalf("%s: tile %v crop %q: %d points chosen in advance, %d thinned", when, c, crop, len(chosen), len(thinned))
					}
					for i := range chosen {
						if chosen[i].ID != thinned[i].ID || !reflect.DeepEqual(chosen[i].Properties, thinned[i].Properties) ||
							chosen[i].Geometry != thinned[i].Geometry {
							t.Fatalf("%s: tile %v crop %q point %d: %v %v at %v, thinned %v %v at %v", when, c, crop, i,
								chosen[i].ID, chosen[i].Properties, chosen[i].Geometry, thinned[i].ID, thinned[i].Properties, thinned[i].Geometry)
						}
						compared++
					}
				}
			}
		}
		t.Logf("%s: %d points compared", when, compared)
	}
	first := upload(0, 1500, 3)
	upload(0, 1500, 5) // the same cells
	compare("two uploads")
	if _, err := ingest.Retract(ctx, pool, first, "admin"); err != nil {
		t.Fatal(err)
	}
	compare("after retracting the first")
	upload(1500, 1000, 3)
	compare("after another upload")
}

// TestPruningWaitsForNoOne has two transactions forget the same old tile
// change: the second must not wait for the first to end. A large upload
// records its tile change before it locks its districts, and holds what it
// deleted until it commits; a small upload's pruning waited for all of it.
func TestPruningWaitsForNoOne(t *testing.T) {
	ctx := context.Background()
	pool := testdb.WithBoundaries(t)
	if _, err := pool.Exec(ctx, "INSERT INTO tile_changes (bbox, at) VALUES (NULL, now() - interval '2 days')"); err != nil {
		t.Fatal(err)
	}
	var txs []pgx.Tx
	for range 2 {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		txs = append(txs, tx)
	}
	if err := tiles.RecordUploadChange(ctx, txs[0], 0); err != nil {
		t.Fatal(err)
	}
	waiting, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := tiles.RecordUploadChange(waiting, txs[1], 0); err != nil {
		t.Fatalf("the second pruning: %v", err)
	}
}
