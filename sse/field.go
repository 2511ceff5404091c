package sse

import (
	"errors"
	"strings"
)

// ErrInvalidField is returned by AppendEventChecked when an event name or id
// contains CR, LF or NUL, which would break the frame (CR, LF) or make
// browsers ignore the id (NUL).
var ErrInvalidField = errors.New("sse: event name or id contains CR, LF or NUL")

// ValidField reports whether s may be used as an event name or id: it must
// not contain CR, LF or NUL. The empty string is valid (the field is omitted).
func ValidField(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}
