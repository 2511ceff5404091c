package hub

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/internal/threadprio"
)

// gatedHub is a hub with one writer, big streams on topic "big" (more
// than defaultBulkDispatch: their turns go to the bulk lane), and small ones,
// each on a topic of its own. hold makes the writer wait in a gate turn
// until the returned release is called, so what is dispatched meanwhile
// is all queued when it resumes.
func gatedHub(t *testing.T, big int, small []string) (h *Hub, log *turnLog[string], hold func() (release func())) {
	t.Helper()
	h = New(Config{Writers: 1})
	t.Cleanup(h.Close)
	log = &turnLog[string]{}
	serve := func(s *Sub, name string) {
		h.Subscribe(s)
		h.Serve(s, func() {
			drain(s)
			log.add(name)
		})
	}
	for range big {
		serve(&Sub{Topic: "big", Key: "a"}, "big")
	}
	for _, name := range small {
		serve(&Sub{Topic: name, Key: "b"}, name)
	}
	g := newGate(h)
	// Serve ran each function once: let those turns pass.
	waitUntil(t, 10*time.Second, "the first turns", func() bool { return log.len() >= big+len(small) })
	hold = func() func() {
		log.reset()
		g.hold()
		return g.release
	}
	return h, log, hold
}

// gate is a served stream whose turn, once held, keeps the one writer of
// its hub until release: what is dispatched meanwhile is all queued when
// the writer resumes.
type gate struct {
	h        *Hub
	held     chan struct{}
	released chan struct{}
	holding  atomic.Bool
}

func newGate(h *Hub) *gate {
	g := &gate{h: h, held: make(chan struct{}, 1), released: make(chan struct{})}
	s := &Sub{Topic: "gate", Key: "k"}
	h.Subscribe(s)
	h.Serve(s, func() {
		drain(s)
		if g.holding.Load() {
			g.held <- struct{}{}
			<-g.released
		}
	})
	return g
}

// hold returns once the writer is in the gate's turn.
func (g *gate) hold() {
	g.holding.Store(true)
	g.h.Dispatch(delivery(1), "gate")
	<-g.held
	g.holding.Store(false)
}

func (g *gate) release() { g.released <- struct{}{} }

// TestPromptLaneFirst: an event to a few streams, dispatched after one to
// thousands, has its turns before the thousands' (it used to wait for
// the whole sweep), and the large one still reaches every stream.
func TestPromptLaneFirst(t *testing.T) {
	big := defaultBulkDispatch + 100
	h, log, hold := gatedHub(t, big, []string{"b1", "b2"})
	release := hold()
	h.Dispatch(delivery(2), "big")
	h.Dispatch(delivery(3), "b1")
	h.Dispatch(delivery(4), "b2")
	release()
	waitUntil(t, 10*time.Second, "every turn", func() bool { return log.len() >= big+2 })
	turns := log.snapshot()
	if turns[0] != "b1" || turns[1] != "b2" {
		t.Fatalf("first turns after the gate: %v, want b1, b2 before the %d big ones", turns[:4], big)
	}
	if n := len(turns); n != big+2 {
		t.Fatalf("%d turns, want %d", n, big+2)
	}
}

// TestSmallTopicStaysInOrder: a dispatch to at most defaultBulkDispatch streams
// is prompt work; turns of one lane run first come first served.
func TestSmallTopicStaysInOrder(t *testing.T) {
	h, log, hold := gatedHub(t, defaultBulkDispatch, []string{"b1"})
	release := hold()
	h.Dispatch(delivery(2), "big") // exactly defaultBulkDispatch: prompt
	h.Dispatch(delivery(3), "b1")
	release()
	waitUntil(t, 10*time.Second, "every turn", func() bool { return log.len() >= defaultBulkDispatch+1 })
	turns := log.snapshot()
	if turns[0] != "big" || turns[len(turns)-1] != "b1" {
		t.Fatalf("turns: first %q, last %q; want the %d-stream event's first, b1 last", turns[0], turns[len(turns)-1], defaultBulkDispatch)
	}
}

// TestBulkLaneNotStarved: while prompt turns keep coming, a writer still
// takes one bulk turn after every promptBurst prompt ones.
func TestBulkLaneNotStarved(t *testing.T) {
	big := defaultBulkDispatch + 1
	small := make([]string, 3*promptBurst)
	for i := range small {
		small[i] = "s" + string(rune('A'+i/26)) + string(rune('a'+i%26))
	}
	h, log, hold := gatedHub(t, big, small)
	release := hold()
	h.Dispatch(delivery(2), "big")
	for _, topic := range small {
		h.Dispatch(delivery(3), topic)
	}
	release()
	waitUntil(t, 10*time.Second, "every turn", func() bool { return log.len() >= big+len(small) })
	turns := log.snapshot()
	// promptBurst prompt turns, then a bulk one, three times over.
	for i := range 3 * (promptBurst + 1) {
		want := i%(promptBurst+1) == promptBurst
		if got := turns[i] == "big"; got != want {
			t.Fatalf("turn %d is %q (bulk: %v, want %v); first turns: %v", i, turns[i], got, want, turns[:2*promptBurst+4])
		}
	}
}

// TestWaitTurnsBothLanes: a mark read after a dispatch is reached once
// the writers took every turn queued before it, in both lanes.
func TestWaitTurnsBothLanes(t *testing.T) {
	big := defaultBulkDispatch + 10
	h, log, hold := gatedHub(t, big, []string{"b1"})
	release := hold()
	h.Dispatch(delivery(2), "big")
	h.Dispatch(delivery(3), "b1")
	mark := h.Turns()
	if mark[lanePrompt] == 0 || mark[laneBulk] == 0 {
		t.Fatalf("mark %v: want turns in both lanes", mark)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.WaitTurns(ctx, mark); err == nil {
		t.Fatal("WaitTurns returned while the writer was held")
	}
	release()
	if err := h.WaitTurns(context.Background(), mark); err != nil {
		t.Fatal(err)
	}
	// The prompt turn is taken first: WaitTurns must also have waited
	// for every bulk turn before the mark.
	h.pool.mu.Lock()
	took := Mark{h.pool.lane[lanePrompt].took, h.pool.lane[laneBulk].took}
	h.pool.mu.Unlock()
	for i := range mark {
		if took[i] < mark[i] {
			t.Fatalf("WaitTurns(%v) returned with %v taken", mark, took)
		}
	}
	waitUntil(t, 10*time.Second, "every turn", func() bool { return log.len() >= big+1 })
}

// TestPromptTurnLeavesLoweredHalf: while a writer's lowered half works
// through a bulk sweep, a prompt turn is handed back to the writer's own
// half and runs at the process's priority.
func TestPromptTurnLeavesLoweredHalf(t *testing.T) {
	needThreadNice(t)
	h := lowerableHub(t, nil, 16, time.Hour, 8)
	var bulkLog niceLog
	var slow atomic.Bool
	for range 64 {
		s := &Sub{Topic: "many", Key: "a"}
		h.Subscribe(s)
		h.Serve(s, func() {
			bulkLog.record(t, s)
			if slow.Load() {
				time.Sleep(time.Millisecond)
			}
		})
	}
	var promptLog niceLog
	b := &Sub{Topic: "b", Key: "b"}
	h.Subscribe(b)
	h.Serve(b, func() { promptLog.record(t, b) })
	waitUntil(t, 10*time.Second, "the first turns", func() bool { return bulkLog.len() >= 64 && promptLog.len() >= 1 })
	base := promptLog.snapshot()[0]
	if base > threadprio.MaxNice-4 {
		t.Skipf("the test runs at nice %d: no room to lower by 4", base)
	}
	bulkLog.reset()
	promptLog.reset()
	slow.Store(true)
	h.Dispatch(delivery(1), "many") // 64 turns of 1 ms: lowered after the first check
	waitUntil(t, 10*time.Second, "the sweep runs lowered", func() bool {
		ns := bulkLog.snapshot()
		return len(ns) > 0 && ns[len(ns)-1] == base+4
	})
	h.Dispatch(delivery(2), "b")
	waitUntil(t, 10*time.Second, "b's turn", func() bool { return promptLog.len() >= 1 })
	if n := promptLog.snapshot()[0]; n != base {
		t.Fatalf("a prompt turn during a lowered sweep ran at nice %d, want the process's %d", n, base)
	}
	if left := 64 - bulkLog.len(); left < 8 {
		t.Logf("only %d bulk turns were left when b's turn ran", left)
	}
	waitUntil(t, 10*time.Second, "the sweep", func() bool { return bulkLog.len() >= 64 })
}
