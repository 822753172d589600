package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Migrated(t)

	secret, err := auth.Create(ctx, pool, "khyber-team", auth.Uploader, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "cm_") || len(secret) != 3+43 {
		t.Fatalf("secret %q: want cm_ and 43 base64url characters", secret)
	}

	tok, err := auth.Authenticate(ctx, pool, secret)
	if err != nil || tok.Name != "khyber-team" || tok.Role != auth.Uploader || tok.CreatedBy != "test" {
		t.Fatalf("Authenticate = %+v, %v", tok, err)
	}

	// Only the hash is stored: the secret appears nowhere in the table.
	var leaked bool
	err = pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tokens t
		WHERE position($1 in t::text) > 0 OR position(convert_to($1, 'UTF8') in t.hash) > 0)`, secret).Scan(&leaked)
	if err != nil || leaked {
		t.Fatalf("secret found in tokens table (%v)", err)
	}

	if _, err := auth.Create(ctx, pool, "khyber-team", auth.Analyst, "test"); !errors.Is(err, auth.ErrNameTaken) {
		t.Fatalf("second active token with the same name: %v, want ErrNameTaken", err)
	}

	if err := auth.Revoke(ctx, pool, "khyber-team", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, pool, secret); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("revoked token authenticates: %v", err)
	}
	if err := auth.Revoke(ctx, pool, "khyber-team", "test"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("revoking twice: %v, want ErrNotFound", err)
	}

	// The name is free again once revoked.
	again, err := auth.Create(ctx, pool, "khyber-team", auth.Analyst, "test")
	if err != nil || again == secret {
		t.Fatalf("re-creating a revoked name: %v", err)
	}

	tokens, err := auth.List(ctx, pool)
	if err != nil || len(tokens) != 2 {
		t.Fatalf("List = %d tokens, %v; want 2", len(tokens), err)
	}
	if tokens[0].RevokedAt == nil || tokens[1].RevokedAt != nil || tokens[1].Role != auth.Analyst {
		t.Fatalf("List = %+v", tokens)
	}

	var actions string
	pool.QueryRow(ctx, "SELECT string_agg(action || ':' || subject, ',' ORDER BY id) FROM audit_log").Scan(&actions)
	if actions != "token.create:khyber-team,token.revoke:khyber-team,token.create:khyber-team" {
		t.Fatalf("audit log = %s", actions)
	}
}

func TestCreateRejectsBadNamesAndRoles(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Migrated(t)
	for _, name := range []string{"", " team", "team one", "-team", strings.Repeat("x", 65), "team'; DROP TABLE tokens; --", "téam"} {
		if _, err := auth.Create(ctx, pool, name, auth.Analyst, "test"); err == nil || !strings.Contains(err.Error(), "must be 1-64 letters") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := auth.Create(ctx, pool, "ok", auth.Role("root"), "test"); err == nil || !strings.Contains(err.Error(), `unknown role "root"`) {
		t.Errorf("role root: %v", err)
	}
	var n int
	pool.QueryRow(ctx, "SELECT count(*) FROM tokens").Scan(&n)
	if n != 0 {
		t.Fatalf("%d tokens stored after only bad requests", n)
	}
}

func TestAuthenticateRejectsStrangers(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Migrated(t)
	secret, _ := auth.Create(ctx, pool, "a", auth.Admin, "test")
	for _, s := range []string{"", "cm_", secret + "x", secret[:len(secret)-1], strings.ToUpper(secret), "Bearer " + secret} {
		if _, err := auth.Authenticate(ctx, pool, s); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Authenticate(%q) = %v, want ErrInvalidToken", s, err)
		}
	}
}

func TestEnsureAdminCreatesOneAdminOnce(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Migrated(t)

	// Replicas starting together: exactly one creates the token.
	secrets := make([]string, 4)
	var wg sync.WaitGroup
	for i := range secrets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := auth.EnsureAdmin(ctx, pool)
			if err != nil {
				t.Error(err)
			}
			secrets[i] = s
		}()
	}
	wg.Wait()
	var created []string
	for _, s := range secrets {
		if s != "" {
			created = append(created, s)
		}
	}
	if len(created) != 1 {
		t.Fatalf("%d admin tokens created, want 1", len(created))
	}
	tok, err := auth.Authenticate(ctx, pool, created[0])
	if err != nil || tok.Role != auth.Admin || tok.Name != "admin" || tok.CreatedBy != "system" {
		t.Fatalf("first admin token = %+v, %v", tok, err)
	}

	// Once none is active, the next start makes a new one.
	if err := auth.Revoke(ctx, pool, "admin", "test"); err != nil {
		t.Fatal(err)
	}
	if s, err := auth.EnsureAdmin(ctx, pool); err != nil || s == "" {
		t.Fatalf("after revoking the only admin: %q, %v", s, err)
	}
}
