// Package testdb gives tests their own throwaway PostgreSQL database on the
// real server, so tests never share state and never mock the database.
//
// The server is reached through CLEARMAP_TEST_DATABASE_URL (a postgres:// URL
// of a role allowed to create databases and the PostGIS extension), by default
// the local server's socket, as `make test` sets it up.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/boundaries"
	"clearmap/internal/store"
)

const defaultAdminURL = "postgres:///postgres?host=/var/run/postgresql"

// AdminURL is the URL of the database tests connect to in order to create
// their own.
func AdminURL() string {
	if u := os.Getenv("CLEARMAP_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultAdminURL
}

// New creates an empty database, drops it when the test ends, and returns its
// URL.
func New(t testing.TB) string {
	t.Helper()
	return newDatabase(t, AdminURL(), true)
}

// newDatabase is New on the server of adminURL; drop says whether to drop
// it when the test ends.
func newDatabase(t testing.TB, adminURL string, drop bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("testdb: connect to %s: %v (is PostgreSQL running? `make test` sets it up)", adminURL, err)
	}
	defer admin.Close(ctx)

	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "clearmap_test_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() {
		if !drop {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("testdb: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: drop %s: %v", name, err)
		}
	})

	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("testdb: CLEARMAP_TEST_DATABASE_URL must be a postgres:// URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Migrated creates a database with every migration applied and returns a pool
// on it, closed when the test ends.
func Migrated(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return migrated(t, AdminURL(), true)
}

// migrated is Migrated on the server of adminURL; drop as for newDatabase.
func migrated(t testing.TB, adminURL string, drop bool) *pgxpool.Pool {
	t.Helper()
	pool := Open(t, newDatabase(t, adminURL, drop))
	m, err := store.NewMigrator(pool)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer m.Close()
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return pool
}

// Open returns a pool on the database at url, closed when the test ends.
func Open(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Cut makes the database at url unreachable, as an outage would: it refuses
// new connections and ends the open ones. Restore undoes it.
func Cut(t testing.TB, url string) {
	t.Helper()
	setReachable(t, url, false)
}

// Restore lets connections to the database at url in again after Cut.
func Restore(t testing.TB, url string) {
	t.Helper()
	setReachable(t, url, true)
}

func setReachable(t testing.TB, dbURL string, reachable bool) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := pgx.Identifier{u.Path[1:]}.Sanitize()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS "+map[bool]string{true: "true", false: "false"}[reachable]); err != nil {
		t.Fatal(err)
	}
	if !reachable {
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", u.Path[1:]); err != nil {
			t.Fatal(err)
		}
	}
}

// WithBoundaries is Migrated with the shipped district boundaries loaded.
func WithBoundaries(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return withBoundaries(t, AdminURL(), true)
}

// withBoundaries is WithBoundaries on the server of adminURL; drop as for
// newDatabase.
func withBoundaries(t testing.TB, adminURL string, drop bool) *pgxpool.Pool {
	t.Helper()
	pool := migrated(t, adminURL, drop)
	if _, err := boundaries.Load(context.Background(), pool, boundaries.Embedded(), "test"); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return pool
}

// Eventually waits up to ten seconds for cond, for what happens
// asynchronously (a notification, a listener starting), and fails the test
// naming what did not happen.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out waiting: " + what)
}
