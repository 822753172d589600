package store_test

import (
	"context"
	"testing"

	"clearmap/internal/store"
	"clearmap/internal/testdb"
)

// TestLSNReadsPostgreSQLsText reads pg_lsn values as PostgreSQL writes
// them and orders them as it does.
func TestLSNReadsPostgreSQLsText(t *testing.T) {
	pool := testdb.Migrated(t)
	var texts []string
	var less bool
	err := pool.QueryRow(context.Background(), `SELECT ARRAY['0/0', '16/B374D848', 'FFFFFFFF/FFFFFFFF', pg_current_wal_insert_lsn()::text],
		'16/B374D848'::pg_lsn < '17/0'::pg_lsn`).Scan(&texts, &less)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range texts {
		lsn, err := store.ScanLSN(&text)
		if err != nil || lsn.String() != text {
			t.Errorf("ScanLSN(%q) = %v (%s), %v", text, uint64(lsn), lsn, err)
		}
	}
	a, _ := store.ScanLSN(&texts[1])
	if b := store.LSN(0x17 << 32); (a < b) != less {
		t.Errorf("%s < %s is %v in Go, %v in PostgreSQL", a, b, a < b, less)
	}
	if lsn, err := store.ScanLSN(nil); lsn != 0 || err != nil {
		t.Errorf("ScanLSN(NULL) = %v, %v; want 0", lsn, err)
	}
	bad := "16-B3"
	if _, err := store.ScanLSN(&bad); err == nil {
		t.Error("ScanLSN of 16-B3 did not fail")
	}
}

// TestReplayable gives, for insert positions, what a standby's replay
// shows once it has all before them: the page's start for a position just
// past a page's (or a segment's) header, the position itself otherwise.
func TestReplayable(t *testing.T) {
	for _, c := range []struct{ insert, want store.LSN }{
		{0x16<<32 | 0x2000028, 0x16<<32 | 0x2000000}, // just past a segment's first page's header (40 bytes)
		{0x16<<32 | 0x2002018, 0x16<<32 | 0x2002000}, // just past a page's header (24 bytes)
		{0x16<<32 | 0x2002020, 0x16<<32 | 0x2002020}, // after a record within a page
		{0x16<<32 | 0x2002000, 0x16<<32 | 0x2002000}, // at a page's start
	} {
		if got := c.insert.Replayable(); got != c.want {
			t.Errorf("%s.Replayable() = %s, want %s", c.insert, got, c.want)
		}
	}
}
