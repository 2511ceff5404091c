package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

// The four sequences of issue 4, end to end over HTTP: scripted nodes
// (real HTTP clients of the node protocol: heartbeat, command feed,
// messages) drive real jobs; the job feed, the organization feed and the
// REST answers are checked.

// pjCheckSequence checks a finished job's events: the start first, the
// job_complete last, want (by description, any order in between) exactly.
func pjCheckSequence(t *testing.T, evs []sse.Event, want map[string]int, complete string) {
	t.Helper()
	pjCheckJobEvents(t, evs)
	if len(evs) < 2 || evs[0].Type != "start" || pjDescribe(evs[len(evs)-1]) != "job_complete "+complete {
		t.Fatalf("events: %s", pjNames(evs))
	}
	want["start"], want["job_complete "+complete] = 1, 1
	if got := pjCount(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %s\n got %v\nwant %v", pjNames(evs), got, want)
	}
}

// index returns the position of the first event described as d.
func index(evs []sse.Event, d string) int {
	return slices.IndexFunc(evs, func(e sse.Event) bool { return pjDescribe(e) == d })
}

// TestPushyAllSucceed: every node acks and succeeds → start, quorum_vote×n,
// quorum_succeeded, run_start×n, run_complete×n, job_complete complete. The
// organization feed (open before, no id: live only) gets start and
// job_complete with "job"; resuming in the middle (also inside one
// transition's group of events) gives exactly the rest; a subscriber after
// the end gets summary (no id) and the end (the server does not linger,
// see TestJobFeedLinger); capture_output is served.
func TestPushyAllSucceed(t *testing.T) {
	s := pjServer(t, noLinger)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	names := []string{"n1", "n2", "n3"}
	nodes := pjNodes(t, s, "default", testutil.Obedient, names...)
	for _, n := range nodes {
		n.Output = "hello from " + n.Name
	}
	pjWaitAvailable(t, c, "default", names...)
	org := s.OpenFeed(t, orgFeedPath("default"), svc.Token, nil)

	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "chef-client", Nodes: names, RunTimeout: 60, CaptureOutput: true, Env: map[string]string{"A": "1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Accept": "text/event-stream"})
	evs, err := pjReadAll(t, f, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pjCheckSequence(t, evs, map[string]int{"quorum_vote n1 success": 1, "quorum_vote n2 success": 1, "quorum_vote n3 success": 1,
		"quorum_succeeded": 1, "run_start n1": 1, "run_start n2": 1, "run_start n3": 1,
		"run_complete n1 success": 1, "run_complete n2 success": 1, "run_complete n3 success": 1}, "complete")
	qs := index(evs, "quorum_succeeded")
	for _, n := range names {
		if v, rs, rc := index(evs, "quorum_vote "+n+" success"), index(evs, "run_start "+n), index(evs, "run_complete "+n+" success"); !(v < qs && qs < rs && rs < rc) {
			t.Fatalf("order of %s: %s", n, pjNames(evs))
		}
	}
	var start map[string]any
	_ = json.Unmarshal([]byte(evs[0].Data), &start)
	if start["command"] != "chef-client" || start["run_timeout"] != 60.0 || start["quorum"] != 3.0 || start["node_count"] != 3.0 ||
		start["user"] != svc.AccessKey || start["capture"] != true || !reflect.DeepEqual(start["env"], map[string]any{"A": "1"}) {
		t.Fatalf("start data %s", evs[0].Data)
	}

	// The organization feed: start and job_complete of this job, with job.
	oevs := pjReadN(t, org, 2, 5*time.Second)
	if oevs[0].Type != "start" || oevs[0].ID != evs[0].ID || oevs[1].Type != "job_complete" || oevs[1].ID != evs[len(evs)-1].ID {
		t.Fatalf("org feed: %s / %s %s", pjNames(oevs), oevs[0].ID, oevs[1].ID)
	}
	for _, e := range oevs {
		if !strings.HasPrefix(e.Data, `{"timestamp":"`) || !strings.Contains(e.Data, `Z","job":"`+id+`",`) {
			t.Fatalf("org event data %s", e.Data)
		}
	}

	// Resume after each event, including the one right before
	// quorum_succeeded (same transition as the last vote): exactly the rest.
	for _, k := range []int{0, qs - 1, qs, len(evs) - 2} {
		rf := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": evs[k].ID})
		rest, err := pjReadAll(t, rf, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if pjNames(rest) != pjNames(evs[k+1:]) || rest[0].ID != evs[k+1].ID {
			t.Fatalf("resume after %d (%s): got %s, want %s", k, evs[k].ID, pjNames(rest), pjNames(evs[k+1:]))
		}
	}
	// After the last event: nothing left, 204 (SPEC §5.3).
	want204(t, s, jobFeedPath("default", id)+"?lastEventId="+evs[len(evs)-1].ID, svc.Token, nil)

	// A subscriber after the end, without id (or with an unknown one):
	// summary without id, then the end.
	for _, h := range []map[string]string{nil, {"Last-Event-ID": "nonsense"}} {
		sf := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, h)
		sum, err := pjReadAll(t, sf, 5*time.Second)
		if err != nil || len(sum) != 1 || sum[0].Type != "summary" || sum[0].ID != "" {
			t.Fatalf("late subscriber: %v %+v", err, sum)
		}
		var d map[string]any
		_ = json.Unmarshal([]byte(sum[0].Data), &d)
		if !strings.HasPrefix(sum[0].Data, `{"timestamp":"`) || d["id"] != id || d["status"] != "complete" ||
			!reflect.DeepEqual(d["nodes"], map[string]any{"succeeded": []any{"n1", "n2", "n3"}}) || d["capture_output"] != true {
			t.Fatalf("summary %s", sum[0].Data)
		}
	}

	// REST: the summary, and the captured output.
	sum, err := c.GetJob(ctx, "default", id)
	if err != nil || sum.Status != "complete" || sum.Quorum != 3 || sum.RequestedBy != svc.AccessKey ||
		!reflect.DeepEqual(sum.Nodes, map[string][]string{"succeeded": {"n1", "n2", "n3"}}) {
		t.Fatalf("summary %+v %v", sum, err)
	}
	if _, err := time.Parse(http.TimeFormat, sum.CreatedAt); err != nil {
		t.Fatalf("created_at %q: %v", sum.CreatedAt, err)
	}
	resp := s.Get(t, ctx, "/organizations/default/pushy/jobs/"+id+"/output/n2/stdout", svc.Token, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from n2" {
		t.Fatalf("output: %d %q", resp.StatusCode, body)
	}
	resp = s.Get(t, ctx, "/organizations/default/pushy/jobs/"+id+"/output/n2/stderr", svc.Token, nil)
	if p := testutil.Problem(t, resp); resp.StatusCode != 404 {
		t.Fatalf("stderr never reported: %d %+v", resp.StatusCode, p)
	}
	// The nodes are available again.
	pjWaitAvailable(t, c, "default", names...)
}

// TestPushyQuorumFailedOffline: with quorum = all, a node that does not
// exist and one that never heartbeated vote down at once → start,
// quorum_vote down ×2, job_complete quorum_failed in one transition. With
// one live node among them, it votes, is sent to rehab (abort on its
// command feed, answered aborted) and the quorum fails.
func TestPushyQuorumFailedOffline(t *testing.T) {
	s := pjServer(t, noLinger)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	s.CreateKey(t, "node", "default", nil, "offline1")
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"ghost", "offline1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, nil)
	evs, err := pjReadAll(t, f, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Type != "summary" {
		t.Fatalf("finished before the feed opened: want summary, got %s", pjNames(evs))
	}
	// The store has the transition: resume from before the job.
	f = s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": pjIDBefore(t, s)})
	if evs, err = pjReadAll(t, f, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := pjNames(evs); got != "start, quorum_vote ghost down, quorum_vote offline1 down, job_complete quorum_failed" {
		t.Fatalf("events: %s", got)
	}
	pjCheckJobEvents(t, evs)

	nodes := pjNodes(t, s, "default", testutil.Obedient, "n1")
	pjWaitAvailable(t, c, "default", "n1")
	id, err = c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1", "ghost"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	// From the job's start whether or not it already ended: an id from
	// before it.
	f = s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": pjIDBefore(t, s)})
	if evs, err = pjReadAll(t, f, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := pjNames(evs); got != "start, quorum_vote ghost down, quorum_vote n1 success, rehab n1, job_complete quorum_failed" {
		t.Fatalf("events: %s", got)
	}
	pjCheckJobEvents(t, evs)
	sum := pjWaitStatus(t, c, "default", id, "quorum_failed")
	if !reflect.DeepEqual(sum.Nodes, map[string][]string{"unavailable": {"ghost"}, "was_ready": {"n1"}}) {
		t.Fatalf("nodes %+v", sum.Nodes)
	}
	pjWaitAvailable(t, c, "default", "n1") // it answered the rehab abort
	var cmds []string
	for _, e := range nodes[0].Received() {
		cmds = append(cmds, e.Type)
	}
	if strings.Join(cmds, " ") != "commit abort" {
		t.Fatalf("n1 received %v", cmds)
	}
}

// pjIDBefore returns an id of this store that precedes everything written
// from now on.
func pjIDBefore(t *testing.T, s *testutil.Server) string {
	t.Helper()
	return s.Store.Epoch() + "-1"
}
