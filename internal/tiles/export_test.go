package tiles

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
