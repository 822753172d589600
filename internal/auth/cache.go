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

// Cache authenticates like Authenticate, remembering the tokens it has
// seen so that a request (a map shows dozens of tiles a second) need not
// ask the database. A revocation, from this process or any other, moves
// the revocations signal (store.Watch on store.TokensChannel) and so
// empties the cache; while that signal is not live, every request asks.
// Only active tokens are remembered, so guessing cannot fill it.
type Cache struct {
	db          *pgxpool.Pool
	revocations *store.Signal

	mu      sync.Mutex
	version uint64
	known   map[[sha256.Size]byte]knownToken
}

type knownToken struct {
	token Token
	at    time.Time
}

// NewCache returns a token cache; revocations may be nil, which turns
// remembering off.
func NewCache(db *pgxpool.Pool, revocations *store.Signal) *Cache {
	return &Cache{db: db, revocations: revocations, known: map[[sha256.Size]byte]knownToken{}}
}

// Authenticate returns the active token with this secret, or ErrInvalidToken.
func (c *Cache) Authenticate(ctx context.Context, secret string) (Token, error) {
	key := sha256.Sum256([]byte(secret))
	version, live := c.revocations.Version()
	if live {
		c.mu.Lock()
		if version != c.version {
			clear(c.known)
			c.version = version
		}
		k, ok := c.known[key]
		c.mu.Unlock()
		if ok && time.Since(k.at) < cacheFor {
			return k.token, nil
		}
	}
	tok, err := Authenticate(ctx, c.db, secret)
	if err != nil || !live {
		return tok, err
	}
	c.mu.Lock()
	// Remember it only if no revocation came while we asked: the answer
	// may predate it.
	if v, _ := c.revocations.Version(); v == version && c.version == version {
		c.known[key] = knownToken{tok, time.Now()}
	}
	c.mu.Unlock()
	return tok, nil
}

// Revoked tells the cache that this process has just revoked a token.
func (c *Cache) Revoked() { c.revocations.Changed() }
