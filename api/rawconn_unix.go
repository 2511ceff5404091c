//go:build unix

package api

import (
	"io"
	"net"
	"sync"
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
	w := rawWrites.Get().(*rawWrite)
	w.p = p
	werr := raw.Write(w.fn)
	n, err = w.n, w.err
	*w = rawWrite{fn: w.fn}
	rawWrites.Put(w)
	if err == nil {
		err = werr
	}
	return n, err
}

// rawWrite is one writeNow: its callback is made once per pooled value,
// so a write allocates nothing (a closure over n and err would put both,
// and itself, on the heap at every write of every stream).
type rawWrite struct {
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool // w.write
}

var rawWrites = sync.Pool{New: func() any {
	w := new(rawWrite)
	w.fn = w.write
	return w
}}

func (w *rawWrite) write(fd uintptr) bool {
	for w.n < len(w.p) {
		m, e := syscall.Write(int(fd), w.p[w.n:])
		if m > 0 {
			w.n += m
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true
		case e != nil:
			w.err = e
			return true
		case m == 0:
			w.err = io.ErrUnexpectedEOF
			return true
		}
	}
	return true
}

// peerGone reports whether the client closed its side of the connection
// (or it failed): a read that does not wait finds end-of-file or an error.
// Anything the client sent after its request is discarded.
func peerGone(raw syscall.RawConn) bool {
	p := peeks.Get().(*peek)
	p.gone = false
	err := raw.Read(p.fn)
	gone := p.gone
	peeks.Put(p)
	return gone || err != nil
}

// peek is one peerGone: a pooled buffer and callback, so the look every
// idle stream takes at each keepalive allocates nothing (a local buffer
// captured by the callback would be 512 bytes of garbage each time).
type peek struct {
	b    [512]byte
	gone bool
	fn   func(fd uintptr) bool // p.read
}

var peeks = sync.Pool{New: func() any {
	p := new(peek)
	p.fn = p.read
	return p
}}

func (p *peek) read(fd uintptr) bool {
	for range 8 {
		n, e := syscall.Read(int(fd), p.b[:])
		switch {
		case e == syscall.EINTR || n > 0:
			continue
		case e == syscall.EAGAIN:
		case e != nil || n == 0:
			p.gone = true
		}
		return true
	}
	return true
}
