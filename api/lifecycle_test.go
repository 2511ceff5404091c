package api_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestStartStopLeaksNothing: an API with its store and hub, started, with
// streams open on both paths (one of them with a write its client does not
// take), then stopped as SIGTERM would, leaves no goroutine behind: the
// hub's writers, the wheel, the departed-client watcher, the janitor, the
// push timers and the goroutines finishing blocked writes all stop and are
// waited for.
func TestStartStopLeaksNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, handler := range []bool{false, true} {
		s, stop, err := testutil.New(testutil.WithConfig(func(c *api.Config) {
			c.HandlerWrites = handler
			c.Keepalive = 50 * time.Millisecond
			c.WriteTimeout = 3 * time.Second
			c.MaxPendingBytes = 64 << 20 // the stalled client is not ended as slow before the shutdown
		}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		id, err := s.Admin().CreateTask(ctx, 0, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		for range 5 {
			c, _, _ := rawFeed(t, s, "/events/session?sessionId=*", s.Token)
			conns = append(conns, c)
		}
		stalled := openStalled(t, s.URL+feedPath(id), s.Token)
		msg := strings.Repeat("x", 64<<10)
		for p := range int64(100) { // 6.4 MB, more than socket buffers take: the stalled client's write blocks
			if _, err := s.Admin().TaskProgress(ctx, id, p+1, -1, &msg); err != nil {
				t.Fatal(err)
			}
		}
		began := time.Now()
		stop()
		t.Logf("handler=%v: stopped in %v; %d ended as slow", handler, time.Since(began).Round(time.Millisecond), s.API.Hub().Stats().EndedSlow.Load())
		for _, c := range conns {
			c.Close()
		}
		stalled.Body.Close()
	}
}

// TestShutdownUnderLoad: streams receiving a steady flow of events are
// ended by Shutdown each at an event boundary (the last frame complete, a
// clean end of body), at moments spread over --shutdown-spread rather than
// all at once, and the shutdown waits for them all.
func TestShutdownUnderLoad(t *testing.T) { streamModes(t, testShutdownUnderLoad) }

func testShutdownUnderLoad(t *testing.T, mode testutil.Option) {
	const (
		clients = 40
		spread  = time.Second
	)
	s := testutil.Start(t, mode, testutil.WithConfig(func(c *api.Config) { c.ShutdownSpread = spread }))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, err := s.Admin().CreateTask(ctx, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		body  []byte
		err   error
		ended time.Time
	}
	results := make([]result, clients)
	var readers sync.WaitGroup
	for i := range clients {
		conn, resp, _ := rawFeed(t, s, feedPath(id), s.Token)
		defer conn.Close()
		readers.Go(func() {
			b, err := io.ReadAll(resp.Body)
			results[i] = result{b, err, time.Now()}
		})
	}
	// The steady flow: 2 KB events every 2 ms until the server stops.
	var producer sync.WaitGroup
	producer.Go(func() {
		msg := strings.Repeat("y", 2<<10)
		for p := int64(1); ctx.Err() == nil; p++ {
			if _, err := s.Admin().TaskProgress(ctx, id, p, -1, &msg); err != nil {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	time.Sleep(200 * time.Millisecond) // let events flow
	start := time.Now()
	s.Close()
	took := time.Since(start)
	cancel()
	producer.Wait()
	readers.Wait()
	var ends []time.Duration
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("client %d: body ended with %v after %d bytes, want a clean end", i, r.err, len(r.body))
		}
		if !bytes.HasSuffix(r.body, []byte("\n\n")) || !bytes.Contains(r.body, []byte("event: task_updated")) {
			t.Fatalf("client %d: %d bytes, ending %q: not at an event boundary", i, len(r.body), r.body[max(0, len(r.body)-40):])
		}
		ends = append(ends, r.ended.Sub(start))
	}
	slices.Sort(ends)
	t.Logf("shutdown took %v; streams ended from %v to %v", took.Round(time.Millisecond), ends[0].Round(time.Millisecond), ends[len(ends)-1].Round(time.Millisecond))
	if width := ends[len(ends)-1] - ends[0]; width < spread/2 {
		t.Fatalf("the streams ended within %v: not spread over %v", width, spread)
	}
	if ends[len(ends)-1] > spread+time.Second {
		t.Fatalf("the last stream ended %v after the shutdown began (spread %v)", ends[len(ends)-1], spread)
	}
	if n := s.API.Hub().Stats().EndedBy(hub.EndShutdown); n != clients {
		t.Fatalf("%d streams ended for shutdown, want %d", n, clients)
	}
}
