package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/store"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stoppedStore writes a task with progress reports on a test server,
// stops it and returns its data directory, the task id and how many
// records the store holds.
func stoppedStore(t *testing.T, reports int) (dir, task string, records uint64) {
	t.Helper()
	s := testutil.Start(t)
	c := s.Admin()
	ctx := context.Background()
	id, err := c.CreateTask(ctx, 2*int64(reports), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= reports; i++ {
		if _, err := c.TaskProgress(ctx, id, int64(i), -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, last, _, err := s.Store.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return s.Dir, id, last
}

// notReadyAPI opens the store in dir and an API over it that is not
// running yet (Run not called): it has not caught up.
func notReadyAPI(t *testing.T, dir string, cfg api.Config) (*api.API, *syncBuffer) {
	t.Helper()
	a, logs, _ := notReadyAPIStore(t, dir, cfg)
	return a, logs
}

// notReadyAPIStore is notReadyAPI that also returns the store.
func notReadyAPIStore(t *testing.T, dir string, cfg api.Config) (*api.API, *syncBuffer, *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	logs := &syncBuffer{}
	return api.New(cfg, st, slog.New(slog.NewJSONHandler(logs, nil))), logs, st
}

// runAPI runs a until the test ends and waits until it is ready.
func runAPI(t *testing.T, a *api.API) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := a.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Bootstrap(wctx, testutil.BootstrapToken); err != nil {
		t.Fatal(err)
	}
}

// do sends a request (a POST with the body {}) and reads the answer.
func do(t *testing.T, method, url string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	body := ""
	if method == "POST" {
		body = "{}"
	}
	return doBody(t, method, url, body, header)
}

// doBody is do with a body.
func doBody(t *testing.T, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestGateBeforeReady: until its views caught up with the store, herald
// answers every API request and feed — valid or not — with 503,
// Retry-After and a problem naming a request id, never a 401/404/400 that
// only means "not yet"; the probes and metrics answer; /readyz says why.
// Once caught up the same requests succeed.
func TestGateBeforeReady(t *testing.T) {
	dir, task, records := stoppedStore(t, 20)
	a, logs := notReadyAPI(t, dir, api.Config{})
	srv := httptest.NewServer(a)
	defer srv.Close()
	bearer := map[string]string{"Authorization": "Bearer " + testutil.BootstrapToken}
	for _, tc := range []struct {
		method, path string
		header       map[string]string
	}{
		{"GET", "/v1/tasks/" + task, bearer},
		{"POST", "/v1/tasks/" + task + "/progress", bearer},
		{"POST", "/v1/tasks", bearer},
		{"GET", "/events/background-task?taskId=" + task, bearer},
		{"GET", "/events/session", map[string]string{"Authorization": "Bearer " + testutil.BootstrapToken, "Last-Event-ID": "x"}},
		{"GET", "/v1/sessions", bearer},
		{"GET", "/v1/admin/keys", bearer},
		{"POST", "/v1/login", bearer},
		{"GET", "/v1/tasks/" + task, nil},                                            // no credentials: still "not yet"
		{"GET", "/no/such/endpoint", bearer},                                         // not a 404 yet either
		{"GET", "/v1/tasks/" + task, map[string]string{"Authorization": "nonsense"}}, // nor a 401
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, b := do(t, tc.method, srv.URL+tc.path, tc.header)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var p api.Problem
			if err := json.Unmarshal(b, &p); err != nil || p.Status != 503 || p.RequestID == "" ||
				p.RequestID != resp.Header.Get(api.RequestIDHeader) || p.Instance != "urn:herald:request:"+p.RequestID {
				t.Fatalf("problem %s (%v), X-Request-Id %q", b, err, resp.Header.Get(api.RequestIDHeader))
			}
		})
	}
	for path, want := range map[string]int{"/healthz": 200, "/metrics": 200, "/readyz": 503} {
		resp, b := do(t, "GET", srv.URL+path, nil)
		if resp.StatusCode != want {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if path == "/readyz" && string(b) != "starting: not following the store yet\n" {
			t.Fatalf("/readyz says %q", b)
		}
	}

	runAPI(t, a)
	if resp, b := do(t, "GET", srv.URL+"/readyz", nil); resp.StatusCode != 200 {
		t.Fatalf("/readyz after catching up: %d %s", resp.StatusCode, b)
	}
	resp, b := do(t, "GET", srv.URL+"/v1/tasks/"+task, bearer)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"current_progress":20`) {
		t.Fatalf("task after catching up: %d %s", resp.StatusCode, b)
	}
	n, seq, took := a.CatchUp()
	if n != records || seq != records || took <= 0 {
		t.Fatalf("CatchUp() = %d records, seq %d, took %v; the store has %d", n, seq, took, records)
	}
	want := fmt.Sprintf(`"msg":"views caught up with the store","seq":%d,"records":%d,"took":`, records, records)
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("no log line %s in\n%s", want, logs)
	}
}

// TestReplayedRecordsNotLive: the records a store held at start are
// replayed into the views and the replay cache, never dispatched to live
// subscribers as if new; a client resuming after start gets exactly the
// events after its id, then new ones live, each once.
func TestReplayedRecordsNotLive(t *testing.T) {
	const reports = 300
	dir, task, _ := stoppedStore(t, reports)
	a, _ := notReadyAPI(t, dir, api.Config{QueueSize: 4 * reports})
	early := &hub.Sub{Topic: "task/" + task}
	a.Hub().Subscribe(early)
	defer a.Hub().Unsubscribe(early)
	runAPI(t, a)
	if n := a.Hub().Stats().Delivered.Load(); n != 0 {
		t.Fatalf("%d replayed records were dispatched to a live subscriber", n)
	}
	if n, _ := a.Hub().HistorySize(); n < reports {
		t.Fatalf("the replay cache holds %d records after start, want ≥ %d", n, reports)
	}

	srv := httptest.NewServer(a)
	defer srv.Close()
	s := &testutil.Server{URL: srv.URL, Token: testutil.BootstrapToken}
	first := s.OpenFeed(t, "/events/background-task?taskId="+task, s.Token, nil)
	var ids []string
	for len(ids) < reports+1 { // created + each progress
		e, err := first.Next()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	first.Close()
	resume := ids[reports/2]
	feed := s.OpenFeed(t, "/events/background-task?taskId="+task, s.Token, map[string]string{"Last-Event-ID": resume})
	if _, err := s.Admin().TaskProgress(context.Background(), task, reports+1, -1, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var got []string
	for {
		e, err := feed.Next()
		if err != nil {
			t.Fatal(err)
		}
		seen[e.ID]++
		if seen[e.ID] > 1 {
			t.Fatalf("event %s delivered twice", e.ID)
		}
		got = append(got, e.ID)
		if strings.Contains(e.Data, fmt.Sprintf(`"current_progress":%d`, reports+1)) {
			break
		}
	}
	if want := ids[reports/2+1:]; len(got) != len(want)+1 || strings.Join(got[:len(want)], ",") != strings.Join(want, ",") {
		t.Fatalf("resumed after %s: got %d events, want the %d after it and the new one", resume, len(got), len(want))
	}
}

// TestReadyWhenTailPurged: when the store's last records were purged
// (retention) before a restart, the tail never sees the last sequence the
// store reports; herald still gets ready (instead of answering 503 until
// the next write, which the gate would refuse), and /readyz says what it
// waits for meanwhile.
func TestReadyWhenTailPurged(t *testing.T) {
	s := testutil.Start(t)
	c := s.Admin()
	ctx := context.Background()
	kept, err := c.CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	_, applied, _, _ := s.Store.Info(ctx)
	gone, err := c.CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := c.TaskProgress(ctx, gone, int64(i), -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Store.Purge(ctx, store.Subject("task", "default", gone)); err != nil {
		t.Fatal(err)
	}
	_, last, _, _ := s.Store.Info(ctx)
	s.Close()

	a, logs := notReadyAPI(t, s.Dir, api.Config{})
	srv := httptest.NewServer(a)
	defer srv.Close()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var said []string
	for deadline := time.Now().Add(10 * time.Second); !a.Ready(); {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 10s after start; /readyz said %q", said)
		}
		resp, b := do(t, "GET", srv.URL+"/readyz", nil)
		if resp.StatusCode == 503 && (len(said) == 0 || said[len(said)-1] != string(b)) {
			said = append(said, string(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	catching := false
	for _, b := range said {
		var x, y uint64
		if _, err := fmt.Sscanf(b, "catching up with the store: applied seq %d of %d\n", &x, &y); err == nil {
			if x > applied || y != last {
				t.Fatalf("/readyz said %q; the store holds up to %d and the last record left is %d", b, last, applied)
			}
			catching = true
		}
	}
	// The store's Info names the last record that still exists, so the
	// target is usually reached at once; /readyz may never say "catching
	// up" (checked above when it does).
	_ = catching
	if _, err := a.Bootstrap(ctx, testutil.BootstrapToken); err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + testutil.BootstrapToken}
	if resp, b := do(t, "GET", srv.URL+"/v1/tasks/"+kept, bearer); resp.StatusCode != 200 {
		t.Fatalf("kept task: %d %s", resp.StatusCode, b)
	}
	if _, target, _ := a.CatchUp(); target > applied && !strings.Contains(logs.String(), "are gone (purged or lost)") {
		t.Fatalf("caught up to %d beyond the last record left (%d), and the missing records were not logged:\n%s", target, applied, logs)
	}
}
