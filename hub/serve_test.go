package hub

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/internal/threadprio"
)

// served is a subscriber served by the hub's writers, recording what it
// got and whether its serve function ever ran twice at once.
type served struct {
	s       *Sub
	mu      sync.Mutex
	got     []uint64
	turns   atomic.Int64
	running atomic.Int32
	overlap atomic.Bool
	take    atomic.Bool // drain the queue (false: a client that takes nothing)
	pause   atomic.Bool // sleep after each delivery, so dispatches land meanwhile
}

func (x *served) serve() {
	if x.running.Add(1) != 1 {
		x.overlap.Store(true)
	}
	defer x.running.Add(-1)
	x.turns.Add(1)
	if !x.take.Load() {
		return
	}
	for {
		d, ok := x.s.Next()
		if !ok {
			break
		}
		x.mu.Lock()
		x.got = append(x.got, d.Seq)
		x.mu.Unlock()
		if x.pause.Load() {
			time.Sleep(time.Microsecond)
		}
	}
}

func (x *served) count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.got)
}

func serveSubs(h *Hub, n int, topic string) []*served {
	xs := make([]*served, n)
	for i := range xs {
		xs[i] = &served{s: &Sub{Topic: topic, Key: "k"}}
		xs[i].take.Store(true)
		h.Subscribe(xs[i].s)
		h.Serve(xs[i].s, xs[i].serve)
	}
	return xs
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestServeInOrder: subscribers served by several writers get every record
// once, in order, and no serve function runs twice at once.
func TestServeInOrder(t *testing.T) {
	h := New(Config{MaxQueue: 4096})
	h.pool.max = 4
	xs := serveSubs(h, 50, "t")
	for _, x := range xs {
		x.pause.Store(true)
	}
	const records = 2000
	for seq := uint64(1); seq <= records; seq++ {
		h.Dispatch(delivery(seq), "t")
	}
	for _, x := range xs {
		waitUntil(t, 10*time.Second, "every record served", func() bool { return x.count() >= records })
		x.mu.Lock()
		for i, seq := range x.got {
			if seq != uint64(i+1) {
				t.Fatalf("delivery %d is record %d", i, seq)
			}
		}
		x.mu.Unlock()
		if x.overlap.Load() {
			t.Fatal("a serve function ran twice at once")
		}
	}
	if n := h.Stats().EndedSlow.Load(); n != 0 {
		t.Fatalf("%d ended as slow", n)
	}
}

// TestServeStuckSubscriber: a subscriber whose client takes nothing does
// not hold up the dispatcher or the others: its queue overflows and it is
// ended as slow, while the others get everything.
func TestServeStuckSubscriber(t *testing.T) {
	h := New(Config{MaxQueue: 8})
	stuck := serveSubs(h, 1, "t")[0]
	stuck.take.Store(false)
	others := serveSubs(h, 20, "t")
	const records = 100
	start := time.Now()
	for seq := uint64(1); seq <= records; seq++ {
		h.Dispatch(delivery(seq), "t")
		time.Sleep(200 * time.Microsecond) // a queue of 8 is enough for the others
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("dispatching took %v", d)
	}
	select {
	case <-stuck.s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck subscriber was not ended")
	}
	if stuck.s.Reason() != EndSlow {
		t.Fatalf("ended for %v, want slow", stuck.s.Reason())
	}
	for _, x := range others {
		waitUntil(t, 5*time.Second, "the others served", func() bool { return x.count() >= records })
	}
	if n := h.Stats().EndedSlow.Load(); n != 1 {
		t.Fatalf("%d ended as slow, want only the stuck one", n)
	}
}

// TestServeTurnOnEndAndKick: a served subscriber gets a turn when the hub
// ends it (so its stream can finish) and when kicked with nothing queued;
// after Unsubscribe it gets no more turns.
func TestServeTurnOnEndAndKick(t *testing.T) {
	h := New(Config{MaxQueue: 8})
	x := serveSubs(h, 1, "t")[0]
	waitUntil(t, 5*time.Second, "the first turn", func() bool { return x.turns.Load() == 1 })
	h.Kick(x.s)
	waitUntil(t, 5*time.Second, "a turn after Kick", func() bool { return x.turns.Load() == 2 })
	h.EndKey("k")
	waitUntil(t, 5*time.Second, "a turn after the end", func() bool { return x.turns.Load() == 3 })
	if x.s.Reason() != EndRevoked {
		t.Fatalf("reason %v", x.s.Reason())
	}
	h.Unsubscribe(x.s)
	h.Kick(x.s)
	h.Dispatch(delivery(1), "t")
	time.Sleep(20 * time.Millisecond)
	if n := x.turns.Load(); n != 3 {
		t.Fatalf("%d turns after Unsubscribe, want 3", n)
	}
}

// TestIdleSubscriberHasNoQueue: a subscriber that never got a delivery
// holds no queue.
func TestIdleSubscriberHasNoQueue(t *testing.T) {
	h := New(Config{MaxQueue: 256})
	s := &Sub{Topic: "a"}
	h.Subscribe(s)
	if s.qu != nil {
		t.Fatal("queue made at Subscribe")
	}
	if _, ok := s.Next(); ok || s.qu != nil {
		t.Fatal("Next made a queue")
	}
	h.Dispatch(delivery(1), "a")
	if d, ok := s.Next(); !ok || d.Seq != 1 {
		t.Fatal("the delivery is not queued")
	}
}

// TestServePanicEndsOnlyItsStream: a serve function that panics ends its
// own subscriber (EndPanic, logged); the writers live on and serve the
// others, and Close stops them.
func TestServePanicEndsOnlyItsStream(t *testing.T) {
	var logged bytes.Buffer
	var logMu sync.Mutex
	h := New(Config{Log: slog.New(slog.NewTextHandler(&lockedWriter{&logMu, &logged}, nil))})
	bad := &Sub{Topic: "t"}
	h.Subscribe(bad)
	h.Serve(bad, func() {
		if _, ok := bad.Next(); ok {
			panic("boom")
		}
	})
	others := serveSubs(h, 5, "t")
	for seq := uint64(1); seq <= 10; seq++ {
		h.Dispatch(delivery(seq), "t")
	}
	for _, x := range others {
		waitUntil(t, 5*time.Second, "the others served", func() bool { return x.count() == 10 })
	}
	// Its turn may come after the others' (the writers take turns first
	// come first served, and Dispatch starts at a different subscriber
	// each time).
	waitUntil(t, 5*time.Second, "the panicking subscriber ended", func() bool { return bad.Reason() != EndNone })
	if bad.Reason() != EndPanic || h.Stats().EndedBy(EndPanic) != 1 {
		t.Fatalf("panicking subscriber: reason %v, %d ended by panic", bad.Reason(), h.Stats().EndedBy(EndPanic))
	}
	logMu.Lock()
	if !strings.Contains(logged.String(), "boom") {
		t.Fatalf("panic not logged: %q", logged.String())
	}
	logMu.Unlock()
	h.Close()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestMatchPanicEndsOnlyItsStream: a Match that panics (it runs on the
// dispatcher) ends its subscriber; the dispatch reaches the others.
func TestMatchPanicEndsOnlyItsStream(t *testing.T) {
	h := New(Config{})
	defer h.Close()
	bad := &Sub{Topic: "t", Match: func(*Delivery) bool { panic("bad match") }}
	good := &Sub{Topic: "t", Match: func(*Delivery) bool { return true }}
	h.Subscribe(bad)
	h.Subscribe(good)
	h.Dispatch(delivery(1), "t")
	if n, _ := good.Queued(); n != 1 || bad.Reason() != EndPanic {
		t.Fatalf("good got %d, bad ended for %v", n, bad.Reason())
	}
}

// TestWritersBound: Config.Writers bounds the writer goroutines; without
// it they are GOMAXPROCS-1, at least one.
func TestWritersBound(t *testing.T) {
	if h := New(Config{Writers: 3}); h.pool.max != 3 {
		t.Errorf("Writers 3: %d writers", h.pool.max)
	}
	if h, want := New(Config{}), max(1, runtime.GOMAXPROCS(0)-1); h.pool.max != want {
		t.Errorf("default: %d writers, want %d", h.pool.max, want)
	}
}

// turnLog records one value per turn, in order.
type turnLog[T any] struct {
	mu    sync.Mutex
	items []T
}

func (l *turnLog[T]) add(v T) {
	l.mu.Lock()
	l.items = append(l.items, v)
	l.mu.Unlock()
}

func (l *turnLog[T]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

func (l *turnLog[T]) reset() {
	l.mu.Lock()
	l.items = nil
	l.mu.Unlock()
}

func (l *turnLog[T]) snapshot() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// drain takes everything queued for s (from its serve function).
func drain(s *Sub) {
	for {
		if _, ok := s.Next(); !ok {
			return
		}
	}
}

// niceLog records the nice value of the thread each turn ran on, in order.
type niceLog struct{ turnLog[int] }

// record drains s and notes the current thread's nice value (from a
// subscriber's serve function).
func (l *niceLog) record(t *testing.T, s *Sub) {
	drain(s)
	n, err := threadprio.Nice()
	if err != nil {
		t.Error(err)
	}
	l.add(n)
}

// needThreadNice skips t where threads have no nice value of their own.
func needThreadNice(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("threads have no nice value of their own here")
	}
}

// lowerableHub is a hub with one writer that lowers bulk work by 4 nice
// steps, after bulkTurns queued turns or bulkAfter busy; a dispatch to
// more than bulkSubs streams is bulk work. It closes with t.
func lowerableHub(t *testing.T, log *slog.Logger, bulkTurns int, bulkAfter time.Duration, bulkSubs int) *Hub {
	h := New(Config{WriterNice: 4, Writers: 1, Log: log})
	t.Cleanup(h.Close)
	h.pool.bulkTurns, h.pool.bulkAfter = bulkTurns, bulkAfter
	h.bulkSubs = bulkSubs
	return h
}

// TestWriterNice: a writer takes short work at the process's priority;
// once busy past bulkAfter it goes on from a thread Config.WriterNice
// steps lower, and after the queue ran dry it is back at the process's
// priority. Without WriterNice every turn runs at the process's priority.
func TestWriterNice(t *testing.T) {
	needThreadNice(t)
	base := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		n, err := threadprio.Nice()
		if err != nil {
			t.Error(err)
		}
		base <- n
	}()
	b := <-base
	if b > threadprio.MaxNice-4 {
		t.Skipf("the test runs at nice %d: no room to lower by 4", b)
	}
	for _, steps := range []int{0, 4} {
		h := New(Config{WriterNice: steps, Writers: 1})
		h.pool.bulkTurns, h.pool.bulkAfter = 1<<30, 200*time.Millisecond
		h.bulkSubs = 4 // the 8 streams' turns are bulk work
		var log niceLog
		var kicks, pause atomic.Int64 // turns still to ask for; how long each sleeps
		subs := make([]*Sub, 8)
		for i := range subs {
			s := &Sub{Topic: "t", Key: "k"}
			subs[i] = s
			h.Subscribe(s)
			h.Serve(s, func() {
				log.record(t, s)
				if kicks.Add(-1) >= 0 { // long work: each turn asks for another
					time.Sleep(time.Duration(pause.Load()))
					h.Kick(s)
				}
			})
		}
		phase := func(name string, kick int64, each time.Duration, dispatch uint64) []int {
			t.Helper()
			pause.Store(int64(each))
			log.reset()
			kicks.Store(kick)
			h.Dispatch(delivery(dispatch), "t")
			want := int(kick) + len(subs)
			waitUntil(t, 10*time.Second, fmt.Sprintf("WriterNice %d, %s: every turn ran", steps, name), func() bool { return log.len() >= want })
			time.Sleep(10 * time.Millisecond) // the queue runs dry
			return log.snapshot()
		}
		atBase := func(name string, ns []int) {
			t.Helper()
			for i, n := range ns {
				if n != b {
					t.Fatalf("WriterNice %d, %s: turn %d ran at nice %d, want the process's %d", steps, name, i, n, b)
				}
			}
		}
		// 48 turns of 100 µs: more than the 16 turns between checks, far
		// less than bulkAfter.
		atBase("short work", phase("short work", 40, 100*time.Microsecond, 1))
		long := phase("long work", 400, time.Millisecond, 2) // 400 ms busy
		lowered := 0
		for _, n := range long {
			if n != b {
				lowered++
			}
		}
		if got := h.Stats().Lowered.Load(); got != uint64(lowered) {
			t.Fatalf("WriterNice %d: Stats().Lowered = %d, want the %d turns that ran lowered", steps, got, lowered)
		}
		if steps == 0 {
			atBase("long work", long)
		} else {
			for _, n := range long {
				if n != b && n != b+steps {
					t.Fatalf("long work: a turn ran at nice %d, want %d or %d", n, b, b+steps)
				}
			}
			if lowered < len(long)/4 || long[len(long)-1] != b+steps {
				t.Fatalf("long work: %d of %d turns ran lowered (the last at nice %d); want most, the last among them", lowered, len(long), long[len(long)-1])
			}
		}
		atBase("short work after long", phase("short work after long", 40, 100*time.Microsecond, 3))
		h.Close()
	}
}

// TestWriterNiceQueued: once more turns than bulkTurns are queued, a
// writer goes on lowered from its next check (every 16 turns) until the
// queue is empty, while an event to fewer streams is written at the
// process's priority throughout. A gate turn holds the one writer while
// each event is dispatched, so the whole event is queued when it resumes.
func TestWriterNiceQueued(t *testing.T) {
	needThreadNice(t)
	// "many" queues in the bulk lane, "few" in the prompt one
	h := lowerableHub(t, nil, 32, time.Hour, 32)
	var log niceLog
	for i := range 24 + 64 {
		s := &Sub{Topic: "few", Key: "k"} // 24 streams
		if i >= 24 {
			s.Topic = "many" // 64
		}
		h.Subscribe(s)
		h.Serve(s, func() { log.record(t, s) })
	}
	g := newGate(h)
	// Serve ran each function once at the start: let those turns pass.
	waitUntil(t, 10*time.Second, "the first turns", func() bool { return log.len() >= 24+64 })
	time.Sleep(10 * time.Millisecond)
	run := func(topic string, want int) []int {
		t.Helper()
		log.reset()
		g.hold() // the writer is in the gate's turn
		h.Dispatch(delivery(1), topic)
		g.release()
		waitUntil(t, 10*time.Second, topic+": every turn ran", func() bool { return log.len() >= want })
		return log.snapshot()
	}
	few := run("few", 24)
	base := few[0]
	for i, n := range few {
		if n != base {
			t.Fatalf("an event to 24 streams: turn %d at nice %d, want the process's %d", i, n, base)
		}
	}
	if base > threadprio.MaxNice-4 {
		t.Skipf("the test runs at nice %d: no room to lower by 4", base)
	}
	// The gate's turn is the writer's first after it waited, so its first
	// check comes after 15 of the 64: 49 queued, lowered from then on.
	many := run("many", 64)
	for i, n := range many {
		want := base
		if i >= 15 {
			want = base + 4
		}
		if n != want {
			t.Fatalf("an event to 64 streams (bulkTurns 32): turn %d at nice %d, want %d (all: %v)", i, n, want, many)
		}
	}
}

// TestWriterUnlowered: when a thread cannot be lowered (a seccomp filter,
// a container without the right), the failure is logged once as a
// warning, every turn still runs, none counts as lowered, and the writers
// stop handing bulk work over.
func TestWriterUnlowered(t *testing.T) {
	lowerThread = func(int) error { return errors.New("operation not permitted") }
	defer func() { lowerThread = threadprio.Lower }()
	var logs bytes.Buffer
	var mu sync.Mutex
	h := lowerableHub(t, slog.New(slog.NewTextHandler(&lockedWriter{&mu, &logs}, nil)), 1<<30, 20*time.Millisecond, 4)
	var ran atomic.Int64
	var kicks atomic.Int64
	for range 8 {
		s := &Sub{Topic: "t", Key: "k"}
		h.Subscribe(s)
		h.Serve(s, func() {
			drain(s)
			ran.Add(1)
			if kicks.Add(-1) >= 0 {
				time.Sleep(time.Millisecond)
				h.Kick(s)
			}
		})
	}
	waitUntil(t, 10*time.Second, "the first turns", func() bool { return ran.Load() >= 8 })
	for round := uint64(1); round <= 3; round++ { // three busy spells, each past bulkAfter
		ran.Store(0)
		kicks.Store(100)
		h.Dispatch(delivery(round), "t")
		waitUntil(t, 10*time.Second, "every turn", func() bool { return ran.Load() >= 108 })
		time.Sleep(10 * time.Millisecond) // the queue runs dry
	}
	if n := h.Stats().Lowered.Load(); n != 0 {
		t.Fatalf("Stats().Lowered = %d with no thread lowered, want 0", n)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if c := strings.Count(out, "runs at the process's priority"); c != 1 {
		t.Fatalf("the failure to lower was logged %d times, want once:\n%s", c, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "operation not permitted") {
		t.Fatalf("want a warning naming the cause:\n%s", out)
	}
}
