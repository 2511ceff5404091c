//go:build !unix

package api

import (
	"errors"
	"net"
	"syscall"
)

// rawConnOf returns nil: streams are written by their handler goroutine.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func writeNow(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }

func peerGone(syscall.RawConn) bool { return true }
