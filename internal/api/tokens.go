package api

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"clearmap/internal/auth"
)

// me tells a client which token it is using and its role, so the web app can
// show what that role may do.
func (a *api) me(w http.ResponseWriter, r *http.Request) {
	t := tokenFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"name": t.Name, "role": string(t.Role)})
}

func (a *api) listTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := auth.List(r.Context(), a.DB)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokens)
}

// createToken makes a token from {"name", "role"} and returns its secret, the
// only time it is shown.
func (a *api) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if !decodeBody(w, r, 4096, &req, `{"name": "...", "role": "uploader|analyst|admin"}`) {
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err == nil {
		err = auth.CheckName(req.Name)
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	secret, err := auth.Create(r.Context(), a.DB, req.Name, role, tokenFrom(r.Context()).Name)
	switch {
	case errors.Is(err, auth.ErrNameTaken):
		writeError(w, http.StatusConflict, "an active token is already called "+req.Name+"; revoke it first or pick another name")
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name, "role": string(role), "token": secret})
}

func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	err := auth.Revoke(r.Context(), a.DB, name, tokenFrom(r.Context()).Name)
	a.Tokens.Revoked()
	switch {
	case errors.Is(err, auth.ErrNotFound):
		writeError(w, http.StatusNotFound, "no active token is called "+name)
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
