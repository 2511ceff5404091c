package hub_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store"
)

// benchData is a typical herald event payload of 150 bytes (as in sse).
const benchData = `{"id":"sess_01J9ZK3Q8W","state":"running","node":"node-eu-west-1a-07","owner":"user7","updated_at":"2025-01-01T12:00:00.000Z","attempt":3,"exit":null}`

// benchQueue bounds the subscribers' queues (the old default --queue-size).
const benchQueue = 256

// batch is how many events the benchmark dispatches before it waits for
// every subscriber to have drained them. It keeps the backlog of a queue
// under benchQueue (so no subscriber is ended as slow, whatever b.N) while
// subscribers drain concurrently with dispatch, as real handlers do.
const batch = benchQueue / 4

// drainer is one subscriber and its handler goroutine. got is written only
// by that goroutine; it sits on its own cache line.
type drainer struct {
	sub   *hub.Sub
	got   atomic.Uint64 // deliveries received
	bytes uint64        // frame bytes "written" (keeps the loads live)
	wakes uint64        // times the handler woke up with deliveries
	mu    sync.Mutex    // serializes serve (as stream.mu does)
	_     [32]byte
}

// keepalive is the server's default keepalive period.
const keepalive = 15 * time.Second

// run is the handler loop of api/stream.go's live, minus the socket write:
// it selects on the queue's Ready, a keepalive timer, the hub's Done and a
// connection context; it drains whatever is queued, then "flushes" once
// (which resets the keepalive timer).
func (d *drainer) run(wg *sync.WaitGroup) {
	defer wg.Done()
	c, done := d.sub.Ready(), d.sub.Done()
	var took []*hub.Delivery
	keep := time.NewTimer(keepalive)
	defer keep.Stop()
	ctxDone := make(chan struct{}) // the request context's Done (never closed here)
	for {
		select {
		case <-c:
			took = d.sub.Take(took[:0])
			n := uint64(len(took))
			for _, x := range took {
				d.bytes += uint64(len(x.Frames[0]))
			}
			clear(took)
			if n == 0 {
				continue
			}
			keep.Reset(keepalive)
			d.wakes++
			d.got.Add(n)
		case <-keep.C:
			keep.Reset(keepalive)
		case <-done:
			return
		case <-ctxDone:
			return
		}
	}
}

// serve is the drainer as api/stream.go's serve runs it on the hub's
// writers (Hub.Serve): arm, take everything queued, "write" once.
func (d *drainer) serve() {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := uint64(0)
	for {
		x, ok := d.sub.Next()
		if !ok {
			break
		}
		n++
		d.bytes += uint64(len(x.Frames[0]))
	}
	if n > 0 {
		d.wakes++
		d.got.Add(n)
	}
}

// fanout is a hub with subscribers spread evenly over topics, each with a
// draining goroutine (or served by the hub's writers).
type fanout struct {
	h      *hub.Hub
	topics []string
	subs   [][]*drainer // by topic
	wg     sync.WaitGroup
}

func newFanout(total, topics int) *fanout { return newFanoutMode(total, topics, false) }

// newFanoutMode is newFanout with the subscribers served by the hub's
// writers (served) instead of a goroutine each.
func newFanoutMode(total, topics int, served bool) *fanout {
	f := &fanout{h: hub.New(hub.Config{MaxQueue: benchQueue}), topics: make([]string, topics), subs: make([][]*drainer, topics)}
	for i := range f.topics {
		f.topics[i] = fmt.Sprintf("task/%08d-0000-4000-8000-000000000000", i)
	}
	for i := range total {
		t := i % topics
		d := &drainer{sub: &hub.Sub{Topic: f.topics[t], Key: fmt.Sprintf("key%d", i%100)}}
		f.h.Subscribe(d.sub)
		f.subs[t] = append(f.subs[t], d)
		if served {
			f.h.Serve(d.sub, d.serve)
			continue
		}
		f.wg.Add(1)
		go d.run(&f.wg)
	}
	return f
}

// wait returns once every subscriber of the topics touched received
// want[topic] deliveries. It looks only at those subscribers, so its cost
// is proportional to the matching subscribers, like Dispatch's.
func (f *fanout) wait(want []uint64, touched []int) {
	for _, t := range touched {
		for _, d := range f.subs[t] {
			for d.got.Load() < want[t] {
				runtime.Gosched()
			}
		}
	}
}

// close ends the subscribers and reports how many deliveries a handler
// took per wake-up (coalescing; 1 means every delivery paid a wake-up).
func (f *fanout) close(b *testing.B) {
	for _, subs := range f.subs {
		for _, d := range subs {
			f.h.Unsubscribe(d.sub)
		}
	}
	f.wg.Wait()
	if n := f.h.Stats().EndedSlow.Load(); n != 0 {
		b.Fatalf("%d subscribers were ended as slow; the benchmark must not overflow queues", n)
	}
	var got, wakes uint64
	for _, subs := range f.subs {
		for _, d := range subs {
			d.mu.Lock()
			got += d.got.Load()
			wakes += d.wakes
			d.mu.Unlock()
		}
	}
	if wakes > 0 {
		b.ReportMetric(float64(got)/float64(wakes), "deliveries/wake")
	}
}

// run dispatches b.N events, round-robin over the topics, each encoded
// once with sse.AppendEvent as api/engine.go does.
func (f *fanout) run(b *testing.B, perEvent int) {
	data := []byte(benchData)
	events := []lifecycle.Event{{Name: "task_progress", Data: data}}
	want := make([]uint64, len(f.topics))
	touched := make([]int, 0, batch)
	delivered0 := f.h.Stats().Delivered.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		seq := uint64(i + 1)
		t := i % len(f.topics)
		m := &store.Msg{Subject: "herald.task.d." + f.topics[t][5:], Seq: seq,
			Record: store.Record{Kind: "task", Entity: f.topics[t][5:], Events: events}}
		id := herald.ID{Epoch: "k3v9q2m7xa", Seq: seq}
		var idb [48]byte
		d := &hub.Delivery{Seq: seq, Msg: m, Frames: make([][]byte, 1)}
		d.Frames[0] = sse.AppendEvent(nil, "task_progress", string(id.AppendTo(idb[:0])), data)
		f.h.Dispatch(d, f.topics[t])
		if want[t]++; len(touched) < batch && (len(touched) == 0 || touched[len(touched)-1] != t) {
			touched = append(touched, t)
		}
		if (i+1)%batch == 0 {
			f.wait(want, touched)
			touched = touched[:0]
		}
	}
	f.wait(want, touched)
	b.StopTimer()
	if got, exp := f.h.Stats().Delivered.Load()-delivered0, uint64(b.N*perEvent); got != exp {
		b.Fatalf("delivered %d, want %d", got, exp)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perEvent), "ns/delivery")
}

// BenchmarkFanout encodes one event and dispatches it to N subscribers of
// one topic, which drain their queues concurrently. ns/op is per event.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			f := newFanout(n, 1)
			defer f.close(b)
			f.run(b, n)
		})
	}
}

// BenchmarkFanoutSpread spreads subscribers over many topics, 10 per topic;
// each event hits one topic (round-robin). ns/op must not grow with the
// total number of subscribers, only with the matching ones.
func BenchmarkFanoutSpread(b *testing.B) {
	const perTopic = 10
	for _, total := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("subs=%d/match=%d", total, perTopic), func(b *testing.B) {
			f := newFanout(total, total/perTopic)
			defer f.close(b)
			f.run(b, perTopic)
		})
	}
}

// BenchmarkFanoutServed is BenchmarkFanout with the subscribers served by
// the hub's writers (Hub.Serve, as the api's streams are) instead of a
// goroutine blocking on each queue.
func BenchmarkFanoutServed(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			f := newFanoutMode(n, 1, true)
			defer f.close(b)
			f.run(b, n)
		})
	}
}
