//go:build !unix

package netlimit

import "errors"

// RaiseFileLimit is not supported here: it returns an error.
func RaiseFileLimit() (uint64, error) {
	return 0, errors.New("open-files limit: not supported on this system")
}
