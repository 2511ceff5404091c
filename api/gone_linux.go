//go:build linux

package api

import (
	"context"
	"syscall"
)

// goneWatch notices the departed clients of served streams at once and at
// no cost while they stay: one epoll instance of its own watches their
// connections for the peer's close (EPOLLRDHUP), a reset or an error, and
// gives such a stream a turn that looks (peerGone). The runtime's poller
// watches the same sockets for its own reasons; a socket may be in both.
// An idle stream thus costs nothing more, whatever the keepalive.
type goneWatch struct {
	epfd int
	wake [2]int // a pipe: a byte on it stops run
	w    *wheel // names the watched streams: an event carries a stream's wheel token
}

// goneEvents are what makes a watched connection worth a look.
const goneEvents = syscall.EPOLLRDHUP | syscall.EPOLLIN | syscall.EPOLLHUP | syscall.EPOLLERR | -syscall.EPOLLET

// newGoneWatch returns a watcher of the streams on w, or nil when the
// system refuses one (then departed clients are noticed at their next
// keepalive).
func newGoneWatch(w *wheel) *goneWatch {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	g := &goneWatch{epfd: epfd, w: w}
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

// add watches s's connection (s is on the wheel: its token names it to
// epoll); it reports false when it could not.
func (g *goneWatch) add(s *stream) bool {
	if g == nil || s.srv.raw == nil || s.srv.tok == 0 {
		return false
	}
	var err error
	cerr := s.srv.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: uint32(goneEvents), Fd: int32(s.srv.tok)}
		err = syscall.EpollCtl(g.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		return false
	}
	s.srv.watched = true
	return true
}

// remove stops watching s's connection; call it before closing it, and
// before s leaves the wheel. A token is reused once s left the wheel: an
// event already taken for s then makes the stream that has it look, which
// is harmless.
func (g *goneWatch) remove(s *stream) {
	if g == nil || !s.srv.watched {
		return
	}
	s.srv.watched = false
	_ = s.srv.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(g.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// run hands each stream whose connection stirred to look, until ctx ends.
// Token 0 is the wake pipe's (wheel tokens start at 1).
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
			if s := g.w.get(tok); s != nil {
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
