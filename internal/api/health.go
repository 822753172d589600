package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"clearmap/internal/metrics"
)

// healthz answers 200 while the process runs.
func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database answers and its schema is current, and
// 503 otherwise, so a load balancer sends traffic only where it can be served.
func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.DB.Ping(ctx); err != nil {
		a.fail(w, r, err)
		return
	}
	pending, err := a.Migrator.Pending(ctx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if pending {
		w.Header().Set("Retry-After", retryAfterUnavailable)
		writeProblem(w, problem{Type: typeSchemaNotCurrent, Title: "Schema not current", Status: http.StatusServiceUnavailable,
			Detail: "database schema is not current: migrations are pending (run clearmap migrate)"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// MetricsHandler serves Prometheus' scrape at /metrics, without a token,
// and nothing else: it is for a listener only scrapers can reach
// (CLEARMAP_METRICS_ADDR).
func MetricsHandler(m *metrics.Metrics) http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders, middleware.GetHead)
	r.NotFound(notFound)
	r.MethodNotAllowed(methodNotAllowed(r))
	r.Get("/metrics", m.Handler().ServeHTTP)
	return r
}
