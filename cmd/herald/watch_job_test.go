package main

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
)

func TestJobViewFollowsEventsAndRedrawsInPlace(t *testing.T) {
	v := newJobView("0123456789abcdef0123456789abcdef")
	var out strings.Builder
	for _, e := range []client.Event{
		{Type: "start", Data: `{"command":"uptime"}`},
		{Type: "quorum_vote", Data: `{"node":"b","status":"success"}`},
		{Type: "quorum_vote", Data: `{"node":"a","status":"success"}`},
		{Type: "quorum_succeeded", Data: `{}`},
		{Type: "run_start", Data: `{"node":"a"}`},
		{Type: "run_complete", Data: `{"node":"a","status":"success"}`},
		{Type: "run_start", Data: `{"node":"b"}`},
	} {
		v.apply(e)
		v.draw(&out)
	}
	s := out.String()
	// Each redraw moves the cursor back over the previous block.
	if !strings.Contains(s, "\x1b[3A") || !strings.Contains(s, "\x1b[2K  a                        succeeded\n") {
		t.Fatalf("redraw output:\n%q", s)
	}
	if v.ok() {
		t.Fatal("a running job is not ok")
	}
	v.apply(client.Event{Type: "run_complete", Data: `{"node":"b","status":"success"}`})
	v.apply(client.Event{Type: "job_complete", Data: `{"status":"complete"}`})
	if !v.ok() {
		t.Fatalf("complete with all nodes succeeded: %+v", v)
	}
	// A summary (job already finished) gives the same verdict.
	w := newJobView("x")
	w.apply(client.Event{Type: "summary", Data: `{"status":"complete","command":"uptime","nodes":{"succeeded":["a"],"failed":["b"]}}`})
	if w.ok() || w.nodes["b"] != "failed" {
		t.Fatalf("summary with a failed node: %+v", w)
	}
}

// TestJobLineShowsReason: a vote or run that failed for a reason the
// event data gives shows it on its line.
func TestJobLineShowsReason(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		e    client.Event
		want string
	}{
		{client.Event{Type: "quorum_vote", Data: `{"node":"web-1","status":"failure","reason":"user deploy does not exist"}`},
			"03:04:05 quorum_vote web-1 failure: user deploy does not exist"},
		{client.Event{Type: "run_complete", Data: `{"node":"web-2","status":"failure","reason":"exit status 2"}`},
			"03:04:05 run_complete web-2 failure: exit status 2"},
		{client.Event{Type: "run_complete", Data: `{"node":"web-2","status":"success"}`}, "03:04:05 run_complete web-2 success"},
		{client.Event{Type: "quorum_succeeded", Data: `{}`}, "03:04:05 quorum_succeeded"},
	} {
		if got := jobLine(at, tc.e); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	// In a terminal, the node's line shows it.
	v := newJobView("x")
	v.apply(client.Event{Type: "quorum_vote", Data: `{"node":"web-1","status":"failure","reason":"dir /srv does not exist"}`})
	var out strings.Builder
	v.draw(&out)
	if !strings.Contains(out.String(), "web-1                    nacked: dir /srv does not exist\n") {
		t.Fatalf("%q", out.String())
	}
}
