package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald/sse"
)

const testToken = "hrld_process-test-token-0123456789abcdefghijklmnopq"

// TestCrashKeepsAckedWrites kills the server with SIGKILL in the middle of
// a stream of acknowledged writes; after a restart every acknowledged event
// is in the store and none is there twice.
func TestCrashKeepsAckedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	dir := t.TempDir()
	p := startServe(t, "--data", dir, "--bootstrap-token", testToken)
	ctx := context.Background()
	const writers = 4
	ids := make([]string, writers)
	for i := range ids {
		var out struct {
			ID string `json:"task_id"`
		}
		if st, err := call(ctx, "POST", p.url+"/v1/tasks", testToken, map[string]any{}, &out); err != nil || st != 201 {
			t.Fatalf("create task: %d %v", st, err)
		}
		ids[i] = out.ID
	}
	acked := make([][]int64, writers) // progress values the server acknowledged
	var total atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for v := int64(1); ; v++ {
				st, err := call(ctx, "POST", p.url+"/v1/tasks/"+ids[w]+"/progress", testToken,
					map[string]any{"current_progress": v}, nil)
				if err != nil {
					return // the server is gone: this write's fate is unknown
				}
				if st != 200 {
					t.Errorf("progress %d: status %d", v, st)
					return
				}
				acked[w] = append(acked[w], v)
				total.Add(1)
			}
		}(w)
	}
	for total.Load() < 400 {
		time.Sleep(time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	<-p.done
	t.Logf("killed after %d acknowledged writes", total.Load())

	p2 := startServe(t, "--data", dir, "--bootstrap-token", testToken)
	for w := 0; w < writers; w++ {
		var state struct {
			Current int64 `json:"current_progress"`
		}
		if st, err := call(ctx, "GET", p2.url+"/v1/tasks/"+ids[w], testToken, nil, &state); err != nil || st != 200 {
			t.Fatalf("get task: %d %v", st, err)
		}
		seen := readProgress(t, p2.url, ids[w], state.Current)
		for _, v := range acked[w] {
			switch seen[v] {
			case 1:
			case 0:
				t.Fatalf("writer %d: acknowledged progress %d is lost", w, v)
			default:
				t.Fatalf("writer %d: progress %d stored %d times", w, v, seen[v])
			}
		}
		for v, n := range seen {
			if n > 1 {
				t.Fatalf("writer %d: progress %d stored %d times", w, v, n)
			}
		}
	}
}

// readProgress reads a running task's feed from the start up to the
// event with progress last and counts each progress value.
func readProgress(t *testing.T, url, id string, last int64) map[int64]int {
	t.Helper()
	return readProgress2(t, url, id, testToken, last)
}

// readProgress2 is readProgress with a token.
func readProgress2(t *testing.T, url, id, token string, last int64) map[int64]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events/background-task?taskId="+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feed: %v %v", err, resp)
	}
	defer resp.Body.Close()
	r := sse.NewReader(resp.Body)
	seen := map[int64]int{}
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatalf("feed: %v", err)
		}
		var d struct {
			Current int64 `json:"current_progress"`
		}
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
			t.Fatal(fmt.Errorf("data %q: %w", e.Data, err))
		}
		seen[d.Current]++
		if d.Current == last {
			return seen
		}
	}
}
