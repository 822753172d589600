package boundaries

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/planar"
)

// Pieces is an in-memory copy of the districts cut into small pieces
// (district_pieces, migration 00014), for placing uploaded fields in Go: most
// fields lie well inside one district, and telling that here, on the
// uploader's goroutine, spares PostgreSQL its costliest per-field tests (the
// ingest profile in docs/benchmarks.md).
//
// Its answers are deliberately one-sided: Within reports a district only when
// the field's outline meets no piece edge at all, so floating-point doubt
// never decides. Fields it cannot place are left to PostGIS.
type Pieces struct {
	version int64 // the largest piece id when read; see migration 00016
	pieces  []piece
	cells   map[cell][]int32 // grid cell → pieces whose bounds meet it
}

type piece struct {
	district string
	bound    orb.Bound
	polygon  orb.Polygon
}

// cellDegrees is the grid the pieces are filed under: about 28 km, a few
// pieces per cell.
const cellDegrees = 0.25

type cell struct{ x, y int32 }

func cellOf(p orb.Point) cell {
	return cell{int32(math.Floor(p[0] / cellDegrees)), int32(math.Floor(p[1] / cellDegrees))}
}

// Version is the largest piece id when the pieces were read.
func (ps *Pieces) Version() int64 { return ps.version }

// Within returns the district that holds every polygon of mp in the interior
// of one of its pieces. ok is false when there is none, or when an outline
// comes too close to a piece's edge to say.
func (ps *Pieces) Within(mp orb.MultiPolygon) (district string, ok bool) {
	for _, polygon := range mp {
		if len(polygon) == 0 || len(polygon[0]) == 0 {
			return "", false
		}
		// The holes lie inside the outer ring: where it is, they are.
		d, found := ps.ringWithin(polygon[0])
		if !found || (district != "" && d != district) {
			return "", false
		}
		district = d
	}
	return district, district != ""
}

func (ps *Pieces) ringWithin(r orb.Ring) (string, bool) {
	b := r.Bound()
	for _, i := range ps.cells[cellOf(r[0])] {
		p := &ps.pieces[i]
		if b.Min[0] > p.bound.Min[0] && b.Min[1] > p.bound.Min[1] &&
			b.Max[0] < p.bound.Max[0] && b.Max[1] < p.bound.Max[1] && ringInPolygon(r, p.polygon) {
			return p.district, true
		}
	}
	return "", false
}

// ringInPolygon reports whether ring r lies in the interior of polygon p.
// If no edge of r meets an edge of p, r's outline is all inside p or all
// outside it, so one position tells which; and r must not enclose one of
// p's holes.
func ringInPolygon(r orb.Ring, p orb.Polygon) bool {
	for _, pr := range p {
		if ringsMeet(r, pr) {
			return false
		}
	}
	if !planar.PolygonContains(p, r[0]) {
		return false
	}
	for _, hole := range p[1:] {
		if planar.RingContains(r, hole[0]) {
			return false
		}
	}
	return true
}

// ringsMeet reports whether any edge of field ring a touches or crosses any
// edge of piece ring b.
func ringsMeet(a, b orb.Ring) bool {
	ab := a.Bound()
	for j := 1; j < len(b); j++ {
		r, s := b[j-1], b[j]
		// A field is small beside a piece: most of the piece's edges are
		// nowhere near it.
		if math.Max(r[0], s[0]) < ab.Min[0] || math.Min(r[0], s[0]) > ab.Max[0] ||
			math.Max(r[1], s[1]) < ab.Min[1] || math.Min(r[1], s[1]) > ab.Max[1] {
			continue
		}
		for i := 1; i < len(a); i++ {
			if segmentsMeet(a[i-1], a[i], r, s) {
				return true
			}
		}
	}
	return false
}

// segmentsMeet reports whether segments pq and rs share a point, erring
// towards yes: a turn within rounding error of straight counts as touching.
func segmentsMeet(p, q, r, s orb.Point) bool {
	if math.Max(p[0], q[0]) < math.Min(r[0], s[0]) || math.Max(r[0], s[0]) < math.Min(p[0], q[0]) ||
		math.Max(p[1], q[1]) < math.Min(r[1], s[1]) || math.Max(r[1], s[1]) < math.Min(p[1], q[1]) {
		return false
	}
	return side(r, s, p)*side(r, s, q) <= 0 && side(p, q, r)*side(p, q, s) <= 0
}

// side is the sign of the turn a→b→c: 1 left, -1 right, 0 when it is
// within rounding error of straight.
func side(a, b, c orb.Point) float64 {
	ux, uy, vx, vy := b[0]-a[0], b[1]-a[1], c[0]-a[0], c[1]-a[1]
	cross := ux*vy - uy*vx
	// Each difference of coordinates up to 180° carries up to ~3e-14 of
	// rounding; the cross product, that times the other side's length.
	// 1e-13° is about 10 nm on the ground.
	if math.Abs(cross) <= 1e-13*(math.Abs(ux)+math.Abs(uy)+math.Abs(vx)+math.Abs(vy)) {
		return 0
	}
	return math.Copysign(1, cross)
}

// querier is what reading the pieces needs: a pool, a connection or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// piecesVersion reads the version of the stored pieces: their largest id.
func piecesVersion(ctx context.Context, q querier) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM district_pieces").Scan(&v)
	return v, err
}

// ReadPieces reads the stored pieces.
func ReadPieces(ctx context.Context, q querier) (*Pieces, error) {
	rows, err := q.Query(ctx, "SELECT id, district_code, ST_AsBinary(geom) FROM district_pieces ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ps := &Pieces{cells: map[cell][]int32{}}
	for rows.Next() {
		var id int64
		var district string
		var b []byte
		if err := rows.Scan(&id, &district, &b); err != nil {
			return nil, err
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("district piece %d: %w", id, err)
		}
		polygon, ok := g.(orb.Polygon)
		if !ok || len(polygon) == 0 {
			return nil, fmt.Errorf("district piece %d is a %s, not a polygon", id, g.GeoJSONType())
		}
		ps.version = max(ps.version, id)
		index := int32(len(ps.pieces))
		ps.pieces = append(ps.pieces, piece{district: district, bound: polygon.Bound(), polygon: polygon})
		lo, hi := cellOf(polygon.Bound().Min), cellOf(polygon.Bound().Max)
		for x := lo.x; x <= hi.x; x++ {
			for y := lo.y; y <= hi.y; y++ {
				ps.cells[cell{x, y}] = append(ps.cells[cell{x, y}], index)
			}
		}
	}
	return ps, rows.Err()
}

// PieceCache keeps the pieces read once and reads them again only after a
// boundary load has replaced them.
type PieceCache struct {
	mu     sync.Mutex
	pieces *Pieces
}

// Get returns the pieces as q sees them. Called inside an upload's
// transaction, it costs one indexed lookup unless the boundaries changed.
func (c *PieceCache) Get(ctx context.Context, q querier) (*Pieces, error) {
	version, err := piecesVersion(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pieces != nil && c.pieces.version == version {
		return c.pieces, nil
	}
	ps, err := ReadPieces(ctx, q)
	if err != nil {
		return nil, err
	}
	c.pieces = ps
	return ps, nil
}
