package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/clock"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store"
)

// stream is one open SSE response. Its handler goroutine writes the
// headers and the history; then live events go one of two ways:
//
//   - served (served.go): an HTTP/1.1 connection taken over from net/http
//     (hijacked) is handed to the hub's writers, and the handler goroutine
//     returns. A turn on a writer drains the queue and writes everything
//     in one write that never waits; keepalives come from one shared
//     ticker (the wheel). An idle stream thus costs no goroutine, timer
//     or buffer — a few hundred bytes.
//   - in its handler (live): HTTP/2, TLS, or a connection that cannot be
//     taken over; the handler goroutine waits on the queue and writes.
//
// Each way is a Transport (transport.go); where the stream is in its life
// is one streamState. In both, exactly one goroutine writes the connection
// at a time.
type stream struct {
	a     *API
	sub   *hub.Sub         // nil for a stream that never goes live
	tr    Transport        // how its bytes reach the client
	srv   *servedTransport // tr when it is served (the writers' state), else nil
	state atomic.Int32     // a streamState
	// reason is why the stream ends when it ends itself (its client left,
	// a write failed); EndUnsubscribed when it just finished. (Next to
	// state: two 4-byte fields side by side keep the struct in a smaller
	// size class.)
	reason hub.EndReason
	buf    []byte
	last   herald.ID   // last event written: nothing at or below it is written again
	keep   clock.Timer // handler path: fires when a keepalive is due
	// lastFlush is when the stream last wrote (unix ns on the API's
	// clock); a served stream's keepalives count from it.
	lastFlush int64
	// deadline is the write deadline set on the connection. It is pushed
	// back only when less than half of WriteTimeout is left, so most
	// flushes do not touch the connection's timers.
	deadline int64       // unix ns; 0: none
	slot     *streamSlot // its place under its key's cap of streams (nil: none)
}

// openStream sends the SSE headers (and retry:) and flushes them at once.
// Every check that can fail with a 4xx must be done before. sub, when set,
// is the stream's subscription (made before, for the replay hand-off):
// the stream ends it when it closes.
func (a *API) openStream(w http.ResponseWriter, r *http.Request, sub *hub.Sub) *stream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s := &stream{a: a, sub: sub, slot: takeSlot(r)}
	if sub == nil || !a.takeOver(s, w, r) {
		w.WriteHeader(http.StatusOK)
		s.tr = &handlerTransport{w: w, rc: http.NewResponseController(w)}
	}
	if a.cfg.SSERetry > 0 {
		s.buf = sse.AppendRetry(s.buf, int(a.cfg.SSERetry/time.Millisecond))
	}
	a.streams.Add(1)
	if sub != nil && a.closing.Load() {
		a.hub.End(sub, hub.EndShutdown) // Shutdown began: it may not have seen sub
	}
	_ = s.flush()
	return s
}

// close ends the stream from its handler; call it deferred. A stream
// handed to the hub's writers is theirs: they end it. A panic in the
// handler ends the stream (the connection is cut: it may be mid-frame),
// is logged and goes no further than net/http's handler recovery.
func (s *stream) close() {
	if v := recover(); v != nil {
		s.a.log.Error("panic in a stream; the stream is ended", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		s.reason = hub.EndPanic
		s.closeNow()
		panic(http.ErrAbortHandler)
	}
	s.closeNow()
}

func (s *stream) closeNow() {
	if s.handedOver() {
		return
	}
	s.setState(stateClosed)
	if s.sub != nil {
		s.a.hub.UnsubscribeFor(s.sub, cmp.Or(s.reason, hub.EndUnsubscribed))
	}
	if s.keep != nil {
		s.keep.Stop()
	}
	s.tr.close()
	s.slot.release()
	s.a.streamClosed()
}

// flush writes what is buffered in one write and flushes it. A client
// that takes nothing for between WriteTimeout/2 and WriteTimeout fails it.
func (s *stream) flush() error {
	now := time.Now() // deadlines are the kernel's: real time
	s.lastFlush = s.a.clock.Now().UnixNano()
	var deadline time.Time
	if time.Duration(s.deadline-now.UnixNano()) < s.a.cfg.WriteTimeout/2 {
		deadline = now.Add(s.a.cfg.WriteTimeout)
		s.deadline = deadline.UnixNano()
	}
	if s.keep != nil {
		s.keep.Reset(s.a.cfg.Keepalive)
	}
	err := s.tr.write(s.buf, deadline)
	s.resetBuf()
	return err
}

func (s *stream) resetBuf() {
	if cap(s.buf) > 64<<10 {
		s.buf = nil // do not keep a replay's large buffer on an idle stream
	} else {
		s.buf = s.buf[:0]
	}
}

// keepaliveC fires when the stream has been quiet for the keepalive period.
func (s *stream) keepaliveC() <-chan time.Time {
	if s.keep == nil {
		return nil
	}
	return s.keep.C()
}

// addRecord buffers the events of record m after the last event written.
// frames, when set, are the events' encoded frames (shared by the hub).
func (s *stream) addRecord(m *store.Msg, frames [][]byte) {
	for i, e := range m.Record.Events {
		id := herald.ID{Epoch: s.a.store.Epoch(), Seq: m.Seq, Idx: uint32(i)}
		if !id.After(s.last) {
			continue
		}
		if frames != nil {
			s.buf = append(s.buf, frames[i]...)
		} else {
			s.buf = s.a.frame(s.buf, m.Seq, i, e.Name, e.Data)
		}
		s.last = id
	}
}

// addSynthetic buffers an event without id (server_close, summary,
// start_of_history): it does not move the client's last event id.
func (s *stream) addSynthetic(name string, data []byte) {
	s.buf = sse.AppendEvent(s.buf, name, "", data)
}

// replay sends the history of subject after `after` up to seq upto,
// calling stop after each record; it returns early when stop says so.
func (s *stream) replay(ctx context.Context, subject string, after herald.ID, upto uint64, stop func(*store.Msg) bool) (stopped bool, err error) {
	return s.replayWith(ctx, subject, after, upto, func(m *store.Msg, frames [][]byte) bool {
		s.addRecord(m, frames)
		return stop != nil && stop(m)
	})
}

// replayWith sends the history of subject after `after` up to seq upto:
// add buffers what the feed takes of each record (frames are its events'
// encoded frames, or nil) and says when to stop. It reports whether add
// stopped it.
func (s *stream) replayWith(ctx context.Context, subject string, after herald.ID, upto uint64, add func(m *store.Msg, frames [][]byte) (stop bool)) (stopped bool, err error) {
	s.last = after
	from := after.Seq
	if from > 0 {
		from-- // the record of `after` may hold later events of the same transition
	}
	err = s.a.history(ctx, subject, from, upto, func(m *store.Msg, frames [][]byte) error {
		stopped = add(m, frames)
		if len(s.buf) >= 32<<10 {
			if err := s.flush(); err != nil {
				return err
			}
		}
		if stopped {
			return errStopReplay
		}
		return nil
	})
	if err == errStopReplay {
		err = nil
	}
	if err == nil {
		err = s.flush()
	}
	return stopped, err
}

// history calls fn for the records of subject after `from` up to upto, in
// order: from the hub's memory of recent deliveries (frames already
// encoded) as far back as it reaches, from the store before that.
//
// upto may be past what the hub has dispatched (a record applied, its
// fan-out still queued: fanout.go): that part comes from the store.
func (a *API) history(ctx context.Context, subject string, from, upto uint64, fn func(m *store.Msg, frames [][]byte) error) error {
	if from >= upto {
		return nil
	}
	read := func(from, upto uint64) error {
		return a.store.Read(ctx, subject, from, upto, func(m store.Msg) error { return fn(&m, nil) })
	}
	// Everything the hub dispatched up to pos is in its memory (as far
	// back as it reaches) before pos moves.
	pos := min(upto, a.hub.Position())
	if pos <= from {
		return read(from, upto)
	}
	ds, lo := a.hub.History(from, pos, func(d *hub.Delivery) bool { return store.MatchSubject(subject, d.Msg.Subject) })
	if from+1 < lo {
		if err := read(from, min(pos, lo-1)); err != nil {
			return err
		}
	}
	for _, d := range ds {
		if err := fn(d.Msg, d.Frames); err != nil {
			return err
		}
	}
	if pos < upto {
		return read(pos, upto)
	}
	return nil
}

type stopReplay struct{}

func (stopReplay) Error() string { return "stop replay" }

var errStopReplay error = stopReplay{}

// live forwards the subscription's deliveries until handle says stop, the
// hub ends the subscription, the client goes away or ctx ends. handle
// buffers the frames of a delivery (and, when it says stop, the stream's
// last words). A stream that was taken over is handed to the hub's
// writers and live returns at once; the caller must then not touch it.
func (s *stream) live(ctx context.Context, handle func(*hub.Delivery) (stop bool)) {
	s.tr.live(ctx, s, handle)
}

// liveLoop is live on the handler goroutine: it waits for deliveries, a
// keepalive, the hub's end or ctx, and writes what is queued in one write.
func (s *stream) liveLoop(ctx context.Context, handle func(*hub.Delivery) (stop bool)) {
	s.setState(stateLive)
	if s.a.cfg.Keepalive > 0 {
		s.keep = s.a.clock.NewTimer(s.a.cfg.Keepalive)
	}
	sub := s.sub
	start := sub.Start()
	ready, done := sub.Ready(), sub.Done()
	var took []*hub.Delivery
	for {
		select {
		case <-ready:
			// Coalesce: take everything queued, then write once.
			took = sub.Take(took[:0])
			stop := false
			for _, d := range took {
				if d.Seq > start {
					stop = handle(d)
				}
				if stop {
					break
				}
			}
			clear(took)
			if len(s.buf) == 0 && !stop {
				continue
			}
			if err := s.flushOwed(ctx); err != nil || stop {
				return
			}
		case <-s.keepaliveC():
			s.buf = sse.AppendComment(s.buf, "keepalive")
			if err := s.flushOwed(ctx); err != nil {
				return
			}
		case <-done:
			s.a.log.Debug("stream ended by the hub", "reason", sub.Reason().String())
			return
		case <-ctx.Done():
			s.reason = hub.EndClientGone
			return
		}
	}
}

// flushOwed flushes the buffer as live does: while the write waits for the
// client, what it carries counts against the stream's byte bound (with
// what is queued meanwhile). A failed write sets the stream's end reason.
func (s *stream) flushOwed(ctx context.Context) error {
	s.sub.SetPending(len(s.buf))
	err := s.flush()
	s.sub.SetPending(0)
	if err != nil {
		s.reason = writeFailure(ctx, err)
	}
	return err
}

// writeFailure is the end reason of a stream whose write failed: slow when
// the client took nothing for the write timeout, client_gone when it left.
func writeFailure(ctx context.Context, err error) hub.EndReason {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return hub.EndSlow
	case ctx.Err() != nil || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET):
		return hub.EndClientGone
	}
	return hub.EndWriteError
}

// resumePoint reads Last-Event-ID (header wins over ?lastEventId=) and
// reports whether this store recognizes it: same epoch, not older than the
// retained history, not from the future. An id this node has not applied
// yet (written through another node) waits for it (reach). A malformed id
// is unrecognized.
func (a *API) resumePoint(r *http.Request) (herald.ID, bool) {
	raw := r.Header.Get("Last-Event-ID")
	if raw == "" {
		raw = r.URL.Query().Get("lastEventId")
	}
	id, ok := herald.ParseID(strings.TrimSpace(raw))
	if !ok || id.Epoch != a.store.Epoch() || !a.reach(r.Context(), id.Seq) {
		return herald.ID{}, false
	}
	first, _, _, err := a.store.Info(r.Context())
	if err != nil || id.Seq < first {
		return herald.ID{}, false
	}
	return id, true
}

// streamFailed logs a stream ended by a store error after its 200 was
// sent (a client that went away is not worth a warning). The client
// reconnects with its last id.
func (a *API) streamFailed(r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	a.log.Warn("stream ended by a store error; the client will resume", "path", r.URL.Path, "err", err)
}
