package api

import (
	"context"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/herald-sse/herald/hub"
)

// Transport is how one stream's bytes reach its client. There are two,
// chosen once when the stream opens (openStream):
//
//   - servedTransport: an HTTP/1.1 connection taken over from net/http
//     (hijacked); after the history, the stream is handed to the hub's
//     writers, whose turns write without waiting (served.go).
//   - handlerTransport: net/http's ResponseWriter (TLS, HTTP/2, HEAD,
//     Config.HandlerWrites); the handler goroutine forwards live events.
//
// Both coalesce what is queued into one write and bound what the stream
// owes in bytes (hub.Sub.SetPending). Transport is sealed: only this
// package implements it.
type Transport interface {
	// write writes p and flushes it, the client taking it within deadline
	// (a zero deadline keeps the one set before).
	write(p []byte, deadline time.Time) error
	// live forwards the subscription's deliveries after the history (see
	// stream.live); a served stream returns at once, handed to the writers.
	live(ctx context.Context, s *stream, handle func(*hub.Delivery) (stop bool))
	// close ends the response of a stream its handler still owns.
	close()
}

var (
	_ Transport = (*handlerTransport)(nil)
	_ Transport = (*servedTransport)(nil)
)

// streamState is where a stream is in its life; stream.state holds it.
type streamState int32

// The states of a stream, in the order they may follow each other.
const (
	// stateOpen: its handler writes the head and the history.
	stateOpen streamState = iota
	// stateLive: its handler goroutine forwards live events
	// (handlerTransport).
	stateLive
	// stateServed: handed to the hub's writers; a turn writes what is
	// queued without waiting (servedTransport). From here on the handler
	// leaves the stream alone.
	stateServed
	// stateBlocked: the client did not take a write at once; a goroutine
	// of the stream's own finishes it and owns the bytes left.
	stateBlocked
	// stateBlockedLast: as stateBlocked, and the stream ends once the
	// write is finished (its feed said stop).
	stateBlockedLast
	// stateClosed: ended.
	stateClosed
)

func (st streamState) String() string {
	return [...]string{"open", "live", "served", "blocked", "blocked_last", "closed"}[st]
}

func (s *stream) stateNow() streamState   { return streamState(s.state.Load()) }
func (s *stream) setState(st streamState) { s.state.Store(int32(st)) }
func (s *stream) handedOver() bool        { return s.stateNow() >= stateServed }
func (st streamState) blocked() bool      { return st == stateBlocked || st == stateBlockedLast }

// handlerTransport writes through net/http's ResponseWriter.
type handlerTransport struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (t *handlerTransport) write(p []byte, deadline time.Time) error {
	if !deadline.IsZero() {
		_ = t.rc.SetWriteDeadline(deadline)
	}
	if len(p) > 0 {
		if _, err := t.w.Write(p); err != nil {
			return err
		}
	}
	return t.rc.Flush()
}

func (t *handlerTransport) live(ctx context.Context, s *stream, handle func(*hub.Delivery) bool) {
	s.liveLoop(ctx, handle)
}

func (t *handlerTransport) close() {}

// servedTransport writes a connection taken over from net/http; the body
// ends when it closes. What the hub's writers need to serve the stream
// lives here too (served.go).
type servedTransport struct {
	conn net.Conn
	raw  syscall.RawConn // conn's, for writes that never wait; nil if it has none
	served
}

func (t *servedTransport) write(p []byte, deadline time.Time) error {
	if !deadline.IsZero() {
		_ = t.conn.SetWriteDeadline(deadline)
	}
	if len(p) == 0 {
		return nil
	}
	_, err := t.conn.Write(p)
	return err
}

// live hands the stream to the hub's writers, or, for a connection
// without a raw descriptor, forwards on the handler goroutine.
func (t *servedTransport) live(ctx context.Context, s *stream, handle func(*hub.Delivery) bool) {
	if t.raw == nil {
		s.liveLoop(ctx, handle)
		return
	}
	s.hand(handle)
}

func (t *servedTransport) close() { _ = t.conn.Close() }
