//go:build !unix

package store

import (
	"errors"
	"os"
)

// errWouldBlock is never returned where flock(2) does not exist.
var errWouldBlock = errors.New("store: lock held")

// flock is a no-op where flock(2) does not exist: the directory is not
// protected against a second process there.
func flock(*os.File) error { return nil }

func funlock(*os.File) {}
