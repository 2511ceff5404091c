package api_test

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-sse/herald/internal/testutil"
)

// scrapeMetrics reads s's /metrics: each sample's value by its name with
// its labels as printed (e.g. `herald_write_held_seconds_bucket{le="0.4096"}`).
func scrapeMetrics(t *testing.T, s *testutil.Server) map[string]float64 {
	t.Helper()
	resp := s.Get(t, context.Background(), "/metrics", "", nil)
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if f, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriterTurnMetrics: /metrics counts the stream writers' turns, and
// those taken below the server's priority: none for a fan-out to one
// stream (prompt work is never lowered).
func TestWriterTurnMetrics(t *testing.T) {
	s := testutil.Start(t)
	svc := s.CreateKey(t, "service", "default", nil, "")
	task := newTask(t, s, svc.Token)
	f := s.OpenFeed(t, "/events/background-task?taskId="+task, s.Token, nil)
	defer f.Close()
	if _, err := f.Next(); err != nil { // the task's state at the start
		t.Fatal(err)
	}
	before := scrapeMetrics(t, s)
	for i := 1; i <= 3; i++ {
		if st, b := post(t, s, svc.Token, "/v1/tasks/"+task+"/progress", `{"current_progress":`+strconv.Itoa(i)+`}`); st != 200 {
			t.Fatalf("progress %d: %d %s", i, st, b)
		}
		if _, err := f.Next(); err != nil {
			t.Fatal(err)
		}
	}
	after := scrapeMetrics(t, s)
	if d := after["herald_writer_turns_total"] - before["herald_writer_turns_total"]; d < 3 {
		t.Errorf("herald_writer_turns_total went up by %v for 3 events to a stream, want at least 3", d)
	}
	lowered, ok := after["herald_writer_turns_lowered_total"]
	if !ok || lowered != 0 {
		t.Errorf("herald_writer_turns_lowered_total = %v (present %v), want 0", lowered, ok)
	}
}
