package auth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/store"
)

// cacheFor bounds how long a token is trusted without asking the database,
// in case a revocation's notification is lost on the way.
const cacheFor = time.Minute

// Cache authenticates like Authenticate and LookupSession, remembering the
// tokens and sessions it has seen so that a request (a map shows dozens of
// tiles a second) need not ask the database. A revocation or sign-out, from
// this process or any other, moves the revocations signal (store.Watch on
// store.TokensChannel) and so empties the cache; while that signal is not
// live, every request asks. Only good tokens and sessions are remembered,
// so guessing cannot fill it.
type Cache struct {
	db          *pgxpool.Pool
	revocations *store.Signal

	mu      sync.Mutex
	version uint64
	known   map[[sha256.Size]byte]knownToken
}

type knownToken struct {
	session Session // Token set for both kinds; the rest for sessions only
	at      time.Time
}

// NewCache returns a token cache; revocations may be nil, which turns
// remembering off.
func NewCache(db *pgxpool.Pool, revocations *store.Signal) *Cache {
	return &Cache{db: db, revocations: revocations, known: map[[sha256.Size]byte]knownToken{}}
}

// Authenticate returns the active token with this secret, or ErrInvalidToken.
func (c *Cache) Authenticate(ctx context.Context, secret string) (Token, error) {
	s, err := c.remember(ctx, "token\x00"+secret, func() (Session, error) {
		tok, err := Authenticate(ctx, c.db, secret)
		return Session{Token: tok}, err
	})
	return s.Token, err
}

// Session returns the session with this id if it is still good, or
// ErrNoSession.
func (c *Cache) Session(ctx context.Context, id string) (Session, error) {
	s, err := c.remember(ctx, "session\x00"+id, func() (Session, error) {
		return LookupSession(ctx, c.db, id)
	})
	if err == nil && !s.Expires.IsZero() && time.Now().After(s.Expires) {
		return Session{}, ErrNoSession
	}
	return s, err
}

func (c *Cache) remember(ctx context.Context, key string, lookup func() (Session, error)) (Session, error) {
	sum := sha256.Sum256([]byte(key))
	version, live := c.revocations.Version()
	if live {
		c.mu.Lock()
		if version != c.version {
			clear(c.known)
			c.version = version
		}
		k, ok := c.known[sum]
		c.mu.Unlock()
		if ok && time.Since(k.at) < cacheFor {
			return k.session, nil
		}
	}
	s, err := lookup()
	if err != nil || !live {
		return s, err
	}
	c.mu.Lock()
	// Remember it only if no revocation came while we asked: the answer
	// may predate it.
	if v, _ := c.revocations.Version(); v == version && c.version == version {
		c.known[sum] = knownToken{s, time.Now()}
	}
	c.mu.Unlock()
	return s, nil
}

// Revoked tells the cache that this process has just revoked a token or
// ended a session.
func (c *Cache) Revoked() { c.revocations.Changed() }
