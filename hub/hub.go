// Package hub fans live events out to subscribers. Each subscriber is
// registered under one or more topics (the entity, owner, domain or "*"
// it follows) and a queue bounded in bytes; Dispatch never blocks, neither
// for a subscriber nor for the hub's writers: a subscriber that would owe
// more than its bound is ended (as slow) and resumes by id.
//
// A subscriber is drained either by a goroutine of its own (Ready) or by the
// hub's few writer goroutines (Serve), which take turns over the streams
// with deliveries queued and write each one's backlog in one write.
//
// Registration and dispatch are ordered so that a subscriber learns the
// sequence it starts after (Subscribe's result): every record above it is
// delivered live, every record at or below it must be read from history.
// This is the replay→live hand-off with no gap and no duplicate.
package hub

import (
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
)

const shardCount = 64

// dispatchYield is how many subscribers Dispatch visits between yields.
const dispatchYield = 512

// DefaultMaxPendingBytes is the default Config.MaxPendingBytes: 1 MiB, some
// 5,000 typical events, so a subscriber that keeps up on average is not
// cut by a burst.
const DefaultMaxPendingBytes = 1 << 20

// Config holds a hub's settings.
type Config struct {
	// MaxPendingBytes bounds what one subscriber may owe: the deliveries
	// queued for it plus what its stream took and has not written yet. A
	// subscriber that would owe more is ended as slow. 0 means
	// DefaultMaxPendingBytes.
	MaxPendingBytes int64
	// MaxQueue, when > 0, also bounds the number of queued deliveries
	// (the deprecated --queue-size).
	MaxQueue int
	// Writers is how many of the hub's writer goroutines may run at once;
	// 0 means GOMAXPROCS-1 (at least 1). A process that runs more Go
	// processors than it has cores (herald serve does: see procs in
	// cmd/herald) sets it from its cores.
	Writers int
	// WriterNice is how many nice steps below the rest of the process
	// the writers run bulk work: a fan-out to thousands of streams, or
	// writers that cannot keep up (Linux; see writerPool.run and
	// internal/threadprio). When the CPU is short, the kernel then runs
	// the request path, the store and the dispatcher first. 0 keeps every
	// turn at the process's priority.
	WriterNice int
	// Log receives panics of serve functions; nil discards.
	Log *slog.Logger
}

// Hub is the live fan-out of one herald process.
type Hub struct {
	seed   maphash.Seed
	shards [shardCount]shard
	cur    atomic.Uint64 // sequence being (or last) dispatched

	keysMu sync.Mutex
	byKey  map[string]*subList // access key → its subscribers (Sub.kpos)

	maxBytes int64
	maxQueue int
	log      *slog.Logger
	stats    Stats
	pool     writerPool
	bulkSubs int // a topic with more subscribers queues in the bulk lane (defaultBulkDispatch)
	hist     history
}

type shard struct {
	mu   sync.RWMutex
	subs map[string]*topicSubs
}

// topicSubs are the subscribers of one topic (Sub.tpos). Its subscribers'
// Topic is name: a fan-out of thousands of streams holds one copy of it.
type topicSubs struct {
	name string
	subList
}

// subList is a set of subscribers in a slice, each knowing its index (a
// field of Sub that pos names): adding and removing take O(1), the last
// one filling the gap. It costs a subscriber 8 bytes (and the slice's
// spare capacity) where a map costs some 30: an idle stream is mostly
// such bookkeeping.
type subList struct {
	subs []*Sub
}

func (l *subList) add(s *Sub, pos func(*Sub) *int32) {
	*pos(s) = int32(len(l.subs))
	l.subs = append(l.subs, s)
}

// remove takes s out; it reports false when s is not in l.
func (l *subList) remove(s *Sub, pos func(*Sub) *int32) bool {
	i, last := int(*pos(s)), len(l.subs)-1
	if i < 0 || i > last || l.subs[i] != s {
		return false
	}
	if i != last {
		moved := l.subs[last]
		l.subs[i] = moved
		*pos(moved) = int32(i)
	}
	l.subs[last] = nil
	l.subs = l.subs[:last]
	*pos(s) = -1
	if c := cap(l.subs); c > 64 && len(l.subs) < c/4 {
		l.subs = append(make([]*Sub, 0, 2*len(l.subs)), l.subs...) // give a burst's slice back
	}
	return true
}

func topicPos(s *Sub) *int32 { return &s.tpos }
func keyPos(s *Sub) *int32   { return &s.kpos }

// Stats are the hub's counters (read with atomic loads).
type Stats struct {
	Subscribers atomic.Int64
	Delivered   atomic.Uint64 // deliveries queued to subscribers
	EndedSlow   atomic.Uint64 // subscribers ended as slow (also EndedBy(EndSlow))
	// Lowered counts the writers' turns run below the process's priority
	// (Config.WriterNice: bulk work).
	Lowered atomic.Uint64
	// Holds counts Hold calls; HeldNanos the time the writers' lowered
	// halves spent waiting on them (hold.go).
	Holds     atomic.Uint64
	HeldNanos atomic.Uint64
	ended     [endReasons]atomic.Uint64
}

// EndedBy is how many subscriptions ended for r.
func (st *Stats) EndedBy(r EndReason) uint64 {
	if r < 0 || r >= endReasons {
		return 0
	}
	return st.ended[r].Load()
}

// New returns a hub with the settings of cfg. Close stops its writers.
func New(cfg Config) *Hub {
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{seed: maphash.MakeSeed(), byKey: map[string]*subList{},
		maxBytes: cfg.MaxPendingBytes, maxQueue: cfg.MaxQueue, log: cfg.Log}
	h.pool.init(h, cfg.Writers, cfg.WriterNice)
	h.bulkSubs = defaultBulkDispatch
	for i := range h.shards {
		h.shards[i].subs = map[string]*topicSubs{}
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

// Subscribe registers s under its topic and returns the sequence it starts
// after: records with a higher sequence reach s.C; those at or below must
// come from history (s drops live deliveries at or below it itself).
// s.Topic is replaced by the equal string the hub holds for that topic,
// so the caller's copy is not kept for the life of s.
func (h *Hub) Subscribe(s *Sub) uint64 {
	sh := h.shard(s.Topic)
	sh.mu.Lock()
	ts := sh.subs[s.Topic]
	if ts == nil {
		ts = &topicSubs{name: s.Topic}
		sh.subs[s.Topic] = ts
	}
	ts.add(s, topicPos)
	s.Topic = ts.name
	sh.mu.Unlock()
	if s.Key != "" {
		h.keysMu.Lock()
		l := h.byKey[s.Key]
		if l == nil {
			l = &subList{}
			h.byKey[s.Key] = l
		}
		l.add(s, keyPos)
		h.keysMu.Unlock()
	}
	h.stats.Subscribers.Add(1)
	s.start = h.cur.Load()
	return s.start
}

// Unsubscribe removes s; it is safe to call more than once. A subscription
// still running ends as EndUnsubscribed.
func (h *Hub) Unsubscribe(s *Sub) { h.UnsubscribeFor(s, EndUnsubscribed) }

// UnsubscribeFor removes s; a subscription still running ends for r (the
// stream knows why it stops: its client left, a write failed...).
func (h *Hub) UnsubscribeFor(s *Sub, r EndReason) {
	if !s.removed.CompareAndSwap(false, true) {
		return
	}
	sh := h.shard(s.Topic)
	sh.mu.Lock()
	ts := sh.subs[s.Topic]
	was := ts != nil && ts.remove(s, topicPos) // false: never subscribed
	if was && len(ts.subs) == 0 {
		delete(sh.subs, s.Topic)
	}
	sh.mu.Unlock()
	if s.Key != "" {
		h.keysMu.Lock()
		if l := h.byKey[s.Key]; l != nil && l.remove(s, keyPos) && len(l.subs) == 0 {
			delete(h.byKey, s.Key)
		}
		h.keysMu.Unlock()
	}
	if was {
		h.stats.Subscribers.Add(-1)
	}
	s.serve.Store(nil) // its stream is over: no more turns
	h.end(s, r)
}

// End ends s for r (the stream closes; its client resumes by id); it
// reports whether s was still running.
func (h *Hub) End(s *Sub, r EndReason) bool { return h.end(s, r) }

// end ends s for r (see Sub.end) and counts it; a served subscriber gets a
// turn to see it.
func (h *Hub) end(s *Sub, r EndReason) bool {
	if !s.end(r) {
		return false
	}
	h.stats.ended[r].Add(1)
	if r == EndSlow {
		h.stats.EndedSlow.Add(1)
	}
	h.Kick(s)
	return true
}

// Dispatch delivers d to every subscriber of its topics whose Match
// accepts it. It never waits, neither for a subscriber nor for the hub's
// writers: a subscriber that would owe more than its byte bound is ended
// as slow, so one tenant's large fan-out never holds up the tail (and the
// write acknowledgements of others). Call it from one goroutine, in
// sequence order. It reports whether a topic's fan-out went to the bulk
// lane (more than 512 subscribers; see lanePrompt).
func (h *Hub) Dispatch(d *Delivery, topics ...string) (bulk bool) {
	h.hist.remember(d) // before cur moves: a Subscribe that starts after d finds it in History
	h.cur.Store(d.Seq)
	d.cost()
	n := 0
	for _, t := range topics {
		sh := h.shard(t)
		sh.mu.RLock()
		if ts := sh.subs[t]; ts != nil && len(ts.subs) > 0 {
			// A topic's large fan-out waits in the bulk lane, behind
			// everyone's small ones (see lanePrompt).
			lane := lanePrompt
			if len(ts.subs) > h.bulkSubs {
				lane, bulk = laneBulk, true
			}
			// Start at a different subscriber each time, so none is always
			// the last woken.
			k := int(d.Seq % uint64(len(ts.subs)))
			h.deliver(d, ts.subs[k:], lane, &n)
			h.deliver(d, ts.subs[:k], lane, &n)
		}
		sh.mu.RUnlock()
	}
	return bulk
}

// deliver queues d to each of subs whose Match accepts it (Dispatch),
// their turns in lane; n counts the subscribers visited by the dispatch.
func (h *Hub) deliver(d *Delivery, subs []*Sub, lane int, n *int) {
	for _, s := range subs {
		// A fan-out to thousands runs for milliseconds: let the
		// goroutines it shares the processors with (a write's
		// acknowledgement, the writers) in now and then.
		if *n++; *n%dispatchYield == 0 {
			runtime.Gosched()
		}
		if s.Match != nil && !h.match(s, d) {
			continue
		}
		if s.push(d, h.maxBytes, h.maxQueue) {
			h.stats.Delivered.Add(1)
			if s.serve.Load() != nil {
				h.wake(s, lane)
			}
			continue
		}
		h.end(s, EndSlow)
	}
}

// match runs s's Match on d. A panic in it ends s (EndPanic) and is
// logged; the dispatch goes on to the others.
func (h *Hub) match(s *Sub, d *Delivery) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("panic in a stream's Match; the stream is ended", "seq", d.Seq, "panic", fmt.Sprint(v))
			h.end(s, EndPanic)
			ok = false
		}
	}()
	return s.Match(d)
}

// EndSlow ends s as a slow consumer: its client took no write for the
// write timeout. It resumes by id.
func (h *Hub) EndSlow(s *Sub) { h.end(s, EndSlow) }

// Advance records that seq was processed without anything to dispatch.
func (h *Hub) Advance(seq uint64) { h.cur.Store(seq) }

// EndKey ends every stream of an access key (the key was revoked).
func (h *Hub) EndKey(key string) { h.EndKeyFor(key, EndRevoked) }

// EndKeyFor ends every stream of an access key for r.
func (h *Hub) EndKeyFor(key string, r EndReason) {
	h.keysMu.Lock()
	var subs []*Sub
	if l := h.byKey[key]; l != nil {
		subs = append(subs, l.subs...)
	}
	h.keysMu.Unlock()
	for _, s := range subs {
		h.end(s, r)
	}
}

// EndLogin ends the streams of key opened with one browser login (logout).
func (h *Hub) EndLogin(key, login string) {
	h.keysMu.Lock()
	var subs []*Sub
	if l := h.byKey[key]; l != nil {
		for _, s := range l.subs {
			if s.Login == login {
				subs = append(subs, s)
			}
		}
	}
	h.keysMu.Unlock()
	for _, s := range subs {
		h.end(s, EndRevoked)
	}
}

// EndAll ends every subscriber (shutdown).
func (h *Hub) EndAll() {
	for _, s := range h.Subs() {
		h.end(s, EndShutdown)
	}
}

// Subs returns every subscriber registered now.
func (h *Hub) Subs() []*Sub {
	var subs []*Sub
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, ts := range sh.subs {
			subs = append(subs, ts.subs...)
		}
		sh.mu.RUnlock()
	}
	return subs
}

// Close stops the hub's writers and waits for them; turns still due are
// run first. Call it after the streams ended (API.Shutdown).
func (h *Hub) Close() { h.pool.close() }
