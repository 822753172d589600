package store

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Notification channels, raised by triggers (migrations/00011_notify.sql)
// so that every writer, the command line and psql included, raises them.
const (
	TileChangesChannel = "clearmap_tile_changes"
	TokensChannel      = "clearmap_tokens"
)

// Signal tells a process-local copy of some table (cached tiles, known
// tokens) when to look at the database again. A reader remembers the
// version it last looked at; while the signal is live and the version has
// not moved, nothing has changed. While it is not live (no listener, or its
// connection lost) the reader must look every time.
//
// The zero Signal is never live: reading through it is always exact.
type Signal struct {
	version atomic.Uint64
	live    atomic.Bool
}

// Version returns the current version and whether it can be trusted.
func (s *Signal) Version() (version uint64, live bool) {
	if s == nil {
		return 0, false
	}
	// live first: a version read after a live true is at least as new as
	// the re-listen that set it.
	live = s.live.Load()
	return s.version.Load(), live
}

// Changed moves the version on. The process that made a change calls it
// itself as soon as the change commits, so its own next read is exact
// without waiting for the notification to come back.
func (s *Signal) Changed() {
	if s != nil {
		s.version.Add(1)
	}
}

// Watch listens on the channels over one connection of its own (not one
// of the pool's) until ctx ends, moving each channel's signal on every
// notification. When the connection drops, the signals stop being live
// until it is back and listening again; then they move on once, because
// changes may have been missed in between.
func Watch(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger, signals map[string]*Signal) {
	setLive := func(live bool) {
		for _, s := range signals {
			if live {
				s.Changed()
			}
			s.live.Store(live)
		}
	}
	backoff := time.Second
	for ctx.Err() == nil {
		err := listen(ctx, pool.Config().ConnConfig.Copy(), signals, func() {
			setLive(true)
			backoff = time.Second
		})
		setLive(false)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("change notifications lost; caches check the database on every request until they are back", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func listen(ctx context.Context, cfg *pgx.ConnConfig, signals map[string]*Signal, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for channel := range signals {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return err
		}
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		signals[n.Channel].Changed()
	}
}
