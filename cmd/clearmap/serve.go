package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/boundaries"
	"clearmap/internal/config"
	"clearmap/internal/ingest"
	"clearmap/internal/metrics"
	"clearmap/internal/store"
	"clearmap/internal/tiles"
)

func serve(ctx context.Context, e env, args []string) error {
	var cfg config.Config
	fs, err := newFlags("serve", e, &cfg)
	if err != nil {
		return err
	}
	noMigrate := fs.Bool("no-migrate", false, "do not apply pending migrations (they must have been applied)")
	positional, err := parse(fs, &cfg, args)
	if err != nil {
		return err
	}
	if err := wantArgs(positional, 0, "no arguments"); err != nil {
		return err
	}
	logger := newLogger(&cfg, e)

	pool, err := openDB(ctx, &cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := store.NewMigrator(pool)
	if err != nil {
		return err
	}
	defer migrator.Close()
	if err := prepare(ctx, e, logger, pool, migrator, !*noMigrate); err != nil {
		return err
	}

	// Tiles and tokens are kept in memory; notifications say when the
	// database has changed under them.
	tileChanges, revocations := new(store.Signal), new(store.Signal)
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	go store.Watch(watchCtx, pool, logger, map[string]*store.Signal{
		store.TileChangesChannel: tileChanges,
		store.TokensChannel:      revocations,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	tileCache := tiles.NewCache(&tiles.Service{DB: pool}, int64(cfg.TileCacheMB)<<20, tileChanges)
	srv := api.NewHTTPServer(api.New(api.Deps{
		DB: pool, Migrator: migrator, Logger: logger,
		Ingest:           &ingest.Service{DB: pool},
		MaxUploadBytes:   cfg.MaxUploadBytes,
		TargetAcres:      cfg.TargetAcres,
		Tiles:            tileCache,
		Tokens:           auth.NewCache(pool, revocations),
		Metrics:          metrics.New(pool, tileCache),
		UploadsPerMinute: cfg.UploadsPerMinute,
	}), logger)
	// Requests still running at shutdown are cut off with ErrDraining as the
	// cause, so they answer 503 with Retry-After rather than look like
	// clients that hung up.
	requests, drain := context.WithCancelCause(context.WithoutCancel(ctx))
	defer drain(nil)
	srv.BaseContext = func(net.Listener) context.Context { return requests }
	logger.Info("listening", "url", "http://"+ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownTimeout)
	drain(api.ErrDraining)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// prepare brings the database to what the server needs: current schema,
// boundaries, and an admin token whose secret is printed once on stdout.
func prepare(ctx context.Context, e env, logger *slog.Logger, pool *pgxpool.Pool, migrator *store.Migrator, migrate bool) error {
	if migrate {
		applied, err := migrator.Up(ctx)
		if err != nil {
			return err
		}
		for _, name := range applied {
			logger.Info("applied migration", "name", name)
		}
	} else if pending, err := migrator.Pending(ctx); err != nil || pending {
		if err == nil {
			err = errors.New("migrations are pending and --no-migrate was given: run `clearmap migrate`")
		}
		return err
	}

	loaded, err := boundaries.Loaded(ctx, pool)
	if err != nil {
		return err
	}
	if !loaded {
		start := time.Now()
		r, err := boundaries.Load(ctx, pool, boundaries.Embedded(), "system")
		if err != nil {
			return fmt.Errorf("loading embedded boundaries: %w", err)
		}
		logger.Info("loaded embedded boundaries", "districts", r.Districts, "provinces", r.Provinces, "took", time.Since(start).Round(time.Millisecond))
	}

	secret, err := auth.EnsureAdmin(ctx, pool)
	if err != nil {
		return err
	}
	if secret != "" {
		fmt.Fprintf(e.stdout, "\nCreated the first admin token, named \"admin\". It is shown only this once; keep it safe:\n\n    %s\n\n", secret)
	}
	return nil
}
