package main

import (
	"strings"
	"testing"

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
