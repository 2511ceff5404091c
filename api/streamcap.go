package api

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/herald-sse/herald"
)

// streamCap counts the open SSE streams of each key against a cap.
type streamCap struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newStreamCap(max int) *streamCap {
	if max <= 0 {
		return nil
	}
	return &streamCap{max: max, open: map[string]int{}}
}

// acquire counts one more stream of key, or reports false when key has
// max open.
func (c *streamCap) acquire(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key] >= c.max {
		return false
	}
	c.open[key]++
	return true
}

func (c *streamCap) release(key string) {
	c.mu.Lock()
	if n := c.open[key] - 1; n > 0 {
		c.open[key] = n
	} else {
		delete(c.open, key)
	}
	c.mu.Unlock()
}

// count is the number of open streams of key.
func (c *streamCap) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[key]
}

// streamSlot is one admitted stream's place under its key's cap. The
// admitting middleware makes it; openStream takes it (the stream then
// releases it when it ends, from its handler or from the hub's writers);
// a slot nobody took is released by the middleware when the handler
// returns. Release happens once.
type streamSlot struct {
	c        *streamCap
	key      string
	taken    atomic.Bool
	released atomic.Bool
}

func (s *streamSlot) release() {
	if s != nil && s.released.CompareAndSwap(false, true) {
		s.c.release(s.key)
	}
}

type slotKey struct{}

// takeSlot hands the request's stream slot (nil when the stream is not
// capped) to the stream being opened.
func takeSlot(r *http.Request) *streamSlot {
	s, _ := r.Context().Value(slotKey{}).(*streamSlot)
	if s != nil {
		s.taken.Store(true)
	}
	return s
}

// feed wraps an SSE handler: authentication, then admission under the
// caller's cap of open streams (Config.MaxStreamsPerKey): over it, 429
// with Retry-After before any 200. The superadmin is not capped: it can
// make keys at will, so a cap per key would bound nothing;
// --max-connections bounds it.
func (a *API) feed(h http.HandlerFunc) http.HandlerFunc {
	return a.authed(func(w http.ResponseWriter, r *http.Request) {
		k := caller(r)
		if a.limits.streams == nil || k.Role == herald.RoleSuperadmin {
			h(w, r)
			return
		}
		if !a.limits.streams.acquire(k.AccessKey) {
			a.limited(w, r, limitStreams, a.streamRetry(),
				"this key has %d streams open, its cap (--max-streams-per-key); close one, or use another key", a.limits.streams.max)
			return
		}
		slot := &streamSlot{c: a.limits.streams, key: k.AccessKey}
		h(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, slot)))
		if !slot.taken.Load() {
			slot.release()
		}
	})
}
