package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SessionLifetime is how long a browser stays signed in.
const SessionLifetime = 12 * time.Hour

// ErrNoSession means the session id is unknown, expired, signed out, or its
// token revoked.
var ErrNoSession = errors.New("not signed in, or the session has ended")

// Session is a browser's sign-in: the id its cookie carries, and the CSRF
// token the page must send back on every state-changing request.
type Session struct {
	ID      string
	CSRF    string
	Token   Token
	Expires time.Time
}

// StartSession exchanges an active token's secret for a new session.
func StartSession(ctx context.Context, db *pgxpool.Pool, tokenSecret string) (Session, error) {
	tok, err := Authenticate(ctx, db, tokenSecret)
	if err != nil {
		return Session{}, err
	}
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand documents it)
	s := Session{ID: base64.RawURLEncoding.EncodeToString(b), Token: tok}
	s.CSRF = CSRFFor(s.ID)
	err = db.QueryRow(ctx, `INSERT INTO sessions (hash, token_id, expires_at)
		VALUES ($1, $2, now() + $3::interval) RETURNING expires_at`,
		hash(s.ID), tok.ID, SessionLifetime.String()).Scan(&s.Expires)
	return s, err
}

// LookupSession returns the session with this id, if it is still good.
func LookupSession(ctx context.Context, db *pgxpool.Pool, id string) (Session, error) {
	s := Session{ID: id, CSRF: CSRFFor(id)}
	t := &s.Token
	err := db.QueryRow(ctx, `SELECT t.id, t.name, t.role, t.created_at, t.created_by, s.expires_at
		FROM sessions s JOIN tokens t ON t.id = s.token_id
		WHERE s.hash = $1 AND s.expires_at > now() AND t.revoked_at IS NULL`, hash(id)).
		Scan(&t.ID, &t.Name, &t.Role, &t.CreatedAt, &t.CreatedBy, &s.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	return s, err
}

// EndSession signs a session out, and forgets sessions that have expired.
func EndSession(ctx context.Context, db *pgxpool.Pool, id string) error {
	_, err := db.Exec(ctx, "DELETE FROM sessions WHERE hash = $1 OR expires_at < now()", hash(id))
	return err
}

// CSRFFor derives a session's CSRF token from its id, so the page can ask
// for it again after a reload without the server keeping it in clear.
func CSRFFor(sessionID string) string {
	h := sha256.Sum256([]byte("clearmap csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// CSRFMatches compares a request's CSRF token with the session's in
// constant time.
func CSRFMatches(s Session, got string) bool {
	return subtle.ConstantTimeCompare([]byte(s.CSRF), []byte(got)) == 1
}
