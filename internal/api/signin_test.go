package api_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"clearmap/internal/api"
	"clearmap/internal/auth"
	"clearmap/internal/testdb"
)

// signIn posts a token to the sign-in route as JSON, with extra headers as
// name, value pairs.
func (s *service) signIn(t *testing.T, token string, header ...string) response {
	t.Helper()
	return s.post(t, "/api/v1/session", "", "application/json", []byte(`{"token": "`+token+`"}`), header...)
}

// wantNoCookie fails the test if r set a cookie.
func wantNoCookie(t *testing.T, r response) {
	t.Helper()
	if c := r.header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("the refused sign-in set a cookie: %q", c)
	}
}

// wantSignedIn fails the test unless r is a sign-in that set a session
// cookie.
func wantSignedIn(t *testing.T, r response) {
	t.Helper()
	cookies := (&http.Response{Header: r.header}).Cookies()
	if r.status != 201 || len(cookies) != 1 || cookies[0].Name != "clearmap_session" || cookies[0].Value == "" {
		t.Fatalf("sign-in: %d %s %v", r.status, r.body, cookies)
	}
}

// The login CSRF seen in Chromium: another site's page auto-submitted a
// text/plain form whose body happened to be JSON. Only application/json is
// taken, which a cross-site form cannot send and cross-site script cannot
// send without a CORS preflight the service never grants.
func TestSignInTakesOnlyJSON(t *testing.T) {
	s, tokens := uploadService(t)
	body := []byte(`{"token": "` + tokens[auth.Uploader] + `"}`)
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		t.Run(ct, func(t *testing.T) {
			r := s.post(t, "/api/v1/session", "", ct, body)
			wantError(t, r, 415, "/api/v1/session takes Content-Type: application/json")
			wantNoCookie(t, r)
		})
	}
	wantSignedIn(t, s.post(t, "/api/v1/session", "", "application/json; charset=utf-8", body))
	wantSignedIn(t, s.signIn(t, tokens[auth.Uploader]))
}

func TestSignInRefusesOtherSites(t *testing.T) {
	s, tokens := uploadService(t)
	good := tokens[auth.Uploader]
	for _, c := range []struct{ name, origin, site string }{
		{"other origin", "http://evil.example", ""},
		{"other origin, claimed same-origin", "http://evil.example", "same-origin"},
		{"other port", "http://127.0.0.1:1", ""},
		{"other host", "http://localhost" + s.url[strings.LastIndex(s.url, ":"):], ""},
		{"opaque origin", "null", ""},
		{"cross-site fetch without Origin", "", "cross-site"},
		{"cross-site fetch with our Origin", s.url, "cross-site"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.signIn(t, good, "Origin", c.origin, "Sec-Fetch-Site", c.site)
			wantError(t, r, 403, "sign-in from another site is refused")
			wantNoCookie(t, r)
		})
	}
	// The web app's own requests, and tools that send neither header.
	wantSignedIn(t, s.signIn(t, good, "Origin", s.url, "Sec-Fetch-Site", "same-origin"))
	wantSignedIn(t, s.signIn(t, good, "Origin", s.url))
	// Behind a proxy that ends TLS, even one not listed as trusted.
	wantSignedIn(t, s.signIn(t, good, "Origin", "https"+strings.TrimPrefix(s.url, "http"), "Sec-Fetch-Site", "same-origin"))
	wantSignedIn(t, s.signIn(t, good, "Sec-Fetch-Site", "none"))
	wantSignedIn(t, s.signIn(t, good))
}

func TestSignInOriginBehindATrustedProxy(t *testing.T) {
	s := startWith(t, testdb.Migrated(t), func(d *api.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	good, err := auth.Create(t.Context(), s.pool, "t-uploader", auth.Uploader, "test")
	if err != nil {
		t.Fatal(err)
	}
	proxied := []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "maps.example.org", "X-Forwarded-For", "198.51.100.4"}
	r := s.signIn(t, good, append(proxied, "Origin", "https://maps.example.org")...)
	wantSignedIn(t, r)
	if c := (&http.Response{Header: r.header}).Cookies(); !c[0].Secure {
		t.Fatal("a session cookie for an https client is not Secure")
	}
	wantError(t, s.signIn(t, good, append(proxied, "Origin", s.url)...), 403, "sign-in from another site is refused")
}

func TestFailedSignInsAreLimitedPerClient(t *testing.T) {
	s := startWith(t, testdb.Migrated(t), func(d *api.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	good, err := auth.Create(t.Context(), s.pool, "t-analyst", auth.Analyst, "test")
	if err != nil {
		t.Fatal(err)
	}
	const bad = "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for i := range 10 {
		// The client is the rightmost address the trusted proxies did not
		// add: what it claims to the left of it counts for nothing.
		r := s.signIn(t, bad, "X-Forwarded-For", "192.0.2."+strconv.Itoa(i)+", 203.0.113.1, 10.1.2.3")
		wantError(t, r, 401, "token not recognised")
	}
	r := s.signIn(t, bad, "X-Forwarded-For", "203.0.113.1")
	wantError(t, r, 429, "too many failed sign-ins from this address")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 6 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Until the bucket refills, a good token is refused too: a guesser
	// learns nothing from the answer.
	r = s.signIn(t, good, "X-Forwarded-For", "203.0.113.1")
	wantError(t, r, 429, "too many failed sign-ins from this address")
	wantNoCookie(t, r)
	if n := countLines(s.logs.String(), "client=203.0.113.1 "); n != 12 {
		t.Fatalf("%d log lines name the client 203.0.113.1, want 12:\n%s", n, s.logs.String())
	}

	// Another client is unaffected, bad tokens and good.
	wantError(t, s.signIn(t, bad, "X-Forwarded-For", "203.0.113.2"), 401, "token not recognised")
	wantSignedIn(t, s.signIn(t, good, "X-Forwarded-For", "203.0.113.1, 203.0.113.2"))
}

func TestForwardedForCountsOnlyFromTrustedProxies(t *testing.T) {
	s := start(t, testdb.Migrated(t)) // trusts no proxy
	good, err := auth.Create(t.Context(), s.pool, "t-analyst", auth.Analyst, "test")
	if err != nil {
		t.Fatal(err)
	}
	const bad = "cm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for i := range 10 {
		wantError(t, s.signIn(t, bad, "X-Forwarded-For", "192.0.2."+strconv.Itoa(i)), 401, "token not recognised")
	}
	// Each guess claimed another address; all came from 127.0.0.1.
	wantError(t, s.signIn(t, good, "X-Forwarded-For", "192.0.2.200"), 429, "too many failed sign-ins")
	if n := countLines(s.logs.String(), "client=127.0.0.1 "); n != 11 || countLines(s.logs.String(), "client=192.0.2.") != 0 {
		t.Fatalf("log lines naming 127.0.0.1: %d, want 11, and none a forwarded address:\n%s", n, s.logs.String())
	}
}

// countLines counts the log's request lines that contain s.
func countLines(log, s string) (n int) {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "msg=request ") && strings.Contains(line, s) {
			n++
		}
	}
	return n
}
