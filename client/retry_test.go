package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/store"
)

// seen records what a herald server in front of which it sits answered,
// and the Idempotency-Key of every request.
type seen struct {
	mu       sync.Mutex
	statuses []int
	keys     []string
}

func (s *seen) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		s.statuses = append(s.statuses, rec.status)
		s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
		s.mu.Unlock()
	})
}

func (s *seen) snapshot() ([]int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.statuses...), append([]string(nil), s.keys...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// startingServer is a real herald over a store with history whose views
// have not caught up yet: it answers 503 until start is called.
type startingServer struct {
	URL   string
	a     *api.API
	seen  seen
	start func()
	task  string
}

func newStartingServer(t *testing.T) *startingServer {
	t.Helper()
	s := testutil.Start(t)
	task, err := s.Admin().CreateTask(context.Background(), 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{Dir: s.Dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ss := &startingServer{a: api.New(api.Config{}, st, nil), task: task}
	srv := httptest.NewServer(ss.seen.wrap(ss.a))
	t.Cleanup(srv.Close)
	ss.URL = srv.URL
	runCtx, stop := context.WithCancel(context.Background())
	var running sync.WaitGroup
	t.Cleanup(func() { stop(); running.Wait() })
	var once sync.Once
	ss.start = func() {
		once.Do(func() {
			running.Add(1)
			go func() { defer running.Done(); _ = ss.a.Run(runCtx) }()
			_ = ss.a.WaitReady(runCtx)
			_, _ = ss.a.Bootstrap(runCtx, testutil.BootstrapToken) // a failure shows as the test's 503s
		})
	}
	return ss
}

// TestWriteRetriedWhileStarting: a write sent to a herald that is still
// catching up gets 503 + Retry-After; the client waits and sends it again
// with the same generated Idempotency-Key until the server is ready.
func TestWriteRetriedWhileStarting(t *testing.T) {
	s := newStartingServer(t)
	c := &client.Client{Server: s.URL, Token: testutil.BootstrapToken}
	time.AfterFunc(1500*time.Millisecond, s.start)
	task, err := c.TaskProgress(context.Background(), s.task, 7, -1, nil)
	if err != nil || task.Current != 7 {
		t.Fatalf("progress: %+v %v", task, err)
	}
	statuses, keys := s.seen.snapshot()
	if len(statuses) < 2 || statuses[0] != 503 || statuses[len(statuses)-1] != 200 {
		t.Fatalf("statuses %v: want 503s, then 200", statuses)
	}
	// Retry-After: 1 spaces the attempts: about two in 1.5 s, not fifteen.
	if len(statuses) > 4 {
		t.Fatalf("%d attempts in 1.5 s: Retry-After was not honoured (%v)", len(statuses), statuses)
	}
	for _, k := range keys {
		if k == "" || k != keys[0] {
			t.Fatalf("Idempotency-Keys %q: want one generated key on every attempt", keys)
		}
	}
}

// TestRetriesBounded: a server that never gets ready makes the call fail
// after Retries attempts with the server's 503, not hang.
func TestRetriesBounded(t *testing.T) {
	s := newStartingServer(t)
	c := &client.Client{Server: s.URL, Token: testutil.BootstrapToken, Retries: 2}
	_, err := c.GetTask(context.Background(), s.task)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 503 || ce.RetryAfter != time.Second || ce.RequestID == "" {
		t.Fatalf("want a 503 *client.Error with Retry-After and a request id, got %#v", err)
	}
	if statuses, _ := s.seen.snapshot(); len(statuses) != 3 {
		t.Fatalf("%d attempts, want 3 (1 + Retries)", len(statuses))
	}
	c.Retries = -1
	if _, err := c.GetTask(context.Background(), s.task); !errors.As(err, &ce) || ce.Status != 503 {
		t.Fatal(err)
	}
	if statuses, _ := s.seen.snapshot(); len(statuses) != 4 {
		t.Fatalf("Retries -1 still retried: %d attempts", len(statuses))
	}
}

// TestReadRetriedAfterConnectionRefused: while the server's port refuses
// connections (a restart), a call is retried until it listens again.
func TestReadRetriedAfterConnectionRefused(t *testing.T) {
	s := testutil.Start(t)
	task, err := s.Admin().CreateTask(context.Background(), 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // refused until the server below listens
	srv := &http.Server{Handler: s.API}
	time.AfterFunc(700*time.Millisecond, func() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		go func() { _ = srv.Serve(ln) }()
	})
	defer srv.Close()
	c := &client.Client{Server: "http://" + addr, Token: s.Token}
	if got, err := c.GetTask(context.Background(), task); err != nil || got.ID != task {
		t.Fatalf("get task: %+v %v", got, err)
	}
}

// TestWriteRetriedAfterLostAnswer: the server applies a write but the
// connection breaks before its answer arrives; the client sends it again
// with the same generated Idempotency-Key and gets the first answer — the
// write is applied once (a second session_enqueued would be a 409).
func TestWriteRetriedAfterLostAnswer(t *testing.T) {
	s := testutil.Start(t)
	s.CreateGroup(t, "default", "g")
	owner := s.CreateKey(t, "user", "default", nil, "")
	var cut atomic.Bool
	var mu sync.Mutex
	var keys []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if cut.CompareAndSwap(false, true) {
			s.API.ServeHTTP(httptest.NewRecorder(), r) // applied; the answer is lost
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		s.API.ServeHTTP(w, r)
	}))
	defer front.Close()
	c := &client.Client{Server: front.URL, Token: s.Token}
	rep := client.SessionReport{SessionID: "s1", OwnerAccessKey: owner.AccessKey, Group: "g", Event: "session_enqueued"}
	got, err := c.ReportSession(context.Background(), rep, "")
	if err != nil || got.State != "enqueued" {
		t.Fatalf("report: %+v %v", got, err)
	}
	mu.Lock()
	k := append([]string(nil), keys...)
	mu.Unlock()
	if len(k) != 2 || k[0] == "" || k[0] != k[1] {
		t.Fatalf("Idempotency-Keys %q: want the same generated key twice", k)
	}
	rep.Event = "session_preparing"
	next, err := c.ReportSession(context.Background(), rep, "")
	if err != nil {
		t.Fatal(err)
	}
	first, ok := herald.ParseID(got.ID)
	if !ok {
		t.Fatalf("id %q", got.ID)
	}
	before := herald.ID{Epoch: first.Epoch, Seq: first.Seq - 1}
	f := s.OpenFeed(t, "/events/session?sessionId=s1&ownerAccessKey="+owner.AccessKey, s.Token,
		map[string]string{"Last-Event-ID": before.String()})
	var ids []string
	for {
		e, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.Type+" "+e.ID)
		if e.ID == next.ID {
			break
		}
	}
	if len(ids) != 2 {
		t.Fatalf("events stored for two reports: %v", ids)
	}
}

// TestSubscribeWaitsRetryAfter: a feed refused with 503 while the server
// starts reconnects no sooner than its Retry-After, then follows it.
func TestSubscribeWaitsRetryAfter(t *testing.T) {
	s := newStartingServer(t)
	c := &client.Client{Server: s.URL, Token: testutil.BootstrapToken}
	var delays []time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		time.Sleep(1500 * time.Millisecond)
		s.start()
		_, _ = c.FinishTask(ctx, s.task, "done", nil)
	}()
	err := c.Subscribe(ctx, "/events/background-task?taskId="+s.task, client.FeedOptions{
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 5 * time.Second,
		OnReconnect: func(_ int, d time.Duration, err error) {
			var ce *client.Error
			if errors.As(err, &ce) && ce.Status == 503 {
				delays = append(delays, d)
			}
		},
	}, func(client.Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(delays) == 0 {
		t.Fatal("the feed was never refused with 503")
	}
	for _, d := range delays {
		if d < time.Second {
			t.Fatalf("reconnect delays %v: want ≥ Retry-After (1s)", delays)
		}
	}
}
