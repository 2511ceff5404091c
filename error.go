package herald

import (
	"errors"
	"fmt"
)

// Code classifies an Error; the api package maps each code to one HTTP status.
type Code int

// Error codes. Their HTTP statuses are in api.
const (
	EInternal      Code = iota // 500
	EInvalid                   // 400: malformed input; Field names the culprit
	EUnauthorized              // 401: missing or unknown credentials
	EForbidden                 // 403: known caller, not allowed
	ENotFound                  // 404: unknown, expired, or not the caller's to see
	EConflict                  // 409: the request breaks the entity's lifecycle
	ETooLarge                  // 413: body over the limit
	ENotAcceptable             // 406: the client does not accept what we send
	EUnavailable               // 503: the store is not reachable or not ready
	ETooMany                   // 429: over a quota or rate limit; retry later
)

// EMethodNotAllowed (405): the path exists, not with this method.
const EMethodNotAllowed = ETooMany + 1

// Error is the one error type of herald's domain logic.
type Error struct {
	Code   Code
	Field  string // the offending input field, when there is one
	Detail string // a sentence for a human: what is wrong and what to do
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Detail
	}
	return e.Detail
}

// Errorf returns an *Error with code and a formatted detail.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EInvalid *Error naming field.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Detail: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Code of err's *Error, or EInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}
