package hub

import (
	"sync"
	"sync/atomic"
	"time"
)

// Holding bulk work for a request.
//
// A nice value buys a thread a share of the CPU, not a prompt start: when
// a request of another tenant wakes while a writer sweeps an event to
// thousands of streams, the kernel lets the writer finish its slice
// first (about 1.5 ms on a 2-core machine), at each of the request's
// wake-ups — reading it, the store's append, the tail that applies it,
// its answer. Hold asks the writers to step off the CPU instead: while a
// hold is open, the lowered half of each writer (the bulk work; see
// writerPool.run) stops at its next turn and waits until every hold is
// released, at most maxHold at a time, and then runs at least as long as
// it waited before it waits again, so bulk work keeps half the writers'
// time however many requests come. A prompt turn (a small fan-out) queued
// meanwhile ends the wait: the lowered half hands it back to the writer's
// own half as ever, so holds do not delay small fan-outs.
const maxHold = 2 * time.Millisecond

// holds counts the open holds.
type holds struct {
	n      atomic.Int32
	mu     sync.Mutex
	free   chan struct{} // closed when the last open hold is released
	prompt chan struct{} // a prompt turn was queued while a hold was open
	limit  time.Duration // the longest wait (maxHold; tests change it)
	// waiting is how many lowered halves are waiting on a hold now.
	waiting atomic.Int32
}

// Hold keeps the writers' bulk work off the CPU until release is called
// (see holds). The api holds for each write of a tenant that is not
// itself fanning out to thousands, for as long as its handler runs.
// Calling release again does nothing.
func (h *Hub) Hold() (release func()) {
	hs := &h.pool.holds
	hs.mu.Lock()
	if hs.n.Load() == 0 {
		hs.free = make(chan struct{})
	}
	hs.n.Add(1)
	hs.mu.Unlock()
	h.stats.Holds.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			hs.mu.Lock()
			if hs.n.Add(-1) == 0 {
				close(hs.free)
			}
			hs.mu.Unlock()
		})
	}
}

// wait is called by a writer's lowered half before each turn: while a
// hold is open it waits for the last one to be released or a prompt turn
// to be queued, for at most maxHold, unless since its last wait it ran
// for less than it waited then. It returns how long it waited.
func (hs *holds) wait(last *holdSpell) time.Duration {
	if hs.n.Load() == 0 {
		return 0
	}
	now := time.Now()
	if now.Sub(last.resumed) < last.waited {
		return 0 // bulk work's share: run as long as it last waited
	}
	hs.mu.Lock()
	free := hs.free
	open := hs.n.Load() > 0
	hs.mu.Unlock()
	if !open {
		return 0
	}
	t := time.NewTimer(hs.limit)
	hs.waiting.Add(1)
	defer hs.waiting.Add(-1)
	select {
	case <-free:
	case <-hs.prompt:
	case <-t.C:
	}
	t.Stop()
	last.resumed = time.Now()
	last.waited = last.resumed.Sub(now)
	return last.waited
}

// holdSpell is a lowered half's last wait on holds.
type holdSpell struct {
	resumed time.Time
	waited  time.Duration
}
