package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// cuttingProxy forwards loopback TCP to target and closes each connection
// after the server sent n bytes, usually in the middle of an SSE frame.
type cuttingProxy struct {
	ln    net.Listener
	cuts  atomic.Int64
	n     int64
	mu    sync.Mutex
	conns []net.Conn
}

func newCuttingProxy(t *testing.T, target string, n int64) *cuttingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, n: n}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, target)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *cuttingProxy) serve(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	p.mu.Lock()
	p.conns = append(p.conns, c, s)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(s, c) }()
	if _, err := io.CopyN(c, s, p.n); err == nil {
		p.cuts.Add(1)
	}
}

type progress struct {
	Current int64 `json:"current_progress"`
}

// followTask subscribes to a task feed and returns, in order, the progress
// of every event up to the terminal one.
func followTask(t *testing.T, c *client.Client, id string, reconnects *atomic.Int64) ([]int64, string) {
	t.Helper()
	var got []int64
	var terminal string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := c.Subscribe(ctx, "/events/background-task?taskId="+id, client.FeedOptions{
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnReconnect: func(int, time.Duration, error) { reconnects.Add(1) },
	}, func(e client.Event) error {
		switch e.Type {
		case "task_updated":
			var p progress
			if err := json.Unmarshal([]byte(e.Data), &p); err != nil {
				t.Errorf("data %q", e.Data)
			}
			got = append(got, p.Current)
		case "server_close":
		default:
			terminal = e.Type
		}
		return nil
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return got, terminal
}

func checkExactlyOnce(t *testing.T, got []int64, n int64) {
	t.Helper()
	if int64(len(got)) != n+1 {
		t.Fatalf("got %d updates, want %d: %v", len(got), n+1, got)
	}
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("update %d has progress %d (loss or duplicate)", i, v)
		}
	}
}

// TestSubscribeSurvivesRestart: the server restarts mid-stream; the client
// reconnects, resumes by id and sees every event exactly once.
func TestSubscribeSurvivesRestart(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	c := s.Admin()
	id, err := c.CreateTask(ctx, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for v := int64(1); v <= n; v++ {
			for {
				if _, err := c.TaskProgress(ctx, id, v, -1, nil); err == nil {
					break
				} else if ce, ok := err.(*client.Error); ok && ce.Status == 409 {
					break // acknowledged before the restart cut the answer
				}
				time.Sleep(10 * time.Millisecond) // server restarting
			}
			if v == n/2 {
				s.Restart(t)
			}
		}
		for {
			if _, err := c.FinishTask(ctx, id, "done", nil); err == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var reconnects atomic.Int64
	got, terminal := followTask(t, s.Admin(), id, &reconnects)
	<-done
	checkExactlyOnce(t, got, n)
	if terminal != "task_done" || reconnects.Load() == 0 {
		t.Fatalf("terminal %q after %d reconnects", terminal, reconnects.Load())
	}
}

// TestSubscribeThroughCuttingProxy: a proxy drops the connection every 700
// bytes; the client resumes each time with no loss and no duplicate.
func TestSubscribeThroughCuttingProxy(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	c := s.Admin()
	id, err := c.CreateTask(ctx, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for v := int64(1); v <= n; v++ {
		if _, err := c.TaskProgress(ctx, id, v, -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newCuttingProxy(t, s.URL[len("http://"):], 700)
	pc := &client.Client{Server: "http://" + proxy.ln.Addr().String(), Token: s.Token}
	// Finish the task once the subscriber went through the history.
	go func() {
		for proxy.cuts.Load() < 25 {
			time.Sleep(5 * time.Millisecond)
		}
		_, _ = c.FinishTask(ctx, id, "fail", nil)
	}()
	var reconnects atomic.Int64
	got, terminal := followTask(t, pc, id, &reconnects)
	checkExactlyOnce(t, got, n)
	if terminal != "task_failed" || proxy.cuts.Load() < 10 {
		t.Fatalf("terminal %q after %d cuts", terminal, proxy.cuts.Load())
	}
	t.Logf("%d cuts, %d reconnects", proxy.cuts.Load(), reconnects.Load())
}

// TestSubscribeRefusalIsFinal: a 404 is returned, not retried forever.
func TestSubscribeRefusalIsFinal(t *testing.T) {
	s := testutil.Start(t)
	err := s.Admin().Subscribe(context.Background(), "/events/background-task?taskId=00000000-0000-0000-0000-000000000000",
		client.FeedOptions{}, func(client.Event) error { return nil })
	if ce, ok := err.(*client.Error); !ok || ce.Status != 404 {
		t.Fatalf("want a 404 *client.Error, got %v", err)
	}
}

// TestSubscribeEndsOn204: resuming a finished task's feed at its terminal
// event gets 204 No Content (nothing is left), which ends Subscribe with
// nil at once instead of reconnecting forever.
func TestSubscribeEndsOn204(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	c := s.Admin()
	id, err := c.CreateTask(ctx, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FinishTask(ctx, id, "done", nil); err != nil {
		t.Fatal(err)
	}
	var last string
	err = c.Subscribe(ctx, "/events/background-task?taskId="+id, client.FeedOptions{}, func(e client.Event) error {
		if e.ID != "" {
			last = e.ID
		}
		return nil
	})
	if err != nil || last == "" {
		t.Fatalf("first follow: last %q, %v", last, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n := 0
	err = c.Subscribe(ctx, "/events/background-task?taskId="+id, client.FeedOptions{LastEventID: last}, func(client.Event) error {
		n++
		return nil
	})
	if err != nil || n != 0 {
		t.Fatalf("resumed at the terminal event: %d events, %v (want none and nil)", n, err)
	}
}

// TestSubscribeNeverConnectedLimit: a feed whose server never answers
// ends after NeverConnectedLimit with ErrNeverConnected wrapping the cause.
func TestSubscribeNeverConnectedLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &client.Client{Server: "http://" + addr}
	started := time.Now()
	err = c.Subscribe(context.Background(), "/v1/sessions/events", client.FeedOptions{NeverConnectedLimit: 500 * time.Millisecond},
		func(client.Event) error { return nil })
	took := time.Since(started)
	if !errors.Is(err, client.ErrNeverConnected) || !errors.Is(err, syscall.ECONNREFUSED) || took < 500*time.Millisecond || took > 3*time.Second {
		t.Fatalf("after %v: %v", took, err)
	}
}

// TestUnknownHostIsNotRetried: a server name that does not resolve is a
// wrong URL, answered at once rather than after the retries.
func TestUnknownHostIsNotRetried(t *testing.T) {
	c := &client.Client{Server: "http://no-such-host-h15.invalid"}
	started := time.Now()
	err := c.Do(context.Background(), "GET", "/healthz", nil, nil, "")
	var dns *net.DNSError
	if !errors.As(err, &dns) || !dns.IsNotFound {
		t.Skipf("this machine's resolver does not say 'no such host': %v", err)
	}
	if took := time.Since(started); took > 2*time.Second {
		t.Fatalf("retried for %v", took)
	}
}
