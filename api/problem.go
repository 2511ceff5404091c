package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"` // extension: the input field at fault
	// Instance names this occurrence: "urn:herald:request:" + RequestID.
	Instance string `json:"instance,omitempty"`
	// RequestID (extension) is also in the X-Request-Id header and in the
	// server's log line about the error, if it logged one.
	RequestID string `json:"request_id,omitempty"`
}

// storeError is a failure of the store (or of waiting for the views):
// the client gets a generic 503, the log the cause.
type storeError struct{ err error }

func (e *storeError) Error() string { return "store: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// storeUnavailable is the answer to a storeError: it names no internals.
var storeUnavailable = &herald.Error{Code: herald.EUnavailable,
	Detail: "the store did not answer in time; retry with the same Idempotency-Key"}

// unavailable wraps a store failure for writeError; a store refusing for
// want of space is "store full".
func unavailable(err error) error {
	if errors.Is(err, store.ErrFull) {
		return errStoreFull
	}
	return &storeError{err: err}
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
	herald.ETooMany:       http.StatusTooManyRequests,

	herald.EMethodNotAllowed: http.StatusMethodNotAllowed,
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
	herald.ETooMany:       "too-many",

	herald.EMethodNotAllowed: "method-not-allowed",
}

// errStoreFull answers a write the store refused for want of space (its
// size cap, or a full disk): 503 with the title "store full" and a
// Retry-After, since the store heals by itself once space is freed.
var errStoreFull = &herald.Error{Code: herald.EUnavailable,
	Detail: "store full: the server cannot keep new records until space is freed; retry later with the same Idempotency-Key"}

// storeFullRetryAfter is the Retry-After of a "store full" answer, in
// seconds: about the retention janitor's pace.
const storeFullRetryAfter = "30"

// StatusOf maps an error to its HTTP status: the one place where herald
// errors become status codes.
func StatusOf(err error) int { return codeStatus[herald.ErrorCode(err)] }

// writeError writes err as problem+json with a request id. Store failures
// and errors that are not *herald.Error are logged with that id, and
// their text is not shown: the client gets a generic detail.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	id := requestID(w, r)
	var he *herald.Error
	var se *storeError
	switch {
	case errors.As(err, &se):
		level := slog.LevelWarn
		if r.Context().Err() != nil {
			level = slog.LevelDebug // the client went away
		}
		a.log.Log(r.Context(), level, "store unavailable", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", se.err)
		he = storeUnavailable
	case !errors.As(err, &he):
		a.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
		he = &herald.Error{Code: herald.EInternal, Detail: "internal error; see the server log (request_id " + id + ")"}
	}
	status := codeStatus[he.Code]
	h := w.Header()
	switch he.Code {
	case herald.EUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="herald"`)
	case herald.EUnavailable:
		h.Set("Retry-After", retryAfterSeconds)
	}
	title := http.StatusText(status)
	if he == errStoreFull {
		title = "store full"
		h.Set("Retry-After", storeFullRetryAfter)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff") // its text is never taken for HTML
	w.WriteHeader(status)
	_ = plainEncoder(w).Encode(Problem{
		Type:      "urn:herald:problem:" + codeType[he.Code],
		Title:     title,
		Status:    status,
		Detail:    he.Error(),
		Field:     he.Field,
		Instance:  "urn:herald:request:" + id,
		RequestID: id,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = plainEncoder(w).Encode(v)
}

// plainEncoder writes JSON with <, > and & as themselves (encoding/json
// would write \u003c…: a problem's detail quoting the input stays
// readable).
func plainEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
