package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"clearmap/internal/auth"
)

func TestBrowserSessions(t *testing.T) {
	ctx := context.Background()
	s, tokens := uploadService(t)
	uploads := func() (n int) {
		s.pool.QueryRow(ctx, "SELECT count(*) FROM uploads").Scan(&n)
		return n
	}

	for _, c := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"not JSON", "token=cm_x", 400, `body must be a JSON object {"token": "cm_..."}`},
		{"unknown field", `{"token": "x", "role": "admin"}`, 400, `unknown field "role"`},
		{"unknown token", `{"token": "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`, 401, "token not recognised"},
		{"empty", `{}`, 401, "token not recognised"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.post(t, "/api/v1/session", "", "application/json", []byte(c.body))
			wantError(t, r, c.status, c.msg)
			if r.header.Get("Set-Cookie") != "" {
				t.Fatal("a failed sign-in set a cookie")
			}
		})
	}

	// Sign in as the uploader: an HttpOnly, SameSite=Strict cookie, and the
	// CSRF token in the body.
	r := s.signIn(t, tokens[auth.Uploader])
	var info struct {
		Name, Role string
		CSRFToken  string `json:"csrf_token"`
		ExpiresAt  time.Time
	}
	r.json(t, &info)
	resp := http.Response{Header: r.header}
	cookies := resp.Cookies()
	if r.status != 201 || info.Name != "t-uploader" || info.Role != "uploader" || len(info.CSRFToken) != 43 || len(cookies) != 1 {
		t.Fatalf("sign-in: %d %s %v", r.status, r.body, cookies)
	}
	c := cookies[0]
	if c.Name != "clearmap_session" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 12*3600 || c.Secure {
		t.Fatalf("cookie %+v", c)
	}
	if strings.Contains(r.body, c.Value) || strings.Contains(s.logs.String(), c.Value) || strings.Contains(s.logs.String(), tokens[auth.Uploader]) {
		t.Fatal("the session id or token leaked into the body or the log")
	}
	cookie := "clearmap_session=" + c.Value

	// The cookie authenticates reads; the session endpoint gives the CSRF
	// token again (after a reload).
	r = s.send(t, "GET", "/api/v1/session", "", nil, "Cookie", cookie)
	r.json(t, &info)
	if r.status != 200 || info.CSRFToken == "" || info.Role != "uploader" {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	wantError(t, s.send(t, "GET", "/api/v1/summary", "", nil, "Cookie", cookie), 403, "the uploader role may not do this")

	// State-changing requests need the CSRF token: nothing is stored without it.
	body := []byte(`{"type":"FeatureCollection","features":[` + fieldAt("S-1", 71.10, 34.05) + `]}`)
	before := uploads()
	wantError(t, s.post(t, "/api/v1/uploads", "", "application/geo+json", body, "Cookie", cookie), 403, "X-CSRF-Token")
	wantError(t, s.post(t, "/api/v1/uploads", "", "application/geo+json", body, "Cookie", cookie, "X-CSRF-Token", strings.Repeat("A", 43)), 403, "X-CSRF-Token")
	if uploads() != before {
		t.Fatal("a request without its CSRF token stored an upload")
	}
	if r := s.post(t, "/api/v1/uploads", "", "application/geo+json", body, "Cookie", cookie, "X-CSRF-Token", info.CSRFToken); r.status != 201 {
		t.Fatalf("upload with the CSRF token: %d %s", r.status, r.body)
	}

	// A token is not a session: it has no CSRF token to give.
	wantError(t, s.do(t, "GET", "/api/v1/session", tokens[auth.Admin], ""), 401, "not signed in with a session")
	// A session id is not a token, nor a token a session id.
	wantError(t, s.do(t, "GET", "/api/v1/me", c.Value, ""), 401, "token not recognised")
	wantError(t, s.send(t, "GET", "/api/v1/me", "", nil, "Cookie", "clearmap_session="+tokens[auth.Admin]), 401, "sign in again")

	// Sign-out needs the CSRF token too, then the cookie is cleared and dead.
	wantError(t, s.send(t, "DELETE", "/api/v1/session", "", nil, "Cookie", cookie), 403, "X-CSRF-Token")
	r = s.send(t, "DELETE", "/api/v1/session", "", nil, "Cookie", cookie, "X-CSRF-Token", info.CSRFToken)
	resp = http.Response{Header: r.header}
	if r.status != 204 || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("sign-out: %d %v", r.status, resp.Cookies())
	}
	wantError(t, s.send(t, "GET", "/api/v1/me", "", nil, "Cookie", cookie), 401, "sign in again")

	// Revoking the token ends its sessions, in this process at once.
	r = s.signIn(t, tokens[auth.Analyst])
	resp = http.Response{Header: r.header}
	analyst := "clearmap_session=" + resp.Cookies()[0].Value
	if r := s.send(t, "GET", "/tiles.json", "", nil, "Cookie", analyst); r.status != 200 {
		t.Fatalf("tiles.json with a session: %d", r.status)
	}
	if r := s.do(t, "DELETE", "/api/v1/tokens/t-analyst", tokens[auth.Admin], ""); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	wantError(t, s.send(t, "GET", "/tiles.json", "", nil, "Cookie", analyst), 401, "sign in again")
}
