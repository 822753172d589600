package api

import (
	"context"
	"net"
	"net/http"
	"time"

	"clearmap/internal/auth"
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

// metrics serves Prometheus' scrape: to admins, and to scrapers on this
// machine that reach the server directly (not through a proxy, which would
// make every client look local).
func (a *api) metrics(w http.ResponseWriter, r *http.Request) {
	if directFromLoopback(r) {
		a.Metrics.Handler().ServeHTTP(w, r)
		return
	}
	a.authenticate(require(auth.Admin)(a.Metrics.Handler())).ServeHTTP(w, r)
}

func directFromLoopback(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}
