// Package metrics keeps clearmap's Prometheus metrics: HTTP requests by
// route and status, uploads and features, the tile cache, and the database
// pool. The handlers count what happens; the cache and pool are read when
// Prometheus scrapes.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"clearmap/internal/store"
	"clearmap/internal/tiles"
)

// Metrics holds the counters the handlers move.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	uploads  *prometheus.CounterVec
	features prometheus.Counter
}

// New registers clearmap's metrics, reading the pool's and the cache's
// figures at each scrape.
func New(pool *pgxpool.Pool, cache *tiles.Cache) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearmap_http_requests_total", Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "clearmap_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clearmap_uploads_total", Help: "Uploads by outcome: accepted, replayed, rejected, too_large, busy.",
		}, []string{"outcome"}),
		features: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clearmap_features_ingested_total", Help: "Cleared fields stored by accepted uploads.",
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.uploads, m.features,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// register adds a metric read at each scrape.
	register := func(name, help string, counter bool, read func() float64) {
		if counter {
			m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, read))
		} else {
			m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
		}
	}
	for _, c := range []struct {
		name, help string
		counter    bool
		read       func(tiles.CacheStats) int64
	}{
		{"clearmap_tile_cache_hits_total", "Tiles served from the cache.", true, func(s tiles.CacheStats) int64 { return s.Hits }},
		{"clearmap_tile_cache_misses_total", "Tile requests the cache could not answer.", true, func(s tiles.CacheStats) int64 { return s.Misses }},
		{"clearmap_tile_builds_total", "Tiles built in PostGIS (misses of one tile at once share a build).", true, func(s tiles.CacheStats) int64 { return s.Builds }},
		{"clearmap_tile_cache_evictions_total", "Tiles dropped to keep the cache within its size.", true, func(s tiles.CacheStats) int64 { return s.Evictions }},
		{"clearmap_tile_cache_invalidations_total", "Cached tiles dropped because their data changed.", true, func(s tiles.CacheStats) int64 { return s.Invalidations }},
		{"clearmap_tile_cache_bytes", "Bytes of tiles held.", false, func(s tiles.CacheStats) int64 { return s.Bytes }},
		{"clearmap_tile_cache_tiles", "Tiles held.", false, func(s tiles.CacheStats) int64 { return s.Tiles }},
	} {
		register(c.name, c.help, c.counter, func() float64 { return float64(c.read(cache.Stats())) })
	}
	for _, p := range []struct {
		name, help string
		counter    bool
		read       func(*pgxpool.Stat) float64
	}{
		{"clearmap_db_connections_acquired", "Pool connections in use.", false, func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }},
		{"clearmap_db_connections_idle", "Pool connections idle.", false, func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }},
		{"clearmap_db_connections_max", "The pool's bound (CLEARMAP_DB_MAX_CONNS).", false, func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }},
		{"clearmap_db_acquires_total", "Connections taken from the pool.", true, func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }},
		{"clearmap_db_acquire_waits_total", "Acquires that had to wait for a connection.", true, func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }},
		{"clearmap_db_acquire_wait_seconds_total", "Time spent acquiring connections.", true, func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }},
	} {
		register(p.name, p.help, p.counter, func() float64 { return p.read(pool.Stat()) })
	}
	return m
}

// WatchStandbys adds, for each standby reads may go to (numbered as in
// CLEARMAP_READ_DATABASE_URL, from 0), whether reads use it and how far it
// lags, read at each scrape.
func (m *Metrics) WatchStandbys(p *store.Pools) {
	for i, s := range p.Standbys() {
		labels := prometheus.Labels{"standby": strconv.Itoa(i), "address": s.Name}
		m.registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clearmap_db_standby_usable", ConstLabels: labels,
				Help: "1 while reads go to the standby; 0 while it is skipped (down, not in recovery, or lagging more than CLEARMAP_MAX_REPLICA_LAG)."},
				func() float64 {
					if p.Standbys()[i].Usable {
						return 1
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "clearmap_db_standby_lag_seconds", ConstLabels: labels,
				Help: "How long ago the primary's WAL first stood beyond what the standby has replayed, at the last poll (0: it has all)."},
				func() float64 { return p.Standbys()[i].Lag.Seconds() }))
	}
}

// Request counts one answered request. route is the pattern it matched
// ("" for none), so ids in paths do not make a metric per upload.
func (m *Metrics) Request(route, method string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(took.Seconds())
}

// Upload counts an upload's outcome and, when accepted, its fields.
func (m *Metrics) Upload(outcome string, features int) {
	m.uploads.WithLabelValues(outcome).Inc()
	m.features.Add(float64(features))
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
