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

	"clearmap/internal/acreage"
	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/basemap"
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

	// The basemap is checked before anything else, so a wrong file stops
	// the start at once.
	var base *basemap.Basemap
	if cfg.Basemap != "" {
		if base, err = basemap.Open(ctx, cfg.Basemap); err != nil {
			return err
		}
		defer base.Close()
		logger.Info("serving basemap", "file", base.Path, "format", base.Format, "tiles", base.Type,
			"minzoom", base.MinZoom, "maxzoom", base.MaxZoom, "vector_layers", len(base.VectorLayers))
	}

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

	// Overlap steps that large uploads left for later (internal/acreage).
	go acreage.KeepStepped(watchCtx, pool, logger, tileChanges, 30*time.Second)

	reads, err := openStandbys(ctx, &cfg, pool)
	if err != nil {
		return err
	}
	defer reads.CloseStandbys()
	go reads.Watch(watchCtx, logger, time.Second)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	tileCache := tiles.NewCache(&tiles.Service{DB: pool, Reads: reads}, int64(cfg.TileCacheMB)<<20, tileChanges)
	m := metrics.New(pool, tileCache)
	m.WatchStandbys(reads)
	srv := api.NewHTTPServer(api.New(api.Deps{
		DB: pool, Reads: reads, Migrator: migrator, Logger: logger,
		Ingest: &ingest.Service{DB: pool, Concurrent: cfg.UploadConcurrency,
			RejectedBytesPerDay: cfg.RejectedBytesPerDay},
		MaxUploadBytes:   cfg.MaxUploadBytes,
		TargetAcres:      cfg.TargetAcres,
		Tiles:            tileCache,
		Tokens:           auth.NewCache(pool, revocations),
		Metrics:          m,
		UploadsPerMinute: cfg.UploadsPerMinute,
		TrustedProxies:   cfg.TrustedProxies,
		Basemap:          base,
		CORSOrigins:      cfg.CORSOrigins,
	}), logger)
	// Requests still running late in a shutdown's grace are cut off with
	// ErrDraining as the cause, so they answer 503 with Retry-After rather
	// than look like clients that hung up.
	requests, drain := context.WithCancelCause(context.WithoutCancel(ctx))
	defer drain(nil)
	srv.BaseContext = func(net.Listener) context.Context { return requests }
	servers := []served{{srv, ln}}
	logger.Info("listening", "url", "http://"+ln.Addr().String())

	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		servers = append(servers, served{api.NewHTTPServer(api.MetricsHandler(m), logger), mln})
		logger.Info("serving metrics", "url", "http://"+mln.Addr().String()+"/metrics")
	}
	return serveAll(ctx, logger, cfg.ShutdownTimeout, servers, func() { drain(api.ErrDraining) })
}

// served is an HTTP server and the socket it serves.
type served struct {
	srv *http.Server
	ln  net.Listener
}

// serveAll runs every server until ctx ends or one of them fails, then
// shuts them all down, giving requests in flight up to grace to finish:
// those still running after nine tenths of it are cut off (stopRequests),
// so that they can still answer before the servers close.
func serveAll(ctx context.Context, logger *slog.Logger, grace time.Duration, servers []served, stopRequests func()) error {
	done := make(chan error, len(servers))
	for _, s := range servers {
		go func() { done <- s.srv.Serve(s.ln) }()
	}
	running := len(servers)
	var errs []error
	select {
	case err := <-done: // Serve returns before Shutdown only on failure
		running--
		errs = append(errs, err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", grace)
	cut := time.AfterFunc(grace*9/10, stopRequests)
	defer cut.Stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, s := range servers {
		if err := s.srv.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	for range running {
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
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
		logger.Info("loaded embedded boundaries", "districts", r.Districts, "provinces", r.Provinces,
			"places", r.Places, "rivers", r.Rivers, "took", time.Since(start).Round(time.Millisecond))
	} else if named, err := boundaries.ContextLoaded(ctx, pool); err != nil {
		return err
	} else if !named {
		// Boundaries loaded before places and rivers existed (migration 00022).
		start := time.Now()
		places, rivers, err := boundaries.LoadContext(ctx, pool, "system")
		if err != nil {
			return fmt.Errorf("loading embedded places and rivers: %w", err)
		}
		logger.Info("loaded embedded places and rivers", "places", places, "rivers", rivers, "took", time.Since(start).Round(time.Millisecond))
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
