// Package auth manages API tokens: who may do what.
//
// A token is 32 random bytes, shown once when created and stored only as its
// SHA-256 hash. It carries one role: uploaders upload and see their own
// uploads, analysts read everything, admins do everything.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/audit"
)

// Role is what a token may do.
type Role string

// The roles, from least to most trusted.
const (
	Uploader Role = "uploader"
	Analyst  Role = "analyst"
	Admin    Role = "admin"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Uploader, Analyst, Admin:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: want uploader, analyst or admin", s)
}

// Token describes a token; its secret is never stored.
type Token struct {
	ID        int64      `json:"-"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Errors callers tell apart.
var (
	ErrNameTaken    = errors.New("a token with that name already exists")
	ErrNotFound     = errors.New("no such token")
	ErrInvalidToken = errors.New("token not recognised or revoked")
)

// tokenPrefix marks clearmap tokens, so one pasted in the wrong place is easy
// to recognise (and secret scanners can find them).
const tokenPrefix = "cm_"

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckName reports whether name is usable as a token name.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("token name %q must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Create makes a new token and returns its secret, which is not kept.
// actor is recorded as its creator and in the audit log.
func Create(ctx context.Context, db *pgxpool.Pool, name string, role Role, actor string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	secret := newSecret()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		return insertToken(ctx, tx, name, role, secret, actor)
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

func insertToken(ctx context.Context, tx pgx.Tx, name string, role Role, secret, actor string) error {
	_, err := tx.Exec(ctx, `INSERT INTO tokens (name, role, hash, created_by) VALUES ($1, $2, $3, $4)`,
		name, role, hash(secret), actor)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "tokens_active_name" {
		return ErrNameTaken
	}
	if err != nil {
		return err
	}
	return audit.Record(ctx, tx, actor, "token.create", name, map[string]any{"role": role})
}

// EnsureAdmin creates a token named "admin" if no admin token is active, and
// returns its secret; it returns "" when an admin token already exists.
// Replicas starting together create at most one.
func EnsureAdmin(ctx context.Context, db *pgxpool.Pool) (string, error) {
	var secret string
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('clearmap.first-admin'))"); err != nil {
			return err
		}
		var exists bool
		err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM tokens WHERE role = 'admin' AND revoked_at IS NULL)").Scan(&exists)
		if err != nil || exists {
			return err
		}
		secret = newSecret()
		return insertToken(ctx, tx, "admin", Admin, secret, "system")
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// List returns every token, active and revoked, oldest first.
func List(ctx context.Context, db *pgxpool.Pool) ([]Token, error) {
	rows, err := db.Query(ctx, `SELECT id, name, role, created_at, created_by, revoked_at
		FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Token, error) {
		var t Token
		err := row.Scan(&t.ID, &t.Name, &t.Role, &t.CreatedAt, &t.CreatedBy, &t.RevokedAt)
		return t, err
	})
}

// Revoke ends the active token called name. Its sessions end with it.
func Revoke(ctx context.Context, db *pgxpool.Pool, name, actor string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return audit.Record(ctx, tx, actor, "token.revoke", name, nil)
	})
}

// Authenticate returns the active token whose secret is given.
func Authenticate(ctx context.Context, db *pgxpool.Pool, secret string) (Token, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return Token{}, ErrInvalidToken
	}
	var t Token
	err := db.QueryRow(ctx, `SELECT id, name, role, created_at, created_by
		FROM tokens WHERE hash = $1 AND revoked_at IS NULL`, hash(secret)).
		Scan(&t.ID, &t.Name, &t.Role, &t.CreatedAt, &t.CreatedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, ErrInvalidToken
	}
	return t, err
}

func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand documents it)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
