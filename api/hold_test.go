package api_test

import (
	"strconv"
	"testing"

	"github.com/herald-sse/herald/internal/testutil"
)

// TestWritesHoldBulkFanOut: a write steps the stream writers' bulk fan-out
// aside (herald_writer_holds_total counts it) unless its domain is the one
// fanning out to thousands: there 513 streams follow one task (over the
// hub's 512, so its events go to the bulk lane), and that domain's
// further writes hold nothing, while another domain's writes each hold.
func TestWritesHoldBulkFanOut(t *testing.T) {
	s := testutil.Start(t)
	s.CreateDomain(t, "busy")
	busy := s.CreateKey(t, "service", "busy", nil, "")
	quiet := s.CreateKey(t, "service", "default", nil, "")
	busyTask, quietTask := newTask(t, s, busy.Token), newTask(t, s, quiet.Token)

	const streams = 513
	feeds := make([]*testutil.Feed, streams)
	for i := range feeds {
		feeds[i] = s.OpenFeed(t, "/events/background-task?taskId="+busyTask, s.Token, nil)
		defer feeds[i].Close()
		if _, err := feeds[i].Next(); err != nil { // the task's state at the start
			t.Fatal(err)
		}
	}
	progress := func(token, task string, n int) {
		t.Helper()
		if st, b := post(t, s, token, "/v1/tasks/"+task+"/progress", `{"current_progress":`+strconv.Itoa(n)+`}`); st != 200 {
			t.Fatalf("progress %d: %d %s", n, st, b)
		}
	}
	// The first event to the 513 marks the domain as fanning out once it
	// is dispatched: every stream has it then.
	progress(busy.Token, busyTask, 1)
	for _, f := range feeds {
		if _, err := f.Next(); err != nil {
			t.Fatal(err)
		}
	}

	before := scrapeMetrics(t, s)
	for i := 2; i <= 4; i++ {
		progress(busy.Token, busyTask, i)
	}
	mid := scrapeMetrics(t, s)
	for i := 1; i <= 3; i++ {
		progress(quiet.Token, quietTask, i)
	}
	after := scrapeMetrics(t, s)
	const m = "herald_writer_holds_total"
	if _, ok := before[m]; !ok {
		t.Fatalf("no %s in /metrics", m)
	}
	if d := mid[m] - before[m]; d != 0 {
		t.Errorf("the fanning domain's 3 writes held the writers %v times, want 0", d)
	}
	if d := after[m] - mid[m]; d != 3 {
		t.Errorf("another domain's 3 writes held the writers %v times, want 3", d)
	}
	if _, ok := after["herald_writer_held_seconds_total"]; !ok {
		t.Errorf("no herald_writer_held_seconds_total in /metrics")
	}
}
