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
	"sync"
	"time"

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
// first out. Before answering it reads the tile_changes written since it
// last looked and drops exactly the tiles they touch, so a tile served after
// an upload has returned always shows it, whichever process stored it.
//
// Looking costs a query, so with a live change signal (store.Watch on
// store.TileChangesChannel) the cache looks only when the signal has moved:
// at once for changes made in this process (see Changed), and as soon as
// the notification arrives for changes made by others.
type Cache struct {
	svc      *Service
	maxBytes int64
	changes  *store.Signal

	mu         sync.Mutex
	size       int64
	order      *list.List // front: most recently used
	entries    map[cacheKey]*list.Element
	lastChange int64
	lastSync   time.Time
	synced     uint64 // the change signal's version the last look began at
	epoch      uint64 // counts the changes read
	building   singleflight.Group
	stats      CacheStats
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
	return &Cache{svc: svc, maxBytes: maxBytes, changes: changes, order: list.New(), entries: map[cacheKey]*list.Element{}}
}

// Changed tells the cache that this process has just committed a change
// to the data tiles show.
func (c *Cache) Changed() { c.changes.Changed() }

// Tile returns the tile, from memory when it is there and current.
func (c *Cache) Tile(ctx context.Context, at Coordinate, f acreage.Filter) (*Tile, error) {
	if c.maxBytes <= 0 {
		mvt, err := c.svc.Tile(ctx, at, f)
		if err != nil {
			return nil, err
		}
		return newTile(mvt), nil
	}
	if err := c.sync(ctx); err != nil {
		return nil, err
	}
	from, to := f.From.Format("2006-01-02"), f.To.Format("2006-01-02")
	key := cacheKey{at, f.Crop, from, to}
	c.mu.Lock()
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
			c.mu.Unlock()
			mvt, err := c.svc.Tile(ctx, at, f)
			if err != nil {
				return nil, err
			}
			tile := newTile(mvt)
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
	last := c.lastChange
	c.mu.Unlock()
	if err := c.readChanges(ctx, last); err != nil {
		return err
	}
	c.mu.Lock()
	c.synced = version
	c.mu.Unlock()
	return nil
}

// readChanges drops the tiles that changes after the last one seen touch.
func (c *Cache) readChanges(ctx context.Context, last int64) error {
	rows, err := c.svc.DB.Query(ctx, `SELECT id, bbox IS NULL, coalesce(ST_XMin(bbox), 0), coalesce(ST_YMin(bbox), 0),
		coalesce(ST_XMax(bbox), 0), coalesce(ST_YMax(bbox), 0) FROM tile_changes WHERE id > $1 ORDER BY id`, last)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var everywhere bool
		var b orb.Bound
		if err := rows.Scan(&id, &everywhere, &b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
			return err
		}
		c.mu.Lock()
		if id > c.lastChange {
			for el := c.order.Front(); el != nil; {
				next := el.Next()
				if everywhere || el.Value.(*cacheEntry).bound.Intersects(b) {
					c.remove(el)
					c.stats.Invalidations++
				}
				el = next
			}
			c.lastChange = id
			c.epoch++
		}
		c.mu.Unlock()
	}
	return rows.Err()
}

// Stats returns the counts so far.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes, s.Tiles = c.size, int64(c.order.Len())
	return s
}
