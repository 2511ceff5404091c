package api

import (
	"context"
	"net/http"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/store"
)

// LoginTTL is how long a browser login lasts by default (Config.LoginTTL).
const LoginTTL = 24 * time.Hour

type loginReq struct {
	Token *string `json:"token"`
}

// login: POST /v1/login with the token as a bearer header or {"token"} →
// 204 and an HttpOnly, SameSite=Strict session cookie that authorizes GETs,
// and the Herald-CSRF value that lets it authorize writes (csrf.go).
func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var k *auth.Key
	if r.Header.Get("Authorization") != "" {
		var err error
		if k, err = a.authenticate(r); err != nil {
			a.writeError(w, r, err)
			return
		}
	} else {
		var req loginReq
		if err := decodeRequest(r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		if req.Token == nil || *req.Token == "" {
			a.writeError(w, r, herald.Errorf(herald.EUnauthorized, "send the token as \"Authorization: Bearer <token>\" or {\"token\": \"…\"}"))
			return
		}
		var ok bool
		if k, ok = a.views.Auth.ByToken(*req.Token); !ok {
			a.writeError(w, r, herald.Errorf(herald.EUnauthorized, "unknown or revoked token"))
			return
		}
	}
	// Every login is a new browser session: an Idempotency-Key would replay
	// the first login's record while this answer sets a new cookie.
	r.Header.Del("Idempotency-Key")
	cookie := auth.NewToken()
	l := auth.Login{Hash: auth.HashToken(cookie), AccessKey: k.AccessKey, Expires: time.Now().Add(a.cfg.LoginTTL).UTC()}
	_, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		return authChange(auth.KindLogin, store.Subject("auth.login", l.Hash), l, http.StatusNoContent, false), nil, nil
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: cookie, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: a.cfg.TLS, MaxAge: int(a.cfg.LoginTTL / time.Second)})
	w.Header().Set(CSRFHeader, csrfToken(cookie))
	w.WriteHeader(http.StatusNoContent)
}

// loginOf is the hash of the browser login a request is authenticated by
// ("" for a bearer token): streams carry it so logout can end them.
func loginOf(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		return ""
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		return auth.HashToken(c.Value)
	}
	return ""
}

// pruneLogins removes the logins that expired from the store and the
// directory (the cookie expired with them).
func (a *API) pruneLogins(ctx context.Context, now time.Time) {
	for _, h := range a.views.Auth.ExpiredLogins(now) {
		if err := a.store.Purge(ctx, store.Subject("auth.login", h)); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("purging an expired login failed", "err", err)
			}
			continue
		}
		a.views.Auth.ForgetLogin(h)
	}
}

// logout: POST /v1/logout ends the cookie's login.
func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(CookieName)
	if err == nil && c.Value != "" {
		h := auth.HashToken(c.Value)
		if l, k, ok := a.views.Auth.ByLogin(c.Value); ok {
			_, err := a.commit(r.Context(), r, k, func() (change, any, error) {
				return authChange(auth.KindLogin, store.Subject("auth.login", h), l, http.StatusNoContent, true), nil, nil
			})
			if err != nil {
				a.writeError(w, r, err)
				return
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: a.cfg.TLS, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}
