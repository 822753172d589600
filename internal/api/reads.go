package api

import (
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
)

// reader returns the pool the request's reads go to: a standby that has
// replayed the client's own writes, or the primary (store.Pools.Reader).
// When that cannot be told it answers the request itself and returns false.
func (a *api) reader(w http.ResponseWriter, r *http.Request) (*pgxpool.Pool, bool) {
	db, err := a.Reads.Reader(r.Context(), 0)
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	return db, true
}

// recordWrites wraps a route that writes: before its answer starts, it
// records where the primary's WAL then stands as the client's last write
// (store.Pools.Wrote), so that the client's next reads, on any server, see
// what it wrote. An answer of 500 or more (the write failed, or the
// database is down) records nothing. Should recording fail, the answer goes
// out as it is (the write stands; a retry of an upload is idempotent, but of
// a reported figure is not), and the client may read from a standby that
// has not replayed its write for as long as the standby lags.
func (a *api) recordWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&writeRecorder{ResponseWriter: w, record: func(status int) {
			if status >= 500 {
				return
			}
			if err := a.Reads.Wrote(r.Context()); err != nil {
				a.Logger.WarnContext(r.Context(), "the client's next reads may not show its write", "request_id", infoFrom(r.Context()).id, "err", err)
			}
		}}, r)
	})
}

// writeRecorder calls record with the status once, as the answer starts.
type writeRecorder struct {
	http.ResponseWriter
	record  func(status int)
	started bool
}

func (w *writeRecorder) WriteHeader(status int) {
	if !w.started {
		w.started = true
		w.record(status)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *writeRecorder) Write(b []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *writeRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
