package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"clearmap/internal/auth"
	"clearmap/internal/store"
)

type tokenKey struct{}

// tokenFrom returns the token that authenticated the request.
func tokenFrom(ctx context.Context) auth.Token {
	t, _ := ctx.Value(tokenKey{}).(auth.Token)
	return t
}

// bearer returns the token secret a request carries: in the Authorization
// header, or for GIS tools that cannot set headers, in ?access_token=.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		return strings.TrimSpace(secret)
	}
	return r.URL.Query().Get("access_token")
}

type sessionKey struct{}

// sessionFrom returns the browser session that authenticated the request.
func sessionFrom(ctx context.Context) (auth.Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(auth.Session)
	return s, ok
}

// authenticate lets a request through only with an active token, or a
// browser session whose state-changing requests carry its CSRF token: 401
// without either, 403 for a missing CSRF token, and what fail says when the
// database cannot tell.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Responses behind a token hold sensitive data: keep them out of
		// shared caches.
		w.Header().Set("Cache-Control", "no-store")
		ctx := r.Context()
		var tok auth.Token
		var err error
		if secret := bearer(r); secret != "" {
			tok, err = a.Tokens.Authenticate(ctx, secret)
		} else if c, cerr := r.Cookie(sessionCookie); cerr == nil && c.Value != "" {
			var s auth.Session
			s, err = a.Tokens.Session(ctx, c.Value)
			if err == nil && !safeMethod(r.Method) && !auth.CSRFMatches(s, r.Header.Get(csrfHeader)) {
				writeError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header: the page must send its session's CSRF token")
				return
			}
			tok = s.Token
			ctx = context.WithValue(ctx, sessionKey{}, s)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="clearmap"`)
			writeError(w, http.StatusUnauthorized, "a token is required: send Authorization: Bearer <token>, or sign in")
			return
		}
		switch {
		case errors.Is(err, auth.ErrInvalidToken):
			w.Header().Set("WWW-Authenticate", `Bearer realm="clearmap", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "token not recognised or revoked")
			return
		case errors.Is(err, auth.ErrNoSession):
			writeError(w, http.StatusUnauthorized, "signed out or the session has ended: sign in again")
			return
		case err != nil:
			a.fail(w, r, err)
			return
		}
		infoFrom(ctx).token = tok.Name
		if tok.Role != auth.Analyst {
			// It may write, so its reads must show its own writes.
			// Analysts never write: their reads need no look-up.
			ctx = store.WithClient(ctx, tok.ID)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, tokenKey{}, tok)))
	})
}

// safeMethod reports whether a method changes nothing (RFC 9110 §9.2.1),
// so needs no CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// require lets through tokens with one of the roles, and admins; others get 403.
func require(roles ...auth.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			role := tokenFrom(r.Context()).Role
			if role != auth.Admin && !slices.Contains(roles, role) {
				writeError(w, http.StatusForbidden, "the "+string(role)+" role may not do this")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
