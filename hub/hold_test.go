package hub

import (
	"sync/atomic"
	"testing"
	"time"
)

// queued is how many turns wait in the pool's lanes.
func (p *writerPool) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queuedLocked()
}

// TestHoldStopsBulk: while a hold is open, a writer's lowered half takes
// no bulk turn (the wait is made a minute long, so only the release can
// end it); a prompt turn queued meanwhile is still written; once
// released, the fan-out completes, and the hub counted the hold and the
// time waited on it.
func TestHoldStopsBulk(t *testing.T) {
	needThreadNice(t)
	const big = 200
	h := lowerableHub(t, nil, 1, 0, 8)
	h.pool.holds.limit = time.Minute
	var bigGot, smallGot atomic.Int64
	serve := func(topic string, got *atomic.Int64) {
		s := &Sub{Topic: topic, Key: topic}
		h.Subscribe(s)
		h.Serve(s, func() {
			for {
				if _, ok := s.Next(); !ok {
					return
				}
				got.Add(1)
			}
		})
	}
	for range big {
		serve("big", &bigGot)
	}
	serve("small", &smallGot)
	waitUntil(t, 10*time.Second, "the first turns", func() bool { return h.pool.queued() == 0 })

	release := h.Hold()
	if !h.Dispatch(delivery(1), "big") {
		t.Fatal("a dispatch to 200 streams (bulk over 8) did not report the bulk lane")
	}
	// The writer's own half takes up to 16 turns before it hands the
	// rest to its lowered half, which then waits on the hold.
	waitUntil(t, 10*time.Second, "the lowered half to wait on the hold", func() bool { return h.pool.holds.waiting.Load() == 1 })
	stalled := bigGot.Load()
	time.Sleep(100 * time.Millisecond)
	if n := bigGot.Load(); n != stalled || n >= big {
		t.Fatalf("bulk turns went on while the hold was open: %d, then %d of %d", stalled, n, big)
	}
	// A prompt turn is not held.
	if h.Dispatch(delivery(2), "small") {
		t.Fatal("a dispatch to one stream reported the bulk lane")
	}
	waitUntil(t, 10*time.Second, "the prompt turn during the hold", func() bool { return smallGot.Load() == 1 })
	if bigGot.Load() >= big {
		t.Fatalf("the fan-out completed while the hold was open")
	}
	release()
	release() // a second call does nothing
	waitUntil(t, 10*time.Second, "the fan-out after the release", func() bool { return bigGot.Load() == big })
	if st := h.Stats(); st.Holds.Load() != 1 || st.HeldNanos.Load() < uint64(100*time.Millisecond) {
		t.Errorf("holds %d, held %v; want 1 and at least the 100 ms waited", st.Holds.Load(), time.Duration(st.HeldNanos.Load()))
	}
	if n := h.pool.holds.n.Load(); n != 0 {
		t.Errorf("%d holds open after the release", n)
	}
}

// TestHoldShare: a hold that is never released costs bulk work at most
// the limit per wait, and after a wait the lowered half runs at least as
// long before it waits again.
func TestHoldShare(t *testing.T) {
	h := New(Config{Writers: 1})
	t.Cleanup(h.Close)
	hs := &h.pool.holds
	hs.limit = 200 * time.Millisecond
	var spell holdSpell
	if d := hs.wait(&spell); d != 0 {
		t.Fatalf("waited %v with no hold open", d)
	}
	release := h.Hold()
	defer release()
	start := time.Now()
	d := hs.wait(&spell)
	if d < 200*time.Millisecond || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("an open hold ended the wait after %v (reported %v), want the 200 ms limit", time.Since(start), d)
	}
	if d := hs.wait(&spell); d != 0 {
		t.Fatalf("waited again %v right after a wait of 200 ms", d)
	}
}
