package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"clearmap/internal/ingest"
)

// Problem types (RFC 9457 §3.1.1). A status whose answer needs no more than
// its phrase has "about:blank", titled with the phrase; clearmap's own
// classes have a relative URI, stable so clients may branch on it.
const (
	typeBlank            = "about:blank"
	typeInvalidParameter = "/problems/invalid-parameter"
	typeNotGeoJSON       = "/problems/not-geojson"
	typeUploadRejected   = "/problems/upload-rejected"
	typeKeyReused        = "/problems/idempotency-key-reused"
	typeKeyRetracted     = "/problems/idempotency-key-retracted"
	typeDatabaseDown     = "/problems/database-unavailable"
	typeSchemaNotCurrent = "/problems/schema-not-current"
	typeDraining         = "/problems/draining"
	typeBusy             = "/problems/busy"
)

const (
	// statusClientGone is nginx's "client closed request": logged and
	// counted, never seen by the client, which has gone.
	statusClientGone = 499
	// retryAfterUnavailable is the Retry-After of a 503, in seconds.
	retryAfterUnavailable = "5"
)

// problem is an RFC 9457 problem details object, the body of every error
// answer.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Problems lists what is wrong with each feature of a rejected upload.
	Problems []ingest.Problem `json:"problems,omitempty"`
	// MoreProblems counts the problems beyond those listed.
	MoreProblems int `json:"more_problems,omitempty"`
	// Upload is a rejected upload's receipt, as GET /api/v1/uploads/{id}
	// gives it later.
	Upload *ingest.Receipt `json:"upload,omitempty"`
}

// ErrDraining is the cause given to requests cut off because the server is
// shutting down.
var ErrDraining = errors.New("the server is shutting down")

// writeError answers with a problem of type about:blank: status's phrase as
// its title and msg as its detail.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeProblem(w, problem{Type: typeBlank, Title: http.StatusText(status), Status: status, Detail: msg})
}

// badParameter answers 400 for a query or path value the client must fix;
// msg names the parameter.
func badParameter(w http.ResponseWriter, msg string) {
	writeProblem(w, problem{Type: typeInvalidParameter, Title: "Invalid parameter", Status: http.StatusBadRequest, Detail: msg})
}

// writeProblem answers with p, its status as the HTTP status.
func writeProblem(w http.ResponseWriter, p problem) {
	writeJSONAs(w, p.Status, "application/problem+json", p)
}

// fail answers a request whose work failed with an error no handler
// expects. The class decides the answer:
//
//   - the client hung up: nobody is listening, so nothing is sent; the
//     request is logged and counted as 499, not as a server error;
//   - the server is shutting down, or the database cannot be reached or
//     timed out: 503 with Retry-After, logged as a warning;
//   - anything else is a bug: 500 naming the request id, logged as an error
//     with it.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	id := infoFrom(ctx).id
	switch {
	case errors.Is(context.Cause(ctx), ErrDraining):
		a.Logger.WarnContext(ctx, "request cut off by shutdown", "request_id", id, "err", err)
		w.Header().Set("Retry-After", retryAfterUnavailable)
		writeProblem(w, problem{Type: typeDraining, Title: "Shutting down", Status: http.StatusServiceUnavailable,
			Detail: "the server is shutting down; retry, and another server (or this one restarted) will answer"})
	case ctx.Err() != nil:
		a.Logger.InfoContext(ctx, "client closed request", "request_id", id, "err", err)
		w.WriteHeader(statusClientGone)
	case databaseUnavailable(err):
		a.Logger.WarnContext(ctx, "database unavailable", "request_id", id, "err", err)
		w.Header().Set("Retry-After", retryAfterUnavailable)
		writeProblem(w, problem{Type: typeDatabaseDown, Title: "Database unavailable", Status: http.StatusServiceUnavailable,
			Detail: "database unavailable: it could not be reached or did not answer in time; nothing was changed, retry shortly"})
	default:
		a.Logger.ErrorContext(ctx, "internal error", "request_id", id, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error; request id "+id)
	}
}

// databaseUnavailable says whether err means the database could not be
// reached (any failure to connect, whatever the server said), went away,
// was shutting down, refused more connections, or timed out: errors a
// retry may not meet.
func databaseUnavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now
			"53300", // too_many_connections
			"57014": // query_canceled: statement_timeout (a client's hang-up is told apart before)
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection exception
	}
	var netErr net.Error
	return errors.As(err, &netErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool)
}

// checkInput refuses a request whose path or query holds a NUL character
// or bytes that are not UTF-8: no resource is named so, and no parameter
// takes such a value (PostgreSQL text could not hold it either).
func checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !plainText(r.URL.Path) {
			writeError(w, http.StatusNotFound, "no such resource: the path holds a NUL character or bytes that are not UTF-8")
			return
		}
		for name, values := range r.URL.Query() {
			if !plainText(name) {
				badParameter(w, "a query parameter's name holds a NUL character or bytes that are not UTF-8")
				return
			}
			for _, v := range values {
				if !plainText(v) {
					badParameter(w, name+": the value holds a NUL character or bytes that are not UTF-8")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// plainText says whether s is UTF-8 without NUL characters.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
