package hub

import (
	"testing"
	"time"

	"github.com/herald-sse/herald/store"
)

// sized is a delivery whose frames are n bytes.
func sized(seq uint64, n int) *Delivery {
	return &Delivery{Seq: seq, Msg: &store.Msg{Seq: seq}, Frames: [][]byte{make([]byte, n)}}
}

// TestByteBound: a subscriber is ended as slow when what it owes — queued
// deliveries plus what its stream took and has not written (SetPending) —
// would pass its byte bound, whatever the number of deliveries; a record
// larger than the bound still reaches a subscriber that owes nothing.
func TestByteBound(t *testing.T) {
	const bound = 10 << 10
	cost := int64(1<<10 + deliveryOverhead)
	tests := []struct {
		name     string
		pending  int   // SetPending before the deliveries
		size     int   // frame bytes per delivery
		n        int   // deliveries dispatched
		wantSlow bool  // ended as slow
		wantQ    int64 // bytes queued after (when not ended)
	}{
		{"under the bound", 0, 1 << 10, bound / int(cost), false, int64(bound/int(cost)) * cost},
		{"over the bound", 0, 1 << 10, bound/int(cost) + 1, true, 0},
		{"pending counts", bound - 2*int(cost), 1 << 10, 3, true, 0},
		{"one record larger than the bound", 0, 2 * bound, 1, false, 2*bound + deliveryOverhead},
		{"a large record after others", 0, 2 * bound, 2, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{MaxPendingBytes: bound})
			s := &Sub{Topic: "t"}
			h.Subscribe(s)
			s.SetPending(tt.pending)
			for seq := 1; seq <= tt.n; seq++ {
				h.Dispatch(sized(uint64(seq), tt.size), "t")
			}
			if slow := s.Reason() == EndSlow; slow != tt.wantSlow {
				t.Fatalf("ended as slow: %v, want %v (reason %v)", slow, tt.wantSlow, s.Reason())
			}
			if h.Stats().EndedBy(EndSlow) != h.Stats().EndedSlow.Load() {
				t.Fatal("EndedBy(EndSlow) and EndedSlow disagree")
			}
			if _, q := s.Queued(); !tt.wantSlow && q != tt.wantQ {
				t.Fatalf("%d bytes queued, want %d", q, tt.wantQ)
			}
		})
	}
}

// TestDispatchNeverWaitsForWriters: when every writer is busy (a saturated
// server), Dispatch goes on at once: subscribers' queues grow within their
// byte bound and nobody is ended; the writers catch up later. The old hub
// held the dispatcher (and so the store's tail and every producer's
// acknowledgement) up to a second per dispatch.
func TestDispatchNeverWaitsForWriters(t *testing.T) {
	h := New(Config{})
	defer h.Close()
	release := make(chan struct{})
	// Occupy every writer with a turn that waits for release.
	for range h.pool.max {
		b := &Sub{Topic: "busy"}
		h.Subscribe(b)
		h.Serve(b, func() { <-release })
	}
	xs := serveSubs(h, 20, "t")
	const records = 200
	start := time.Now()
	for seq := uint64(1); seq <= records; seq++ {
		h.Dispatch(sized(seq, 200), "t")
	}
	took := time.Since(start)
	close(release)
	if took > 500*time.Millisecond {
		t.Fatalf("%d dispatches took %v with the writers busy: the dispatcher waited", records, took)
	}
	for _, x := range xs {
		waitUntil(t, 5*time.Second, "the writers catch up", func() bool { return x.count() == records })
	}
	if n := h.Stats().EndedSlow.Load(); n != 0 {
		t.Fatalf("%d ended as slow", n)
	}
}
