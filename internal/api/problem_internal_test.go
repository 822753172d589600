package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// TestDatabaseUnavailable classes errors as the database's absence (503)
// or as bugs (500), wrapped as the packages below wrap them.
func TestDatabaseUnavailable(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("storing: %w", &pgconn.PgError{Code: code}) }
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"cannot connect", fmt.Errorf("acquire: %w", &pgconn.ConnectError{}), true},
		{"connection exception", pg("08006"), true},
		{"admin shutdown", pg("57P01"), true},
		{"crash shutdown", pg("57P02"), true},
		{"starting up", pg("57P03"), true},
		{"too many connections", pg("53300"), true},
		{"statement timeout", pg("57014"), true},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"closed pool", fmt.Errorf("acquire: %w", puddle.ErrClosedPool), true},
		{"connection cut", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"unique violation", pg("23505"), false},
		{"no such table", pg("42P01"), false},
		{"untranslatable character", pg("22P05"), false},
		{"a bug", errors.New("index out of range"), false},
		{"cancelled", context.Canceled, false},
	} {
		if got := databaseUnavailable(c.err); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
