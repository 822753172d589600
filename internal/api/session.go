package api

import (
	"errors"
	"net/http"
	"time"

	"clearmap/internal/auth"
)

// sessionCookie carries a browser's session id.
const sessionCookie = "clearmap_session"

// csrfHeader carries a session's CSRF token on state-changing requests.
const csrfHeader = "X-CSRF-Token"

// sessionInfo is what the page learns about its sign-in.
type sessionInfo struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
	// Basemap says whether /basemap.json describes a basemap to draw.
	Basemap bool `json:"basemap"`
}

func (a *api) infoOf(s auth.Session) sessionInfo {
	return sessionInfo{Name: s.Token.Name, Role: string(s.Token.Role), CSRFToken: s.CSRF, ExpiresAt: s.Expires,
		Basemap: a.Basemap != nil}
}

// signIn exchanges {"token": "..."} for a session cookie: HttpOnly, so page
// scripts never hold the secret, and SameSite=Strict, so other sites'
// pages cannot send it. Other sites' pages cannot sign a browser in either
// (login CSRF, which would swap the user's session for the attacker's, so
// the user's uploads went where the attacker reads them): the body must be
// application/json, which an HTML form cannot send and another site's
// script cannot send without a CORS preflight the service never grants,
// and a browser's Origin must be the service's own. A client that keeps
// giving unknown tokens is made to wait (429), whatever it sends next.
func (a *api) signIn(w http.ResponseWriter, r *http.Request) {
	if fromOtherSite(r) {
		writeError(w, http.StatusForbidden, "sign-in from another site is refused: sign in on the service's own page")
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	if !decodeBody(w, r, 4096, &req, `{"token": "cm_..."}`) {
		return
	}
	ip := clientFrom(r).ip
	if wait := a.signIns.reserve(ip); wait > 0 {
		writeError(w, http.StatusTooManyRequests, "too many failed sign-ins from this address: retry in "+retryAfter(w, wait)+" s")
		return
	}
	s, err := auth.StartSession(r.Context(), a.DB, req.Token)
	if !errors.Is(err, auth.ErrInvalidToken) {
		a.signIns.forgive(ip)
	}
	switch {
	case errors.Is(err, auth.ErrInvalidToken):
		writeError(w, http.StatusUnauthorized, "token not recognised or revoked")
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	infoFrom(r.Context()).token = s.Token.Name
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.ID, Path: "/", Expires: s.Expires, MaxAge: int(auth.SessionLifetime.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
	})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, a.infoOf(s))
}

// session tells a page that is signed in who it is, and its CSRF token
// again (after a reload).
func (a *api) session(w http.ResponseWriter, r *http.Request) {
	if s, ok := browserSession(w, r); ok {
		writeJSON(w, http.StatusOK, a.infoOf(s))
	}
}

// browserSession returns the request's session, answering 401 when it
// came with a token instead.
func browserSession(w http.ResponseWriter, r *http.Request) (auth.Session, bool) {
	s, ok := sessionFrom(r.Context())
	if !ok {
		writeError(w, http.StatusUnauthorized, "not signed in with a session")
	}
	return s, ok
}

// signOut ends the session and clears its cookie.
func (a *api) signOut(w http.ResponseWriter, r *http.Request) {
	s, ok := browserSession(w, r)
	if !ok {
		return
	}
	err := auth.EndSession(r.Context(), a.DB, s.ID)
	a.Tokens.Revoked()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	w.WriteHeader(http.StatusNoContent)
}

// isHTTPS says whether the client reached us over HTTPS, directly or
// through a trusted proxy, so cookies are marked Secure whenever they can be.
func isHTTPS(r *http.Request) bool {
	return clientFrom(r).scheme == "https"
}
