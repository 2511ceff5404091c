package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeDefaults runs `herald serve` as the README does (embedded
// defaults, in a fresh directory; only the port is picked free): it
// answers /healthz, prints a working bootstrap token and saves it with mode
// 0600; after a restart every key, task and event is still there.
func TestServeDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	dir := t.TempDir()
	p := startServeIn(t, dir)
	if resp, err := http.Get(p.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", err, resp)
	}
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m = regexp.MustCompile(`(?m)^\s+(hrld_[A-Za-z0-9_-]+)$`).FindStringSubmatch(p.Logs())
	}
	if m == nil {
		t.Fatalf("no token printed:\n%s", p.Logs())
	}
	token := m[1]
	file := filepath.Join(dir, "herald-data", "bootstrap-token")
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", err, st)
	}
	if b, _ := os.ReadFile(file); strings.TrimSpace(string(b)) != token {
		t.Fatal("the saved token differs from the printed one")
	}
	ctx := context.Background()
	var key struct {
		AccessKey string `json:"accessKey"`
		Token     string `json:"token"`
	}
	if code, err := call(ctx, "POST", p.url+"/v1/admin/keys", token, map[string]string{"role": "service"}, &key); err != nil || code != 201 {
		t.Fatalf("create key with the printed token: %d %v", code, err)
	}
	var task struct {
		ID string `json:"task_id"`
	}
	if code, err := call(ctx, "POST", p.url+"/v1/tasks", key.Token, map[string]any{"total_progress": 5}, &task); err != nil || code != 201 {
		t.Fatalf("create task: %d %v", code, err)
	}
	for _, v := range []int{1, 2, 3} {
		if code, err := call(ctx, "POST", p.url+"/v1/tasks/"+task.ID+"/progress", key.Token, map[string]any{"current_progress": v}, nil); err != nil || code != 200 {
			t.Fatalf("progress: %d %v", code, err)
		}
	}
	// A graceful stop (SIGTERM) exits 0; a restart keeps everything.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("no exit 15s after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	p2 := startServeIn(t, dir)
	if strings.Contains(p2.Logs(), "hrld_") {
		t.Fatal("a restart printed a token again")
	}
	var state struct {
		Current int `json:"current_progress"`
	}
	if code, err := call(ctx, "GET", p2.url+"/v1/tasks/"+task.ID, key.Token, nil, &state); err != nil || code != 200 || state.Current != 3 {
		t.Fatalf("task after restart: %d %v %+v", code, err, state)
	}
	if code, _ := call(ctx, "GET", p2.url+"/v1/admin/domains", token, nil, nil); code != 200 {
		t.Fatalf("bootstrap token after restart: %d", code)
	}
	seen := readProgress2(t, p2.url, task.ID, key.Token, 3)
	for v := 0; v <= 3; v++ {
		if seen[int64(v)] != 1 {
			t.Fatalf("event with progress %d seen %d times after restart", v, seen[int64(v)])
		}
	}
}
