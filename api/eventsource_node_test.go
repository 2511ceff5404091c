package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// eventSourcePackage is the npm package (and major version) the browser
// EventSource test runs: the WHATWG EventSource for Node.
const eventSourcePackage = "eventsource@3"

// esScript opens an EventSource (bearer token through its fetch option),
// records what it sees for waitMs, then prints it as JSON.
const esScript = `
const { EventSource } = require('eventsource');
const [url, token, waitMs] = process.argv.slice(2);
const es = new EventSource(url, {
  fetch: (u, init) => fetch(u, { ...init, headers: { ...init.headers, Authorization: 'Bearer ' + token } }),
});
const seen = [];
for (const n of ['task_updated', 'task_done', 'task_failed', 'task_cancelled', 'server_close']) {
  es.addEventListener(n, () => seen.push(n));
}
es.onerror = () => seen.push('error:' + es.readyState);
setTimeout(() => { console.log(JSON.stringify({ seen, readyState: es.readyState })); es.close(); }, +waitMs);
`

// needNode returns the npm package directory holding eventsource, or
// skips the test (fails it under CI=true) when node or npm is missing or
// the package cannot be installed.
func needNode(t *testing.T) string {
	t.Helper()
	miss := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (skipped outside CI)", args...)
	}
	for _, prog := range []string{"node", "npm"} {
		if _, err := exec.LookPath(prog); err != nil {
			miss("%s is not installed: %v", prog, err)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", dir, eventSourcePackage)
	cmd.Env = append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm"))
	if out, err := cmd.CombinedOutput(); err != nil {
		miss("npm install %s: %v\n%s", eventSourcePackage, err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "es.js"), []byte(esScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEventSourceStopsAfterFinishedTask runs the npm eventsource package
// (the WHATWG EventSource) against a finished task, through a server that
// counts the feed's requests, with retry: 100 ms. It gets the terminal
// event and server_close, reconnects once with Last-Event-ID = the
// terminal event (error event, readyState CONNECTING), gets 204 and stops for good (readyState CLOSED): two
// requests in 2 s. Without the 204 it reconnects every 100 ms.
func TestEventSourceStopsAfterFinishedTask(t *testing.T) {
	dir := needNode(t)
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.SSERetry = 100 * time.Millisecond }))
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	id, err := c.CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FinishTask(ctx, id, "done", nil); err != nil {
		t.Fatal(err)
	}
	var feedRequests atomic.Int64
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events/background-task" {
			feedRequests.Add(1)
		}
		s.API.ServeHTTP(w, r)
	}))
	defer counting.Close()

	const wait = 2 * time.Second
	runCtx, cancel := context.WithTimeout(ctx, wait+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "node", filepath.Join(dir, "es.js"), counting.URL+feedPath(id), svc.Token, "2000")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Seen       []string `json:"seen"`
		ReadyState int      `json:"readyState"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	t.Logf("EventSource saw %v, readyState %d, %d feed requests", got.Seen, got.ReadyState, feedRequests.Load())
	if n := feedRequests.Load(); n != 2 {
		t.Errorf("%d feed requests in %v, want 2 (the stream, then one reconnect answered 204)", n, wait)
	}
	if got.ReadyState != 2 { // CLOSED
		t.Errorf("readyState %d, want 2 (CLOSED: it stopped reconnecting)", got.ReadyState)
	}
	if want := "task_done server_close error:0 error:2"; strings.Join(got.Seen, " ") != want {
		t.Errorf("EventSource saw %v, want %s", got.Seen, want)
	}
}
