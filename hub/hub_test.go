package hub

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

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
			s := &Sub{Topic: "t"}
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
	slow := &Sub{Topic: "t", Key: "K1"}
	fast := &Sub{Topic: "t"}
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
	other := &Sub{Topic: "u", Key: "K2"}
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
	even := &Sub{Topic: "a", Match: func(d *Delivery) bool { return d.Seq%2 == 0 }}
	other := &Sub{Topic: "b"}
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

// TestSubscribeUnsubscribeChurn: subscribers of one topic and a few keys
// come and go in a shuffled order (the hub keeps each set in a slice and
// fills a gap with the last one); after every step a dispatch reaches
// exactly the subscribers still registered, EndKey ends exactly a key's
// registered ones, and unsubscribing twice, or one never subscribed,
// touches nobody else.
func TestSubscribeUnsubscribeChurn(t *testing.T) {
	h := New(Config{MaxQueue: 1 << 20})
	rnd := rand.New(rand.NewPCG(1, 2))
	key := func(i int) string { return "K" + strconv.Itoa(i%3) }
	subs := make([]*Sub, 300)
	for i := range subs {
		subs[i] = &Sub{Topic: "t", Key: key(i)}
		h.Subscribe(subs[i])
	}
	h.Unsubscribe(&Sub{Topic: "t", Key: "K0"}) // never subscribed: its zero index is another's
	live := map[*Sub]bool{}
	for _, s := range subs {
		live[s] = true
	}
	seq := uint64(0)
	check := func(step int) {
		t.Helper()
		seq++
		h.Dispatch(delivery(seq), "t")
		for i, s := range subs {
			d, ok := s.Next()
			if got := ok && d.Seq == seq; got != live[s] {
				t.Fatalf("step %d: subscriber %d (registered %v) received the dispatch: %v", step, i, live[s], got)
			}
		}
		if got := h.Stats().Subscribers.Load(); got != int64(len(live)) {
			t.Fatalf("step %d: %d subscribers counted, %d registered", step, got, len(live))
		}
		if got := len(h.Subs()); got != len(live) {
			t.Fatalf("step %d: Subs has %d, %d registered", step, got, len(live))
		}
	}
	check(0)
	order := rnd.Perm(len(subs))
	for step, i := range order[:250] {
		h.Unsubscribe(subs[i])
		h.Unsubscribe(subs[i]) // again: nothing more happens
		delete(live, subs[i])
		if step%25 == 0 {
			check(step)
		}
	}
	check(250)
	h.EndKey("K1")
	for i, s := range subs {
		want := EndUnsubscribed
		if live[s] {
			want = EndNone
			if key(i) == "K1" {
				want = EndRevoked
			}
		}
		if s.Reason() != want {
			t.Fatalf("subscriber %d (%s, registered %v): reason %v, want %v", i, key(i), live[s], s.Reason(), want)
		}
	}
	for _, i := range order[250:] {
		h.Unsubscribe(subs[i])
	}
	if n := len(h.Subs()); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
	if len(h.byKey) != 0 {
		t.Fatalf("keys left: %v", h.byKey)
	}
}

// TestSubscribersShareTheTopic: a subscriber keeps the hub's copy of its
// topic, not the caller's, so thousands of streams of one topic hold one
// string.
func TestSubscribersShareTheTopic(t *testing.T) {
	h := New(Config{})
	a := &Sub{Topic: strings.Repeat("x", 40)}
	b := &Sub{Topic: strings.Repeat("x", 40)}
	if unsafe.StringData(a.Topic) == unsafe.StringData(b.Topic) {
		t.Fatal("the test's topics share memory already")
	}
	h.Subscribe(a)
	h.Subscribe(b)
	if unsafe.StringData(a.Topic) != unsafe.StringData(b.Topic) {
		t.Fatal("two subscribers of one topic hold two copies of it")
	}
}

// TestDoneMadeLazily: Done before the end is closed by it; Done after it
// is closed at once; a subscriber that never asked has no channel.
func TestDoneMadeLazily(t *testing.T) {
	h := New(Config{})
	early, late, never := &Sub{Topic: "t"}, &Sub{Topic: "t"}, &Sub{Topic: "t"}
	for _, s := range []*Sub{early, late, never} {
		h.Subscribe(s)
	}
	done := early.Done()
	select {
	case <-done:
		t.Fatal("Done closed before the end")
	default:
	}
	h.EndAll()
	for name, c := range map[string]<-chan struct{}{"early": done, "late": late.Done()} {
		select {
		case <-c:
		case <-time.After(time.Second):
			t.Fatalf("%s Done not closed after the end", name)
		}
	}
	if never.done != nil {
		t.Fatal("a subscriber that never asked for Done has a channel")
	}
}
