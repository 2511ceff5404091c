package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store"
)

// stream is one open SSE response. Only its handler goroutine writes it.
type stream struct {
	a    *API
	w    http.ResponseWriter
	rc   *http.ResponseController
	buf  []byte
	last herald.ID // last event written: nothing at or below it is written again
	keep *time.Timer
}

// openStream sends the SSE headers (and retry:) and flushes them at once.
// Every check that can fail with a 4xx must be done before.
func (a *API) openStream(w http.ResponseWriter) *stream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &stream{a: a, w: w, rc: http.NewResponseController(w)}
	if a.cfg.SSERetry > 0 {
		s.buf = sse.AppendRetry(s.buf, int(a.cfg.SSERetry/time.Millisecond))
	}
	if a.cfg.Keepalive > 0 {
		s.keep = time.NewTimer(a.cfg.Keepalive)
	}
	a.streams.Add(1)
	_ = s.flush()
	return s
}

func (s *stream) close() {
	if s.keep != nil {
		s.keep.Stop()
	}
	s.a.streams.Add(-1)
}

// flush writes what is buffered in one write and flushes it.
func (s *stream) flush() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.a.cfg.WriteTimeout))
	if len(s.buf) > 0 {
		if _, err := s.w.Write(s.buf); err != nil {
			return err
		}
		if cap(s.buf) > 64<<10 {
			s.buf = nil // do not keep a replay's large buffer on an idle stream
		} else {
			s.buf = s.buf[:0]
		}
	}
	if s.keep != nil {
		s.keep.Reset(s.a.cfg.Keepalive)
	}
	return s.rc.Flush()
}

// keepaliveC fires when the stream has been quiet for the keepalive period.
func (s *stream) keepaliveC() <-chan time.Time {
	if s.keep == nil {
		return nil
	}
	return s.keep.C
}

// add buffers event i of record m unless it is at or below the last
// event written; filter, when set, picks which events to send.
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
	if after.Seq > 0 {
		s.last = after
	}
	from := after.Seq
	if from > 0 {
		from-- // the record of `after` may hold later events of the same transition
	}
	err = s.a.store.Read(ctx, subject, from, upto, func(m store.Msg) error {
		s.addRecord(&m, nil)
		if len(s.buf) >= 32<<10 {
			if err := s.flush(); err != nil {
				return err
			}
		}
		if stop != nil && stop(&m) {
			stopped = true
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

type stopReplay struct{}

func (stopReplay) Error() string { return "stop replay" }

var errStopReplay error = stopReplay{}

// live forwards the subscriber's deliveries until handle says stop, the
// hub ends the subscription, the client goes away or ctx ends. It drains
// everything queued before each write and flushes once (coalescing).
func (s *stream) live(ctx context.Context, sub *hub.Sub, handle func(*hub.Delivery) (stop bool)) error {
	start := sub.Start()
	for {
		select {
		case d := <-sub.C():
			stop := false
			for {
				if d.Seq > start {
					stop = handle(d)
				}
				if stop {
					break
				}
				select {
				case d = <-sub.C():
					continue
				default:
				}
				break
			}
			if err := s.flush(); err != nil || stop {
				return err
			}
		case <-s.keepaliveC():
			s.buf = sse.AppendComment(s.buf, "keepalive")
			if err := s.flush(); err != nil {
				return err
			}
		case <-sub.Done():
			s.a.log.Debug("stream ended by the hub", "reason", sub.Reason().String())
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// resumePoint reads Last-Event-ID (header wins over ?lastEventId=) and
// reports whether this store recognizes it: same epoch, not older than the
// retained history, not from the future. A malformed id is unrecognized.
func (a *API) resumePoint(r *http.Request) (herald.ID, bool) {
	raw := r.Header.Get("Last-Event-ID")
	if raw == "" {
		raw = r.URL.Query().Get("lastEventId")
	}
	id, ok := herald.ParseID(strings.TrimSpace(raw))
	if !ok || id.Epoch != a.store.Epoch() || id.Seq > a.views.Applied() {
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
