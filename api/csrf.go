package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/herald-sse/herald"
)

// CSRFHeader names the header in which POST /v1/login returns the value a
// write authorized by the login cookie must send back (SPEC §7).
const CSRFHeader = "Herald-CSRF"

// csrfDomain separates the CSRF value's hash from the cookie's stored hash
// (auth.HashToken), so knowing one tells nothing of the other.
const csrfDomain = "herald-csrf\x00"

// csrfToken is the Herald-CSRF value of the login whose cookie is cookie:
// a hash of the cookie's secret value, so it is bound to that login, needs
// no stored state (any node of a cluster checks it) and cannot be made by a
// page that cannot read the HttpOnly cookie.
func csrfToken(cookie string) string {
	sum := sha256.Sum256([]byte(csrfDomain + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkCSRF admits a write authorized by the login cookie only when it
// carries the login's Herald-CSRF value and, when it names an Origin, that
// origin is herald's own or one of --cors-origin.
func (a *API) checkCSRF(r *http.Request, cookie string) error {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return csrfRefusal(CSRFHeader, "a write with the login cookie must carry the header the login returned")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(cookie))) != 1 {
		return csrfRefusal(CSRFHeader, "not this login's value")
	}
	if origin := r.Header.Get("Origin"); origin != "" && !a.ownOrigin(r, origin) {
		return csrfRefusal("Origin", fmt.Sprintf("%q is neither herald's own origin nor a --cors-origin", origin))
	}
	return nil
}

// csrfRefusal is the 401 of a cookie write refused, naming the header.
func csrfRefusal(field, detail string) error {
	return &herald.Error{Code: herald.EUnauthorized, Field: field, Detail: detail}
}

// ownOrigin reports whether origin is herald's own (the host the request
// was sent to, or --public-url) or one of --cors-origin.
func (a *API) ownOrigin(r *http.Request, origin string) bool {
	if slices.Contains(a.cfg.CORSOrigins, origin) || origin == a.baseURL(r) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && u.Host == r.Host
}
