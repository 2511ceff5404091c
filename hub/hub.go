// Package hub fans live events out to subscribers. Each subscriber is
// registered under one or more topics (the entity, owner, domain or "*"
// it follows) and has a bounded queue; Dispatch never blocks: a subscriber
// whose queue is full is ended and resumes by id.
//
// A subscriber is drained either by a goroutine of its own (C) or by the
// hub's few writer goroutines (Serve), which take turns over the streams
// with deliveries queued and write each one's backlog in one write.
//
// Registration and dispatch are ordered so that a subscriber learns the
// sequence it starts after (Subscribe's result): every record above it is
// delivered live, every record at or below it must be read from history.
// This is the replay→live hand-off with no gap and no duplicate.
package hub

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

const shardCount = 64

// Hub is the live fan-out of one herald process.
type Hub struct {
	seed   maphash.Seed
	shards [shardCount]shard
	cur    atomic.Uint64 // sequence being (or last) dispatched

	keysMu sync.Mutex
	byKey  map[string]map[*Sub]struct{} // access key → its subscribers

	queueSize int
	stats     Stats
	pool      writerPool
	hist      history
	gen       atomic.Uint64 // Dispatch calls that delivered to a served subscriber
}

type shard struct {
	mu   sync.RWMutex
	subs map[string]map[*Sub]struct{}
}

// Stats are the hub's counters (read with atomic loads).
type Stats struct {
	Subscribers atomic.Int64
	Delivered   atomic.Uint64 // deliveries queued to subscribers
	EndedSlow   atomic.Uint64 // subscribers ended because their queue was full
}

// New returns a hub whose subscribers queue up to queueSize deliveries.
func New(queueSize int) *Hub {
	if queueSize <= 0 {
		queueSize = 256
	}
	h := &Hub{seed: maphash.MakeSeed(), byKey: map[string]map[*Sub]struct{}{}, queueSize: queueSize}
	h.pool.init()
	for i := range h.shards {
		h.shards[i].subs = map[string]map[*Sub]struct{}{}
	}
	return h
}

// Stats returns the hub's counters.
func (h *Hub) Stats() *Stats { return &h.stats }

// Position is the sequence of the last record dispatched (or being).
func (h *Hub) Position() uint64 { return h.cur.Load() }

func (h *Hub) shard(topic string) *shard {
	return &h.shards[maphash.String(h.seed, topic)%shardCount]
}

// Subscribe registers s under its topics and returns the sequence it starts
// after: records with a higher sequence reach s.C; those at or below must
// come from history (s drops live deliveries at or below it itself).
func (h *Hub) Subscribe(s *Sub) uint64 {
	s.qsize = h.queueSize
	s.done = make(chan struct{})
	for _, t := range s.Topics {
		sh := h.shard(t)
		sh.mu.Lock()
		m := sh.subs[t]
		if m == nil {
			m = map[*Sub]struct{}{}
			sh.subs[t] = m
		}
		m[s] = struct{}{}
		sh.mu.Unlock()
	}
	if s.Key != "" {
		h.keysMu.Lock()
		m := h.byKey[s.Key]
		if m == nil {
			m = map[*Sub]struct{}{}
			h.byKey[s.Key] = m
		}
		m[s] = struct{}{}
		h.keysMu.Unlock()
	}
	h.stats.Subscribers.Add(1)
	s.start = h.cur.Load()
	return s.start
}

// Unsubscribe removes s; it is safe to call more than once.
func (h *Hub) Unsubscribe(s *Sub) {
	if !s.removed.CompareAndSwap(false, true) {
		return
	}
	for _, t := range s.Topics {
		sh := h.shard(t)
		sh.mu.Lock()
		if m := sh.subs[t]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(sh.subs, t)
			}
		}
		sh.mu.Unlock()
	}
	if s.Key != "" {
		h.keysMu.Lock()
		if m := h.byKey[s.Key]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(h.byKey, s.Key)
			}
		}
		h.keysMu.Unlock()
	}
	h.stats.Subscribers.Add(-1)
	s.serve.Store(nil) // its stream is over: no more turns
	h.end(s, EndUnsubscribed)
}

// end ends s for r (see Sub.end); a served subscriber gets a turn to see
// it.
func (h *Hub) end(s *Sub, r EndReason) bool {
	if !s.end(r) {
		return false
	}
	h.Kick(s)
	return true
}

// Dispatch delivers d to every subscriber of its topics whose Match
// accepts it. It never waits for a subscriber: one whose queue is full is
// ended. It may wait (up to a second) for the hub's writers when they fall
// behind (see Serve). Call it from one goroutine, in sequence order.
func (h *Hub) Dispatch(d *Delivery, topics ...string) {
	h.hist.remember(d) // before cur moves: a Subscribe that starts after d finds it in History
	h.cur.Store(d.Seq)
	gen := h.gen.Load() + 1
	woke := false
	for _, t := range topics {
		sh := h.shard(t)
		sh.mu.RLock()
		for s := range sh.subs[t] {
			if s.Match != nil && !s.Match(d) {
				continue
			}
			select {
			case s.queue() <- d:
				h.stats.Delivered.Add(1)
				if s.serve.Load() != nil {
					h.wake(s, gen)
					woke = true
				}
			default:
				if h.end(s, EndSlow) {
					h.stats.EndedSlow.Add(1)
				}
			}
		}
		sh.mu.RUnlock()
	}
	if woke {
		h.gen.Store(gen)
		h.pool.waitCaughtUp(gen, dispatchLag(h.queueSize), time.Second)
	}
}

// dispatchLag is how many dispatches the writers may fall behind before
// the dispatcher waits for them: 8, or a quarter of small queues. It also
// bounds how many events one write carries under load, and so the latency
// that batching adds.
func dispatchLag(queueSize int) uint64 {
	return uint64(min(8, max(1, queueSize/4)))
}

// EndSlow ends s as a slow consumer: its client took no write for the
// write timeout. It resumes by id.
func (h *Hub) EndSlow(s *Sub) {
	if h.end(s, EndSlow) {
		h.stats.EndedSlow.Add(1)
	}
}

// Advance records that seq was processed without anything to dispatch.
func (h *Hub) Advance(seq uint64) { h.cur.Store(seq) }

// EndKey ends every stream of an access key (the key was revoked).
func (h *Hub) EndKey(key string) {
	h.keysMu.Lock()
	subs := make([]*Sub, 0, len(h.byKey[key]))
	for s := range h.byKey[key] {
		subs = append(subs, s)
	}
	h.keysMu.Unlock()
	for _, s := range subs {
		h.end(s, EndRevoked)
	}
}

// EndLogin ends the streams of key opened with one browser login (logout).
func (h *Hub) EndLogin(key, login string) {
	h.keysMu.Lock()
	var subs []*Sub
	for s := range h.byKey[key] {
		if s.Login == login {
			subs = append(subs, s)
		}
	}
	h.keysMu.Unlock()
	for _, s := range subs {
		h.end(s, EndRevoked)
	}
}

// EndAll ends every subscriber (shutdown).
func (h *Hub) EndAll() {
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, m := range sh.subs {
			for s := range m {
				h.end(s, EndShutdown)
			}
		}
		sh.mu.RUnlock()
	}
}
