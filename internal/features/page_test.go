package features

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"clearmap/internal/testdb"
)

// TestPageFailures checks what a page tells its caller when the database
// fails: before the first row, Begin has not run (the caller can still
// answer with a status); in a later batch, it has, and the rows before the
// failure were written.
func TestPageFailures(t *testing.T) {
	db := testdb.Migrated(t)
	ctx := context.Background()
	write := func(w *bufio.Writer, rows pgx.Rows) (string, error) {
		var i int
		if err := rows.Scan(&i); err != nil {
			return "", err
		}
		w.WriteString(strconv.Itoa(i))
		return strconv.Itoa(i), nil
	}
	for _, c := range []struct {
		name     string
		failAt   int // the row that divides by zero
		begun    bool
		returned int
	}{
		{"first row", 1, false, 0},
		{"second batch", fetchRows + 200, true, fetchRows},
		{"none", 0, true, 1500},
	} {
		var out bytes.Buffer
		begins := 0
		s := &Sink{W: bufio.NewWriter(&out), Begin: func(Page) error { begins++; return nil }}
		// generate_series yields its rows as the cursor is fetched, so
		// the division fails in the batch that reaches failAt.
		p, err := page(ctx, db, s, Query{Limit: 1500}, nil,
			"SELECT i FROM generate_series(1, 1600) i WHERE 1 / ($1 - i) IS NOT NULL OR $1 = 0 LIMIT $2", []any{c.failAt, 1501}, write)
		var pgErr *pgconn.PgError
		if c.failAt > 0 && (!errors.As(err, &pgErr) || pgErr.Code != "22012") || c.failAt == 0 && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		s.W.Flush()
		if s.Begun() != c.begun || begins != map[bool]int{true: 1, false: 0}[c.begun] || p.Returned != c.returned ||
			strings.Count(out.String(), ",") != max(c.returned-1, 0) {
			t.Errorf("%s: begun %v (%d), returned %d, wrote %.40q", c.name, s.Begun(), begins, p.Returned, out.String())
		}
		if c.failAt == 0 && p.Next != "1500" {
			t.Errorf("%s: next %q, want 1500", c.name, p.Next)
		}
	}
}
