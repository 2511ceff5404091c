//go:build unix

package api

import (
	"io"
	"net"
	"syscall"
)

// rawConnOf returns c's raw connection, or nil when c has none (then the
// stream is written by its handler goroutine).
func rawConnOf(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// writeNow writes as much of p as the socket takes without waiting and
// reports how much that was.
func writeNow(raw syscall.RawConn, p []byte) (n int, err error) {
	werr := raw.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := syscall.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return true
			case e != nil:
				err = e
				return true
			case m == 0:
				err = io.ErrUnexpectedEOF
				return true
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// peerGone reports whether the client closed its side of the connection
// (or it failed): a read that does not wait finds end-of-file or an error.
// Anything the client sent after its request is discarded.
func peerGone(raw syscall.RawConn) bool {
	var b [512]byte
	gone := false
	err := raw.Read(func(fd uintptr) bool {
		for range 8 {
			n, e := syscall.Read(int(fd), b[:])
			switch {
			case e == syscall.EINTR || n > 0:
				continue
			case e == syscall.EAGAIN:
			case e != nil || n == 0:
				gone = true
			}
			return true
		}
		return true
	})
	return gone || err != nil
}
