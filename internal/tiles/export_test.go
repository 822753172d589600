package tiles

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Snapshot lets the tests check the cache's reading of transaction
// snapshots against PostgreSQL's.
type Snapshot = snapshot

// NewSnapshot returns the snapshot with the given parts.
func NewSnapshot(xmin, xmax uint64, xip []uint64) Snapshot {
	return snapshot{xmin: xmin, xmax: xmax, xip: xip}
}

// Sees is s.sees(xid).
func (s Snapshot) Sees(xid uint64) bool { return s.sees(xid) }

// After is s.after(o).
func (s Snapshot) After(o Snapshot) bool { return s.after(o) }

// StaticEncoder reads the static layers and the stored figures from db and
// returns what a tile from zoom 12 up does besides its statement: clip the
// static layers to the tile and encode them.
func StaticEncoder(ctx context.Context, db *pgxpool.Pool) (func(Coordinate) []byte, error) {
	st, err := readStatic(ctx, db)
	if err != nil {
		return nil, err
	}
	f, err := readFigures(ctx, db)
	if err != nil {
		return nil, err
	}
	return func(c Coordinate) []byte { return st.tile(c).encode(f.districts, nil) }, nil
}
