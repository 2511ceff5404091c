//go:build linux

package api

import (
	"context"
	"sync"
	"syscall"
)

// goneWatch notices the departed clients of served streams at once and at
// no cost while they stay: one epoll instance of its own watches their
// connections for the peer's close (EPOLLRDHUP), a reset or an error, and
// gives such a stream a turn that looks (peerGone). The runtime's poller
// watches the same sockets for its own reasons; a socket may be in both.
// An idle stream thus costs nothing more, whatever the keepalive.
type goneWatch struct {
	epfd  int
	wake  [2]int // a pipe: a byte on it stops run
	mu    sync.Mutex
	slots []*stream // by token-1; nil: free
	free  []uint32  // free tokens
}

// goneEvents are what makes a watched connection worth a look.
const goneEvents = syscall.EPOLLRDHUP | syscall.EPOLLIN | syscall.EPOLLHUP | syscall.EPOLLERR | -syscall.EPOLLET

// newGoneWatch returns a watcher, or nil when the system refuses one (then
// departed clients are noticed at their next keepalive).
func newGoneWatch() *goneWatch {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	g := &goneWatch{epfd: epfd}
	if err := syscall.Pipe2(g.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 0}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, g.wake[0], &ev); err != nil {
		g.close()
		return nil
	}
	return g
}

// add watches s's connection; it reports false when it could not.
func (g *goneWatch) add(s *stream) bool {
	if g == nil || s.srv.raw == nil {
		return false
	}
	tok := g.slot(s)
	var err error
	cerr := s.srv.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: uint32(goneEvents), Fd: int32(tok)}
		err = syscall.EpollCtl(g.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		g.release(tok)
		return false
	}
	s.srv.goneTok = tok
	return true
}

// slot gives s a token (0 is the wake pipe's). A token is reused once
// released: a late event for the old stream makes the new one look, which
// is harmless.
func (g *goneWatch) slot(s *stream) uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(g.free); n > 0 {
		tok := g.free[n-1]
		g.free = g.free[:n-1]
		g.slots[tok-1] = s
		return tok
	}
	g.slots = append(g.slots, s)
	return uint32(len(g.slots))
}

func (g *goneWatch) release(tok uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.slots[tok-1] = nil
	g.free = append(g.free, tok)
}

// remove stops watching s's connection; call it before closing it.
func (g *goneWatch) remove(s *stream) {
	if g == nil || s.srv.goneTok == 0 {
		return
	}
	g.release(s.srv.goneTok)
	s.srv.goneTok = 0
	_ = s.srv.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(g.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// run hands each stream whose connection stirred to look, until ctx ends.
func (g *goneWatch) run(ctx context.Context, look func(*stream)) {
	if g == nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { _, _ = syscall.Write(g.wake[1], []byte{1}) })
	defer stop()
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(g.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			tok := uint32(ev.Fd)
			if tok == 0 {
				return // woken to stop
			}
			var s *stream
			g.mu.Lock()
			if int(tok) <= len(g.slots) {
				s = g.slots[tok-1]
			}
			g.mu.Unlock()
			if s != nil {
				look(s)
			}
		}
	}
}

// close releases the watcher; run must have returned.
func (g *goneWatch) close() {
	if g == nil {
		return
	}
	syscall.Close(g.wake[0])
	syscall.Close(g.wake[1])
	syscall.Close(g.epfd)
}
