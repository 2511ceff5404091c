package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/netlimit"
)

// CookieName is the browser session cookie set by POST /v1/login.
const CookieName = "herald_session"

type ctxKey struct{}

// caller returns the authenticated key of a request that went through authed.
func caller(r *http.Request) *auth.Key { return r.Context().Value(ctxKey{}).(*auth.Key) }

// authed wraps h with authentication: a bearer token on every request, or
// the login cookie on GETs (so EventSource works with withCredentials) and
// on writes that carry its Herald-CSRF value (csrf.go).
// It applies the limits of limits.go: a source address over its failed
// authentications gets 429, a key over its write rate too, and an
// authenticated request takes its connection off the per-address cap of
// unauthenticated ones.
func (a *API) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.authBlocked(w, r) {
			return
		}
		k, err := a.authenticate(r)
		if err != nil {
			if !a.authFailed(w, r) {
				a.writeError(w, r, err)
			}
			return
		}
		netlimit.Authenticated(r.Context())
		if !a.admitWrite(w, r, k) {
			return
		}
		if a.holdsWriters(r, k) {
			defer a.hub.Hold()()
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
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := a.checkCSRF(r, c.Value); err != nil {
				return nil, err
			}
		}
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
	h.Set("Access-Control-Expose-Headers", CSRFHeader)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, "+CSRFHeader)
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

// RequestIDHeader names a request in its answer and in the server's log:
// a client's own id is echoed when it is a short safe token; a problem
// answer without one gets a generated id.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an accepted incoming request id.
const maxRequestID = 64

// echoRequestID copies a safe incoming X-Request-Id to the answer.
func echoRequestID(w http.ResponseWriter, r *http.Request) {
	if id := r.Header.Get(RequestIDHeader); id != "" && safeRequestID(id) {
		w.Header()[RequestIDHeader] = []string{id}
	}
}

// requestID returns the answer's request id, generating one (and setting
// the header) when the client sent none that could be used.
func requestID(w http.ResponseWriter, r *http.Request) string {
	if id := w.Header().Get(RequestIDHeader); id != "" {
		return id
	}
	id := r.Header.Get(RequestIDHeader)
	if id == "" || !safeRequestID(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header()[RequestIDHeader] = []string{id}
	return id
}

// safeRequestID reports whether id is 1 to 64 characters of
// [A-Za-z0-9._-]: safe to echo in a header, a JSON body and a log line.
func safeRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
