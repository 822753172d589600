package main

import (
	"context"
	"errors"
	"fmt"
	"os/user"

	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/config"
	"clearmap/internal/store"
)

func openDB(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	return store.Open(ctx, cfg.DatabaseURL, store.Options{
		MaxConns:         int32(cfg.DBMaxConns),
		StatementTimeout: cfg.StatementTimeout,
	})
}

// openStandbys makes a pool for each standby in CLEARMAP_READ_DATABASE_URL
// (without connecting: one that is down is skipped until it is up) and the
// router that sends reads to them.
func openStandbys(ctx context.Context, cfg *config.Config, primary *pgxpool.Pool) (*store.Pools, error) {
	var standbys []*pgxpool.Pool
	for _, url := range cfg.ReadDatabaseURLs {
		pool, err := store.OpenStandby(ctx, url, store.Options{
			MaxConns:         int32(cfg.DBMaxConns),
			StatementTimeout: cfg.StatementTimeout,
		})
		if err != nil {
			for _, p := range standbys {
				p.Close()
			}
			return nil, fmt.Errorf("read database url: %w", err)
		}
		standbys = append(standbys, pool)
	}
	return store.NewPools(primary, standbys, cfg.MaxReplicaLag), nil
}

// openCurrent opens the database and refuses one whose schema is behind,
// so administrative commands never work on half a schema.
func openCurrent(ctx context.Context, cfg *config.Config) (*pgxpool.Pool, error) {
	pool, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m, err := store.NewMigrator(pool)
	if err == nil {
		defer m.Close()
		var pending bool
		pending, err = m.Pending(ctx)
		if err == nil && pending {
			err = errors.New("database schema is not current: run `clearmap migrate` first")
		}
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// actor names the person at the terminal in the audit log.
func actor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

func migrate(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs, err := newFlags("migrate", e, &cfg)
	if err != nil {
		return err
	}
	positional, err := parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if err := wantArgs(positional, 0, "no arguments"); err != nil {
		return err
	}
	pool, err := openDB(ctx, &cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := store.NewMigrator(pool)
	if err != nil {
		return err
	}
	defer m.Close()
	applied, err := m.Up(ctx)
	if err != nil {
		return err
	}
	for _, name := range applied {
		fmt.Fprintln(e.stdout, "applied "+name)
	}
	if len(applied) == 0 {
		fmt.Fprintln(e.stdout, "database schema is current")
	}
	return nil
}
