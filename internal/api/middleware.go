package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

type requestInfoKey struct{}

// requestInfo is filled in as a request passes through the middleware, for
// the log line written when it ends.
type requestInfo struct {
	id     string
	token  string // the name of the token used, if any
	client client
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	if info == nil {
		return &requestInfo{}
	}
	return info
}

// validRequestID accepts a caller's X-Request-Id only if it is short and
// plain, so it cannot forge log lines.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// logRequests gives each request an id (the caller's X-Request-Id, or a new
// one), returns it in X-Request-Id, works out its client (clientOf), turns
// a panic into a 500, and logs one line per request. It logs the path but
// never the query, which may carry an access_token.
func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: r.Header.Get("X-Request-Id"), client: clientOf(r, a.TrustedProxies)}
		if !validRequestID.MatchString(info.id) {
			b := make([]byte, 8)
			rand.Read(b)
			info.id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", info.id)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))

		defer func() {
			level := slog.LevelInfo
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.Logger.ErrorContext(r.Context(), "panic", "request_id", info.id, "panic", p, "stack", string(debug.Stack()))
				if ww.Status() == 0 {
					writeError(ww, http.StatusInternalServerError, "internal error; request id "+info.id)
				}
			}
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			if quiet(r.URL.Path, status) {
				level = slog.LevelDebug
			}
			took := time.Since(start)
			a.Metrics.Request(chi.RouteContext(r.Context()).RoutePattern(), r.Method, status, took)
			a.Logger.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", info.id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int("bytes", ww.BytesWritten()),
				slog.Float64("ms", float64(took.Microseconds())/1000),
				slog.String("token", info.token),
				slog.String("client", info.client.ip.String()),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		next.ServeHTTP(ww, r)
	})
}

// quiet says whether a request is too routine for the info log: health
// probes, and tiles (clearmap's and the basemap's) served without error (a
// map view fetches dozens a second; writing a line for each cost 14% of a
// cached tile's time).
func quiet(path string, status int) bool {
	return path == "/healthz" || path == "/readyz" ||
		(strings.HasPrefix(path, "/tiles/") || strings.HasPrefix(path, "/basemap/")) && status < 400
}
