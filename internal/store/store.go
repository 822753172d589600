// Package store opens clearmap's PostgreSQL connection pool and keeps its
// schema current. Queries live beside the domain code that runs them.
package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune the pool. Zero values take pgx's defaults.
type Options struct {
	// MaxConns bounds the pool, so a burst of requests queues instead of
	// exhausting the server's connection slots.
	MaxConns int32
	// StatementTimeout cancels any statement that runs longer, so a runaway
	// query cannot hold a connection forever.
	StatementTimeout time.Duration
}

// Open connects to the database at url and checks that it answers.
func Open(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	pool, err := OpenStandby(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// OpenStandby makes a pool for the standby at url without connecting: a
// standby that is down does not stop a server from starting (Pools.Watch
// finds it, and reads go to the primary until it is up).
func OpenStandby(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	params := cfg.ConnConfig.RuntimeParams
	params["application_name"] = "clearmap"
	// Spatial queries have high plan costs, so PostgreSQL would JIT-compile
	// them: about a second per query for no gain on our short queries (see
	// ANCHORS.md, where JIT dominated pg_tileserv's low-zoom tile time).
	params["jit"] = "off"
	if opts.StatementTimeout > 0 {
		params["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}
