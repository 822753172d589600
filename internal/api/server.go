package api

import (
	"log/slog"
	"net/http"
	"time"
)

// HTTP timeouts. Reads and writes are long enough for a 64 MiB upload over a
// slow field connection; headers must come quickly, so idle sockets cannot
// pile up.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 10 * time.Minute
	writeTimeout      = 10 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// NewHTTPServer serves h with a timeout on every phase of a connection, so
// slow or stalled clients cannot hold the server. logger (may be nil)
// receives net/http's own complaints.
func NewHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	if logger != nil {
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}
	return srv
}
