package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// CookieName is the browser session cookie set by POST /v1/login.
const CookieName = "herald_session"

type ctxKey struct{}

// caller returns the authenticated key of a request that went through authed.
func caller(r *http.Request) *auth.Key { return r.Context().Value(ctxKey{}).(*auth.Key) }

// authed wraps h with authentication: a bearer token on every request, or
// the login cookie on GETs (so EventSource works with withCredentials).
func (a *API) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := a.authenticate(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, k)))
	}
}

func (a *API) authenticate(r *http.Request) (*auth.Key, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return nil, herald.Errorf(herald.EUnauthorized, "the Authorization header must be \"Bearer <token>\"")
		}
		k, ok := a.views.Auth.ByToken(strings.TrimSpace(token))
		if !ok { // a key made through another node: catch up (barrier.go)
			a.catchUp(r.Context())
			k, ok = a.views.Auth.ByToken(strings.TrimSpace(token))
		}
		if !ok {
			return nil, herald.Errorf(herald.EUnauthorized, "unknown or revoked token")
		}
		return k, nil
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			l, k, ok := a.views.Auth.ByLogin(c.Value)
			if !ok {
				a.catchUp(r.Context())
				l, k, ok = a.views.Auth.ByLogin(c.Value)
			}
			if ok && time.Now().Before(l.Expires) {
				return k, nil
			}
			return nil, herald.Errorf(herald.EUnauthorized, "the login session expired or was ended; log in again")
		}
	}
	return nil, herald.Errorf(herald.EUnauthorized, "missing credentials: send \"Authorization: Bearer <token>\"")
}

// cors answers CORS for the exact origins configured. It reports true when
// it answered the request itself (a preflight).
func (a *API) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	w.Header().Add("Vary", "Origin")
	if !slices.Contains(a.cfg.CORSOrigins, origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func notFoundf(format string, args ...any) error {
	return herald.Errorf(herald.ENotFound, format, args...)
}
func forbiddenf(format string, args ...any) error {
	return herald.Errorf(herald.EForbidden, format, args...)
}
