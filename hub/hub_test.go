package hub

import (
	"sync"
	"testing"

	"github.com/herald-sse/herald/store"
)

func delivery(seq uint64) *Delivery {
	return &Delivery{Seq: seq, Msg: &store.Msg{Seq: seq}}
}

// TestHandOffNoGapNoDuplicate: subscribers register while records are
// being dispatched; each one's "history up to Start" plus its live
// deliveries above Start is exactly every record, once.
func TestHandOffNoGapNoDuplicate(t *testing.T) {
	const records = 5000
	h := New(Config{MaxQueue: records + 1})
	var wg sync.WaitGroup
	type result struct {
		start uint64
		live  []uint64
	}
	results := make(chan result, 64)
	subs := make(chan *Sub, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < i*50; j++ { // spread the registrations over the run
				_ = j * j
			}
			s := &Sub{Topics: []string{"t"}}
			h.Subscribe(s)
			subs <- s
		}(i)
	}
	for seq := uint64(1); seq <= records; seq++ {
		h.Dispatch(delivery(seq), "t")
	}
	wg.Wait()
	close(subs)
	for s := range subs {
		var r result
		r.start = s.Start()
		for d, ok := s.Next(); ok; d, ok = s.Next() {
			if d.Seq > r.start { // what the handler keeps; history covers ≤ start
				r.live = append(r.live, d.Seq)
			}
		}
		results <- r
		h.Unsubscribe(s)
	}
	close(results)
	n := 0
	for r := range results {
		n++
		next := r.start + 1
		for _, seq := range r.live {
			if seq != next {
				t.Fatalf("start %d: got %d, want %d (gap or duplicate)", r.start, seq, next)
			}
			next++
		}
		if next != records+1 {
			t.Fatalf("start %d: live ended at %d, want %d", r.start, next-1, records)
		}
	}
	if n != 64 {
		t.Fatalf("%d subscribers", n)
	}
	if got := h.Stats().Subscribers.Load(); got != 0 {
		t.Fatalf("%d subscribers left", got)
	}
}

// TestSlowSubscriberEndedOthersNot: a full queue ends only its subscriber.
func TestSlowSubscriberEndedOthersNot(t *testing.T) {
	h := New(Config{MaxQueue: 4})
	slow := &Sub{Topics: []string{"t"}, Key: "K1"}
	fast := &Sub{Topics: []string{"t"}}
	h.Subscribe(slow)
	h.Subscribe(fast)
	for seq := uint64(1); seq <= 10; seq++ {
		h.Dispatch(delivery(seq), "t")
		if _, ok := fast.Next(); !ok {
			t.Fatal("fast subscriber got nothing")
		}
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber not ended")
	}
	if slow.Reason() != EndSlow || fast.Reason() != EndNone || h.Stats().EndedSlow.Load() != 1 {
		t.Fatalf("reasons %v %v", slow.Reason(), fast.Reason())
	}
	// Revocation ends a key's streams; shutdown ends the rest.
	other := &Sub{Topics: []string{"u"}, Key: "K2"}
	h.Subscribe(other)
	h.EndKey("K2")
	if other.Reason() != EndRevoked {
		t.Fatal("EndKey did not end the key's stream")
	}
	h.EndAll()
	if fast.Reason() != EndShutdown {
		t.Fatal("EndAll did not end the stream")
	}
}

// TestMatchFiltersAndTopicsRoute: only subscribers of the dispatched
// topics whose Match accepts the delivery receive it.
func TestMatchFiltersAndTopicsRoute(t *testing.T) {
	h := New(Config{MaxQueue: 8})
	even := &Sub{Topics: []string{"a"}, Match: func(d *Delivery) bool { return d.Seq%2 == 0 }}
	other := &Sub{Topics: []string{"b"}}
	h.Subscribe(even)
	h.Subscribe(other)
	for seq := uint64(1); seq <= 4; seq++ {
		h.Dispatch(delivery(seq), "a")
	}
	ne, _ := even.Queued()
	no, _ := other.Queued()
	if ne != 2 || no != 0 {
		t.Fatalf("even got %d, other got %d", ne, no)
	}
}
