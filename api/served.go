package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/sse"
)

// served is the state of a stream that the hub's writers serve (see
// stream and servedTransport): after hand, only the writer taking the
// stream's turn, or the goroutine finishing a blocked write
// (stateBlocked), touches the stream.
type served struct {
	handle func(*hub.Delivery) bool
	// wrote is when the stream last wrote (unix ns); the wheel reads it.
	wrote atomic.Int64
	// look: the connection stirred (goneWatch) or is due a look (the
	// wheel, without a watcher): the next turn checks the client is there.
	look    atomic.Bool
	watched bool   // in the goneWatch
	tok     uint32 // its place on the wheel (index+1); 0 when not on it
}

// takeOver takes an HTTP/1.1 connection over from net/http (hijack) and
// buffers the response head; the body runs until the connection closes.
// It reports false, touching nothing, when the stream stays with net/http:
// HTTP/2, TLS, HEAD, a ResponseWriter that cannot be taken over, or
// Config.HandlerWrites.
func (a *API) takeOver(s *stream, w http.ResponseWriter, r *http.Request) bool {
	if a.cfg.HandlerWrites || r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.TLS != nil {
		return false
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	h := w.Header()
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&head)
	head.WriteString("\r\n")
	s.srv = &servedTransport{conn: conn, raw: rawConnOf(conn)}
	s.tr, s.buf = s.srv, head.Bytes()
	return true
}

// hand gives the stream to the hub's writers; the handler must return
// without touching it again.
func (s *stream) hand(handle func(*hub.Delivery) bool) {
	s.srv.handle = handle
	if s.deadline != 0 {
		_ = s.srv.conn.SetWriteDeadline(time.Time{}) // turns never wait; blocked writes set their own
		s.deadline = 0
	}
	s.buf = nil
	s.srv.wrote.Store(s.lastFlush)
	s.setState(stateServed)
	s.a.wheel.add(s)
	s.a.gone.add(s)
	s.a.hub.Serve(s.sub, s.serve)
}

// bufs lends turns a buffer to build their write in, so an idle stream
// holds none.
var bufs = sync.Pool{New: func() any { return new([]byte) }}

// serve is the stream's turn on a hub writer: take everything queued,
// buffer what handle accepts (or a keepalive when one is due) and write it
// in one write that does not wait. What the client does not take at once
// is finished by a goroutine of the stream's own (finishWrite), so a
// client that does not read never holds up a writer.
func (s *stream) serve() {
	switch st := s.stateNow(); {
	case st.blocked():
		if r := s.sub.Reason(); r != hub.EndNone && r != hub.EndShutdown {
			_ = s.srv.conn.Close() // ended meanwhile: cut the write short
		}
		return // a shutdown lets the write finish: the stream ends at an event boundary
	case st == stateClosed:
		return
	}
	if s.sub.Reason() != hub.EndNone {
		s.end(hub.EndUnsubscribed)
		return
	}
	if s.srv.look.Swap(false) && peerGone(s.srv.raw) {
		s.end(hub.EndClientGone)
		return
	}
	bp := bufs.Get().(*[]byte)
	s.buf = (*bp)[:0]
	start := s.sub.Start()
	stop := false
	for !stop {
		d, ok := s.sub.Next()
		if !ok {
			break
		}
		if d.Seq > start {
			stop = s.srv.handle(d)
		}
	}
	now := s.a.clock.Now().UnixNano()
	if len(s.buf) == 0 && s.a.keepaliveDue(now-s.srv.wrote.Load()) {
		if peerGone(s.srv.raw) {
			s.end(hub.EndClientGone)
			s.buf = nil
			return
		}
		s.buf = sse.AppendComment(s.buf, "keepalive")
	}
	var err error
	if len(s.buf) > 0 {
		var n int
		n, err = writeNow(s.srv.raw, s.buf)
		s.srv.wrote.Store(now)
		if err == nil && n < len(s.buf) {
			// The rest is the finishing goroutine's (an argument: an idle
			// stream keeps no field for it).
			rest := append([]byte(nil), s.buf[n:]...)
			s.sub.SetPending(len(rest))
			st := stateBlocked
			if stop {
				st = stateBlockedLast // end once the write is finished
			}
			s.setState(st)
			s.a.writes.Add(1)
			go s.finishWrite(rest)
		}
	}
	if cap(s.buf) <= 64<<10 {
		*bp = s.buf[:0]
		bufs.Put(bp)
	}
	s.buf = nil
	switch {
	case err != nil:
		s.end(writeFailure(context.Background(), err))
	case stop && !s.stateNow().blocked():
		s.end(hub.EndUnsubscribed)
	}
}

// finishWrite writes rest, what the client did not take at once, waiting
// up to the write timeout: a client that takes nothing for that long is a
// slow consumer and is ended (it resumes by id).
func (s *stream) finishWrite(rest []byte) {
	defer s.a.writes.Done()
	defer func() {
		if v := recover(); v != nil {
			s.a.log.Error("panic finishing a stream's write; the stream is ended", "panic", fmt.Sprint(v))
			s.a.hub.End(s.sub, hub.EndPanic)
			_ = s.srv.conn.Close()
		}
	}()
	t := s.srv
	_ = t.conn.SetWriteDeadline(time.Now().Add(s.a.cfg.WriteTimeout))
	_, err := t.conn.Write(rest)
	_ = t.conn.SetWriteDeadline(time.Time{})
	s.sub.SetPending(0)
	t.wrote.Store(s.a.clock.Now().UnixNano())
	if err != nil || s.stateNow() == stateBlockedLast {
		r := hub.EndUnsubscribed
		if err != nil {
			r = writeFailure(context.Background(), err)
		}
		s.end(r)
		return
	}
	s.setState(stateServed)
	s.a.hub.Kick(s.sub) // what was queued meanwhile
}

// end closes a served stream: its subscription (ending it for r unless
// the hub ended it already), its connection (the end of the response) and
// its place on the wheel.
func (s *stream) end(r hub.EndReason) {
	if s.stateNow() == stateClosed {
		return
	}
	s.setState(stateClosed)
	s.a.gone.remove(s) // before the close: its descriptor may be reused
	s.a.hub.UnsubscribeFor(s.sub, r)
	_ = s.srv.conn.Close()
	s.srv.handle = nil
	s.a.wheel.remove(s)
	s.slot.release()
	s.a.streamClosed()
}

// wheel is the set of served streams, for keepalives: one ticker for all
// of them instead of a timer each. A stream's place is a slot, its token
// (index+1) kept in the stream: 8 bytes a stream where a set (a map) costs
// some 30, and the token doubles as the stream's name in the goneWatch.
// Freed slots are reused.
type wheel struct {
	mu    sync.Mutex
	slots []*stream // by token-1; nil: free
	free  []uint32  // free tokens
	n     int       // streams on the wheel
}

func (w *wheel) add(s *stream) {
	w.mu.Lock()
	if k := len(w.free); k > 0 {
		s.srv.tok = w.free[k-1]
		w.free = w.free[:k-1]
		w.slots[s.srv.tok-1] = s
	} else {
		w.slots = append(w.slots, s)
		s.srv.tok = uint32(len(w.slots))
	}
	w.n++
	w.mu.Unlock()
}

func (w *wheel) remove(s *stream) {
	w.mu.Lock()
	if tok := s.srv.tok; tok != 0 {
		w.slots[tok-1] = nil
		w.free = append(w.free, tok)
		s.srv.tok = 0
		w.n--
	}
	w.mu.Unlock()
}

// get is the stream of token tok, or nil.
func (w *wheel) get(tok uint32) *stream {
	w.mu.Lock()
	defer w.mu.Unlock()
	if tok == 0 || int(tok) > len(w.slots) {
		return nil
	}
	return w.slots[tok-1]
}

// each calls fn for every stream on the wheel (under its lock: fn must
// not block).
func (w *wheel) each(fn func(*stream)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.slots {
		if s != nil {
			fn(s)
		}
	}
}

func (w *wheel) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// wheelTick is how often the wheel looks for quiet streams: a 100th of
// the keepalive period, between 10ms and 100ms (a look at 20,000 streams
// takes well under a millisecond).
func (a *API) wheelTick() time.Duration {
	return min(max(a.cfg.Keepalive/100, 10*time.Millisecond), 100*time.Millisecond)
}

// keepaliveDue reports whether a stream quiet for quiet ns is due a
// keepalive: within half a wheel tick of the keepalive period, so
// keepalives go out on time ± half a tick.
func (a *API) keepaliveDue(quiet int64) bool {
	return a.cfg.Keepalive > 0 && quiet >= int64(a.cfg.Keepalive-a.wheelTick()/2)
}

// goneLook is how often the wheel looks at every served stream for a
// departed client where no goneWatch does (not Linux).
const goneLook = 500 * time.Millisecond

// runWheel gives every served stream that is due a keepalive a turn, each
// wheel tick, until ctx ends. Without a goneWatch it also has every stream
// look for its client twice a second.
func (a *API) runWheel(ctx context.Context) {
	poll := a.gone == nil
	if a.cfg.Keepalive <= 0 && !poll {
		return
	}
	tick := a.wheelTick()
	if a.cfg.Keepalive <= 0 {
		tick = goneLook
	}
	t := a.clock.NewTicker(tick)
	defer t.Stop()
	var due []*stream
	lastLook := a.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		nowT := a.clock.Now()
		now := nowT.UnixNano()
		look := poll && nowT.Sub(lastLook) >= goneLook
		if look {
			lastLook = nowT
		}
		a.wheel.mu.Lock()
		for _, s := range a.wheel.slots {
			if s == nil {
				continue
			}
			switch {
			case a.keepaliveDue(now - s.srv.wrote.Load()):
				due = append(due, s)
			case look:
				s.srv.look.Store(true)
				due = append(due, s)
			}
		}
		a.wheel.mu.Unlock()
		for _, s := range due {
			a.hub.Kick(s.sub)
		}
		clear(due)
		due = due[:0]
	}
}

// lookGone has the stream look for its client at its next turn (its
// connection stirred).
func (a *API) lookGone(s *stream) {
	s.srv.look.Store(true)
	a.hub.Kick(s.sub)
}
