package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// fanGate holds the server's fan-out while it is shut: records are still
// applied (and their writes answered), not handed to subscribers.
type fanGate struct {
	mu   sync.Mutex
	shut bool
	open chan struct{}
}

// holdFanOut shuts the fan-out for the records written from now on; the
// ones already applied (and answered) may still be on their way to the
// fan-out, and pass.
func holdFanOut(t *testing.T, s *testutil.Server) *fanGate {
	g := &fanGate{shut: true, open: make(chan struct{})}
	from := api.Applied(s.API)
	api.SetFanHook(s.API, func(seq uint64) {
		if seq <= from {
			return
		}
		g.mu.Lock()
		shut, open := g.shut, g.open
		g.mu.Unlock()
		if shut {
			<-open
		}
	})
	t.Cleanup(func() { g.release(); api.SetFanHook(s.API, nil) })
	return g
}

func (g *fanGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		g.shut = false
		close(g.open)
	}
}

// post sends body to path with token and returns the status and answer;
// it fails t on a transport error or when the answer takes over 5 s.
func post(t *testing.T, s *testutil.Server, token, path, body string) (int, []byte) {
	t.Helper()
	resp, b := doBody(t, "POST", s.URL+path, body, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode, b
}

func newTask(t *testing.T, s *testutil.Server, token string) string {
	t.Helper()
	st, b := post(t, s, token, "/v1/tasks", `{"total_progress":100}`)
	var r struct {
		TaskID string `json:"task_id"`
	}
	if st != http.StatusCreated || json.Unmarshal(b, &r) != nil || r.TaskID == "" {
		t.Fatalf("create task: %d %s", st, b)
	}
	return r.TaskID
}

// TestWriteAnsweredWhileFanOutHeld: a write is answered once its record is
// applied, not after the fan-out of the records before it (which, for a
// record going to thousands of subscribers, takes milliseconds: in line,
// every other tenant's writes waited for it). A feed opened meanwhile on a
// task that finished gets its whole history, the terminal event included,
// from the store; live subscribers get the held records once the fan-out
// goes on, in order, once each.
func TestWriteAnsweredWhileFanOutHeld(t *testing.T) {
	s := testutil.Start(t)
	svc := s.CreateKey(t, "service", "default", nil, "")
	running, finished := newTask(t, s, svc.Token), newTask(t, s, svc.Token)
	live := s.OpenFeed(t, "/events/background-task?taskId="+running, s.Token, nil)
	defer live.Close()
	// Where a client of the other task had got to (its state at creation).
	f := s.OpenFeed(t, "/events/background-task?taskId="+finished, s.Token, nil)
	first, err := f.Next()
	f.Close()
	if err != nil || first.ID == "" {
		t.Fatalf("first event of %s: %+v %v", finished, first, err)
	}

	g := holdFanOut(t, s)
	for i := 1; i <= 3; i++ {
		start := time.Now()
		if st, b := post(t, s, svc.Token, "/v1/tasks/"+running+"/progress", fmt.Sprintf(`{"current_progress":%d}`, i)); st != http.StatusOK {
			t.Fatalf("progress %d: %d %s", i, st, b)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("progress %d answered after %v with the fan-out held", i, d)
		}
	}
	if st, b := post(t, s, svc.Token, "/v1/tasks/"+finished+"/done", `{}`); st != http.StatusOK {
		t.Fatalf("done: %d %s", st, b)
	}

	// That client resumes: the rest of the task's history (from the store:
	// the hub has not had it yet), ended.
	f = s.OpenFeed(t, "/events/background-task?taskId="+finished, s.Token, map[string]string{"Last-Event-ID": first.ID})
	var names []string
	for {
		ev, err := f.Next()
		if err != nil {
			break
		}
		names = append(names, ev.Type)
	}
	f.Close()
	if len(names) < 2 || names[len(names)-2] != "task_done" || names[len(names)-1] != "server_close" {
		t.Fatalf("finished task's feed resumed with the fan-out held: %v, want … task_done server_close", names)
	}

	// The live feed gets the three reports once the fan-out goes on.
	g.release()
	for want := 0; want <= 3; want++ { // the task's state at the start, then each report
		ev, err := live.Next()
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Current int `json:"current_progress"`
		}
		if ev.Type != "task_updated" || json.Unmarshal([]byte(ev.Data), &d) != nil || d.Current != want {
			t.Fatalf("live event %d: %s %s", want, ev.Type, ev.Data)
		}
	}
}

// TestWriteWindowPerKey: a key may run WriteWindow writes ahead of the
// fan-out; the next one is answered only once the fan-out catches up,
// while another key's writes go on being answered at once.
func TestWriteWindowPerKey(t *testing.T) {
	s := testutil.Start(t)
	busy, quiet := s.CreateKey(t, "service", "default", nil, ""), s.CreateKey(t, "service", "default", nil, "")
	task, other := newTask(t, s, busy.Token), newTask(t, s, quiet.Token)
	before := scrapeMetrics(t, s)
	g := holdFanOut(t, s)
	progress := func(token, id string, n int) int {
		st, b := post(t, s, token, "/v1/tasks/"+id+"/progress", fmt.Sprintf(`{"current_progress":%d}`, n))
		if st != http.StatusOK {
			t.Errorf("progress %d: %d %s", n, st, b)
		}
		return st
	}
	// WriteWindow writes held in the fan-out are answered; the next one
	// waits for the first of them.
	for n := 1; n <= api.WriteWindow; n++ {
		progress(busy.Token, task, n)
	}
	answered := make(chan time.Time, 1)
	go func() { progress(busy.Token, task, api.WriteWindow+1); answered <- time.Now() }()
	select {
	case <-answered:
		t.Fatalf("write %d of one key answered with the fan-out of its first held", api.WriteWindow+1)
	case <-time.After(500 * time.Millisecond):
	}
	start := time.Now()
	progress(quiet.Token, other, 1)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("another key's write waited %v", d)
	}
	released := time.Now()
	g.release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case at := <-answered:
		if at.Before(released) {
			t.Fatal("answered before the fan-out went on")
		}
		t.Logf("answered %v after the fan-out went on", at.Sub(released))
	case <-ctx.Done():
		t.Fatal("the held write was not answered after the fan-out went on")
	}
	// /metrics counts every one of those writes, and the one held back
	// (over 0.5 s) in herald_write_held_seconds above 0.4096 s.
	after := scrapeMetrics(t, s)
	delta := func(name string) float64 { return after[name] - before[name] }
	writes := float64(api.WriteWindow + 2)
	if d := delta("herald_write_seconds_count"); d != writes {
		t.Errorf("herald_write_seconds_count went up by %v, want %v", d, writes)
	}
	if d := delta("herald_write_held_seconds_count"); d != writes {
		t.Errorf("herald_write_held_seconds_count went up by %v, want %v", d, writes)
	}
	if over := delta("herald_write_held_seconds_count") - delta(`herald_write_held_seconds_bucket{le="0.4096"}`); over != 1 {
		t.Errorf("%v writes held over 0.4096 s, want 1", over)
	}
}
