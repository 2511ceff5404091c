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
	next  uint32
	watch map[uint32]*stream
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
	g := &goneWatch{epfd: epfd, watch: map[uint32]*stream{}}
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
	g.mu.Lock()
	g.next++
	if g.next == 0 { // 0 is the wake pipe
		g.next++
	}
	tok := g.next
	g.watch[tok] = s
	g.mu.Unlock()
	var err error
	cerr := s.srv.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: uint32(goneEvents), Fd: int32(tok)}
		err = syscall.EpollCtl(g.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		g.mu.Lock()
		delete(g.watch, tok)
		g.mu.Unlock()
		return false
	}
	s.srv.goneTok = tok
	return true
}

// remove stops watching s's connection; call it before closing it.
func (g *goneWatch) remove(s *stream) {
	if g == nil || s.srv.goneTok == 0 {
		return
	}
	g.mu.Lock()
	delete(g.watch, s.srv.goneTok)
	g.mu.Unlock()
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
			g.mu.Lock()
			s := g.watch[tok]
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
