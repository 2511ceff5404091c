package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/herald-sse/herald"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"` // extension: the input field at fault
}

var codeStatus = map[herald.Code]int{
	herald.EInternal:      http.StatusInternalServerError,
	herald.EInvalid:       http.StatusBadRequest,
	herald.EUnauthorized:  http.StatusUnauthorized,
	herald.EForbidden:     http.StatusForbidden,
	herald.ENotFound:      http.StatusNotFound,
	herald.EConflict:      http.StatusConflict,
	herald.ETooLarge:      http.StatusRequestEntityTooLarge,
	herald.ENotAcceptable: http.StatusNotAcceptable,
	herald.EUnavailable:   http.StatusServiceUnavailable,
}

var codeType = map[herald.Code]string{
	herald.EInternal:      "internal",
	herald.EInvalid:       "invalid-input",
	herald.EUnauthorized:  "unauthorized",
	herald.EForbidden:     "forbidden",
	herald.ENotFound:      "not-found",
	herald.EConflict:      "conflict",
	herald.ETooLarge:      "too-large",
	herald.ENotAcceptable: "not-acceptable",
	herald.EUnavailable:   "unavailable",
}

// retryAfterUnavailable is the Retry-After (seconds) of a 503.
const retryAfterUnavailable = "1"

// StatusOf maps an error to its HTTP status: the one place where herald
// errors become status codes.
func StatusOf(err error) int { return codeStatus[herald.ErrorCode(err)] }

// writeError writes err as problem+json. Errors that are not *herald.Error
// are internal: they are logged and their text is not shown.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *herald.Error
	if !errors.As(err, &he) {
		a.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		he = &herald.Error{Code: herald.EInternal, Detail: "internal error; see the server log"}
	}
	status := codeStatus[he.Code]
	if he.Code == herald.EUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
	}
	if he.Code == herald.EUnavailable {
		// The store is electing a leader or herald is shutting down: a
		// retry (with the same Idempotency-Key) soon is safe.
		w.Header().Set("Retry-After", retryAfterUnavailable)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{
		Type:   "urn:herald:problem:" + codeType[he.Code],
		Title:  http.StatusText(status),
		Status: status,
		Detail: he.Error(),
		Field:  he.Field,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
