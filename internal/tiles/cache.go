package tiles

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"golang.org/x/sync/singleflight"

	"clearmap/internal/acreage"
	"clearmap/internal/store"
)

// Tile is a built vector tile with what a response needs, worked out once
// so that a cached tile costs no more than a copy to the socket.
type Tile struct {
	// MVT is the tile; empty when no feature falls in it.
	MVT []byte
	// ETag is a strong entity tag over MVT, quoted.
	ETag string

	gzipOnce sync.Once
	gzipped  []byte
}

func newTile(mvt []byte) *Tile {
	sum := sha256.Sum256(mvt)
	return &Tile{MVT: mvt, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// Gzipped returns the tile gzip-compressed, compressing it on first use.
func (t *Tile) Gzipped() []byte {
	t.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(t.MVT) // writes to a bytes.Buffer cannot fail
		zw.Close()
		t.gzipped = buf.Bytes()
	})
	return t.gzipped
}

func (t *Tile) size() int64 { return int64(len(t.MVT) + len(t.Gzipped())) }

// Cache keeps built tiles in memory, bounded in bytes, least recently used
// first out. Before answering it reads the tile_changes committed since it
// last looked and drops exactly the tiles they touch, so a tile served after
// an upload has returned always shows it, whichever process stored it.
//
// "Since it last looked" goes by transaction snapshots, not by ids: a
// change's id is drawn when it is written, and uploads commit concurrently,
// so a lower id can commit after a higher one has been read. Each change
// carries the id of the transaction that wrote it (tile_changes.xid), and
// each look reads, with the snapshot it is taken in, the changes whose
// transaction the previous look's snapshot did not see. A snapshot sees
// everything a snapshot taken before it on the same server saw, so every
// committed change is read exactly once, however late it commits, and
// writers take no lock for it. Snapshots are compared only with snapshots
// of the same server: the cache must read tile_changes from the primary.
//
// Looking costs a query, so with a live change signal (store.Watch on
// store.TileChangesChannel) the cache looks only when the signal has moved:
// at once for changes made in this process (see Changed), and as soon as
// the notification arrives for changes made by others.
//
// With standbys (Service.Reads), tiles are built from a standby, and a
// change read from the primary drops its tiles only once every standby
// reads may use has replayed it: dropped earlier, a tile would be built
// again from a standby without the change and kept. Until then the old
// tiles are served, as the standbys' figures are. Each look notes where
// the primary's WAL stood before its snapshot and after it (the after
// position is at or beyond the commit of every change the look read);
// changes wait with their look until the standbys have replayed its after
// position, and tiles are built only from a pool that has replayed every
// dropped change. A client that has written (store.WithClient) sees its own
// write at once: if it wrote after the last look began, the cache looks
// again; while its write's change waits, its tiles are built for it from a
// pool that has replayed the write and not kept.
type Cache struct {
	svc      *Service
	maxBytes int64
	changes  *store.Signal

	mu      sync.Mutex
	size    int64
	order   *list.List // front: most recently used
	entries map[cacheKey]*list.Element
	seen    snapshot // the changes it sees have been read
	// seenFrom is where the WAL stood before the last look's snapshot: a
	// write that ended before it has been read.
	seenFrom store.LSN
	waiting  []look // read, but not yet replayed by every usable standby
	// built is what tiles are built after: every dropped change's look's
	// after position. dropped is where the WAL stood before the snapshot
	// of the last look whose changes (and all before) are dropped: a
	// write that ended before it shows in every tile kept.
	built, dropped store.LSN
	lastSync       time.Time
	synced         uint64 // the change signal's version the last look began at
	epoch          uint64 // counts the looks that read changes
	building       singleflight.Group
	stats          CacheStats
}

// CacheStats counts what the cache did. Builds can be fewer than Misses:
// requests that miss the same tile at once share one build.
type CacheStats struct {
	Hits, Misses, Builds, Evictions, Invalidations int64
	// Bytes and Tiles are what the cache holds now.
	Bytes, Tiles int64
}

type cacheKey struct {
	c              Coordinate
	crop, from, to string
}

type cacheEntry struct {
	key   cacheKey
	tile  *Tile
	bound orb.Bound // lon/lat, for invalidation
}

// NewCache returns a cache of at most maxBytes of tiles; 0 turns caching
// off, so that cold performance can be measured. changes may be nil: the
// cache then reads tile_changes before every answer.
func NewCache(svc *Service, maxBytes int64, changes *store.Signal) *Cache {
	return &Cache{svc: svc, maxBytes: maxBytes, changes: changes, order: list.New(), entries: map[cacheKey]*list.Element{},
		seen: snapshot{xmin: 1, xmax: 1}} // sees no transaction: the first look reads every change
}

// Changed tells the cache that this process has just committed a change
// to the data tiles show.
func (c *Cache) Changed() { c.changes.Changed() }

// Tile returns the tile, from memory when it is there and current.
func (c *Cache) Tile(ctx context.Context, at Coordinate, f acreage.Filter) (*Tile, error) {
	if c.maxBytes <= 0 {
		return c.build(ctx, 0, at, f)
	}
	if err := c.sync(ctx); err != nil {
		return nil, err
	}
	wrote, err := c.clientWrote(ctx)
	if err != nil {
		return nil, err
	}
	from, to := f.From.Format("2006-01-02"), f.To.Format("2006-01-02")
	key := cacheKey{at, f.Crop, from, to}
	c.mu.Lock()
	c.drop()
	if wrote > 0 && wrote >= c.dropped { // the client's own write may not show in kept tiles yet
		after := c.built
		c.mu.Unlock()
		return c.build(ctx, after, at, f)
	}
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		c.stats.Hits++
		tile := el.Value.(*cacheEntry).tile
		c.mu.Unlock()
		return tile, nil
	}
	c.stats.Misses++
	epoch := c.epoch
	c.mu.Unlock()

	// Requests that miss the same tile at once build it once. The epoch is
	// part of the key, so a request that has seen a newer change never
	// takes a tile begun before it.
	for {
		built, err, _ := c.building.Do(fmt.Sprint(key, epoch), func() (any, error) {
			c.mu.Lock()
			c.stats.Builds++
			after := c.built
			c.mu.Unlock()
			tile, err := c.build(ctx, after, at, f)
			if err != nil {
				return nil, err
			}
			c.put(&cacheEntry{key: key, tile: tile,
				bound: maptile.New(uint32(at.X), uint32(at.Y), maptile.Zoom(at.Z)).Bound(float64(buffer) / extent)}, epoch)
			return tile, nil
		})
		// The build ran under the first request's context: if that client
		// went away, the others build it again under their own.
		if err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return built.(*Tile), nil
	}
}

// build builds a tile from a pool that has replayed at least after (and
// the client's own writes).
func (c *Cache) build(ctx context.Context, after store.LSN, at Coordinate, f acreage.Filter) (*Tile, error) {
	db, err := c.svc.reader(ctx, after)
	if err != nil {
		return nil, err
	}
	mvt, err := c.svc.build(ctx, db, at, f)
	if err != nil {
		return nil, err
	}
	return newTile(mvt), nil
}

// clientWrote returns where the WAL stood after the request's client last
// wrote (0 when it has not, or nothing reads from standbys), first looking
// at the changes again if the write may have ended after the last look
// began.
func (c *Cache) clientWrote(ctx context.Context) (store.LSN, error) {
	if c.svc.Reads == nil {
		return 0, nil
	}
	wrote, err := c.svc.Reads.ClientWrote(ctx)
	if err != nil || wrote == 0 {
		return 0, err
	}
	c.mu.Lock()
	seenFrom := c.seenFrom
	c.mu.Unlock()
	if wrote >= seenFrom {
		if err := c.look(ctx); err != nil {
			return 0, err
		}
	}
	return wrote, nil
}

// put keeps a tile built at the given epoch, unless changes have been
// read since: the tile may predate them, and they can no longer drop it.
func (c *Cache) put(e *cacheEntry, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[e.key]; ok || epoch != c.epoch || e.tile.size() > c.maxBytes {
		return
	}
	c.entries[e.key] = c.order.PushFront(e)
	c.size += e.tile.size()
	for c.size > c.maxBytes {
		c.remove(c.order.Back())
		c.stats.Evictions++
	}
}

func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.order.Remove(el)
	delete(c.entries, e.key)
	c.size -= e.tile.size()
}

// sync drops the tiles touched by changes recorded since the last look.
func (c *Cache) sync(ctx context.Context) error {
	version, live := c.changes.Version()
	c.mu.Lock()
	if live && version == c.synced && time.Since(c.lastSync) < time.Minute {
		c.mu.Unlock()
		return nil
	}
	// Changes are kept for a day: a cache that has not looked for half of
	// that may have missed some, so it starts afresh.
	if time.Since(c.lastSync) > 12*time.Hour {
		for c.order.Len() > 0 {
			c.remove(c.order.Back())
		}
		c.epoch++
	}
	c.lastSync = time.Now()
	c.mu.Unlock()
	if err := c.look(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.synced = version
	c.mu.Unlock()
	return nil
}

// look reads the changes committed since the last look.
func (c *Cache) look(ctx context.Context) error {
	c.mu.Lock()
	seen := c.seen
	c.mu.Unlock()
	return c.readChanges(ctx, seen)
}

// snapshot is a transaction snapshot (pg_current_snapshot): it sees the
// transactions below xmin, and those below xmax but not in xip.
type snapshot struct {
	xmin, xmax uint64
	xip        []uint64
}

// sees tells whether the snapshot sees transaction xid, as
// pg_visible_in_snapshot does.
func (s snapshot) sees(xid uint64) bool {
	return xid < s.xmin || xid < s.xmax && !slices.Contains(s.xip, xid)
}

// after tells whether s was taken after o on the same server, so that it
// sees everything o saw and more: a transaction that ends moves xmax on or
// leaves xip.
func (s snapshot) after(o snapshot) bool {
	return s.xmax > o.xmax || s.xmax == o.xmax && len(s.xip) < len(o.xip)
}

// String gives the snapshot in pg_snapshot's text form.
func (s snapshot) String() string {
	xip := make([]string, len(s.xip))
	for i, x := range s.xip {
		xip[i] = strconv.FormatUint(x, 10)
	}
	return fmt.Sprintf("%d:%d:%s", s.xmin, s.xmax, strings.Join(xip, ","))
}

// tileChange is a change read from tile_changes.
type tileChange struct {
	xid        uint64
	everywhere bool
	bound      orb.Bound
}

// look is what one look read: its changes, and where the primary's WAL
// stood before its snapshot (from) and after it (to).
type look struct {
	from, to store.LSN
	changes  []tileChange
}

// readChanges reads the changes that the snapshot seen did not see, with
// the snapshot it reads them in, and drops the tiles they touch. Looks can
// overlap: the one that ends last may hold the older snapshot, and then the
// newer one has read all it read.
func (c *Cache) readChanges(ctx context.Context, seen snapshot) error {
	// Two statements of a batch, so two snapshots in READ COMMITTED: the
	// WAL position is taken before the changes' snapshot. In the second,
	// the LEFT JOIN gives the snapshot a row even when nothing changed;
	// "ch.xid >= xmin" lets the index on xid find the changes; the WAL
	// position is taken after the snapshot.
	batch := &pgx.Batch{}
	batch.Queue("SELECT pg_current_wal_insert_lsn()::text")
	batch.Queue(`
		SELECT pg_snapshot_xmin(s.now), pg_snapshot_xmax(s.now), ARRAY(SELECT pg_snapshot_xip(s.now)),
			pg_current_wal_insert_lsn()::text,
			ch.xid, ch.bbox IS NULL, coalesce(ST_XMin(ch.bbox), 0), coalesce(ST_YMin(ch.bbox), 0),
			coalesce(ST_XMax(ch.bbox), 0), coalesce(ST_YMax(ch.bbox), 0)
		FROM (SELECT pg_current_snapshot() AS now) s
		LEFT JOIN tile_changes ch
		  ON ch.xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(ch.xid, $1::pg_snapshot)`,
		seen.String())
	results := c.svc.DB.SendBatch(ctx, batch)
	defer results.Close()
	var fromText, toText *string
	if err := results.QueryRow().Scan(&fromText); err != nil {
		return fmt.Errorf("read tile changes: %w", err)
	}
	rows, err := results.Query()
	if err != nil {
		return fmt.Errorf("read tile changes: %w", err)
	}
	defer rows.Close()
	var now snapshot
	var changes []tileChange
	for rows.Next() {
		var xid *uint64
		var ch tileChange
		b := &ch.bound
		if err := rows.Scan(&now.xmin, &now.xmax, &now.xip, &toText, &xid, &ch.everywhere, &b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
			return fmt.Errorf("read tile changes: %w", err)
		}
		if xid != nil {
			ch.xid = *xid
			changes = append(changes, ch)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tile changes: %w", err)
	}
	from, err := store.ScanLSN(fromText)
	if err != nil {
		return fmt.Errorf("read tile changes: %w", err)
	}
	to, err := store.ScanLSN(toText)
	if err != nil {
		return fmt.Errorf("read tile changes: %w", err)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.after(c.seen) {
		return nil
	}
	l := look{from: from, to: to.Replayable()}
	for _, ch := range changes {
		if !c.seen.sees(ch.xid) { // else read by an overlapping look
			l.changes = append(l.changes, ch)
		}
	}
	c.waiting = append(c.waiting, l)
	c.seen = now
	c.seenFrom = max(c.seenFrom, from)
	c.drop()
	return nil
}

// drop drops the tiles of the waiting changes that every standby reads
// may use has replayed (all of them, without standbys), oldest look
// first. c.mu is held.
func (c *Cache) drop() {
	replayed := store.NoLSN
	if c.svc.Reads != nil {
		replayed = c.svc.Reads.Replayed()
	}
	for len(c.waiting) > 0 && (len(c.waiting[0].changes) == 0 || c.waiting[0].to <= replayed) {
		l := c.waiting[0]
		c.waiting = c.waiting[1:]
		for _, ch := range l.changes {
			for el := c.order.Front(); el != nil; {
				next := el.Next()
				if ch.everywhere || el.Value.(*cacheEntry).bound.Intersects(ch.bound) {
					c.remove(el)
					c.stats.Invalidations++
				}
				el = next
			}
		}
		if len(l.changes) > 0 {
			c.epoch++
			c.built = max(c.built, l.to)
		}
		c.dropped = max(c.dropped, l.from)
	}
}

// Stats returns the counts so far.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes, s.Tiles = c.size, int64(c.order.Len())
	return s
}
