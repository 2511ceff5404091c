package clustertest

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

// timerFlags make the push-job timers short enough for a test.
var timerFlags = []string{"--voting-timeout", "2s", "--heartbeat-interval", "200ms"}

// pushNode starts a scripted push node that talks to servers (the first
// first, failing over to the next).
func pushNode(t *testing.T, ctx context.Context, name string, do testutil.Behavior, servers ...string) *testutil.PushyNode {
	t.Helper()
	r, err := call(ctx, "POST", servers[0]+"/v1/admin/keys", map[string]string{"role": "node", "domain": "default", "node": name})
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("node key %s: %d %s %v", name, r.status, r.body, err)
	}
	var k struct {
		Token string `json:"token"`
	}
	if err := r.decode(&k); err != nil {
		t.Fatal(err)
	}
	n := testutil.StartPushyNode(&testutil.PushyNode{Org: "default", Name: name, Token: k.Token, Servers: servers, Do: do})
	t.Cleanup(n.Stop)
	return n
}

func jobClient(url string) *client.Client {
	return &client.Client{Server: url, Token: testToken, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// waitJobStatus polls a job on url until it has status (bounded).
func waitJobStatus(t *testing.T, ctx context.Context, url, id, status string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := jobClient(url).GetJob(ctx, "default", id)
		if err == nil && s.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %q %v; want %q", id, s.Status, err, status)
		}
		time.Sleep(pollEvery)
	}
}

// waitAvailable waits until every named node is available on url.
func waitAvailable(t *testing.T, ctx context.Context, url string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		states, _ := jobClient(url).NodeStates(ctx, "default")
		n := 0
		for _, s := range states {
			for _, name := range names {
				if s.NodeName == name && s.Availability == "available" {
					n++
				}
			}
		}
		if n == len(names) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes %v not available: %+v", names, states)
		}
		time.Sleep(pollEvery)
	}
}

// epochOf reads the store's epoch from a task event's id.
func epochOf(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	id, err := createTask(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := openFeed(ctx, url+"/events/background-task?taskId="+id, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	e, err := f.next()
	if err != nil {
		t.Fatal(err)
	}
	return e.ID[:strings.LastIndexByte(e.ID, '-')]
}

// jobHistory reads a finished job's whole feed from url (resuming from the
// store's first record) to its end.
func jobHistory(t *testing.T, ctx context.Context, url, epoch, id string) []sse.Event {
	t.Helper()
	f, _, err := openFeed(ctx, url+"/organizations/default/pushy/job_status_feed/"+id, epoch+"-1")
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	var evs []sse.Event
	for {
		e, err := f.next()
		if err != nil {
			return evs
		}
		evs = append(evs, e)
	}
}

// checkJobOnce checks that a job's history as each url serves it is the
// same, with exactly one job_complete (last, with status), and returns it.
func checkJobOnce(t *testing.T, ctx context.Context, epoch, id, status string, urls ...string) []sse.Event {
	t.Helper()
	h := jobHistory(t, ctx, urls[0], epoch, id)
	for _, u := range urls[1:] {
		if o := jobHistory(t, ctx, u, epoch, id); !reflect.DeepEqual(h, o) {
			t.Fatalf("job %s: the nodes disagree:\n%v\n%v", id, h, o)
		}
	}
	if n := countEvents(h, "job_complete", ""); n != 1 || h[len(h)-1].Type != "job_complete" ||
		!strings.Contains(h[len(h)-1].Data, `"status":"`+status+`"`) {
		t.Fatalf("job %s: %d job_complete, want one with status %s, last: %v", id, n, status, h)
	}
	return h
}

func countEvents(evs []sse.Event, typ, contains string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ && strings.Contains(e.Data, contains) {
			n++
		}
	}
	return n
}

// TestPushTimersOnceAcrossNodes: push-job timers on a 2-node cluster at
// R3. With both herald nodes alive, both arm a job's voting timeout and
// it fires once (CAS on the job's subject); both see a push node's
// heartbeat expire and take it down once. Then jobs are started on A and
// A is killed while one is voting and another running: the voting timeout
// and the run timeout fire on B, each once, and each job has exactly one
// job_complete, the same on every node still serving.
func TestPushTimersOnceAcrossNodes(t *testing.T) {
	c := startCluster(t, clusterOpts{heraldArgs: timerFlags})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := c.nodes[0], c.nodes[1]
	// The push nodes talk to B (A dies) and fall back to A.
	pushNode(t, ctx, "n1", testutil.Obedient, b.url, a.url)
	pushNode(t, ctx, "mute", testutil.Behavior{}, b.url, a.url)
	pushNode(t, ctx, "slow", testutil.Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"ack_run"}}, b.url, a.url)
	dies := pushNode(t, ctx, "dies", testutil.Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"ack_run"}}, a.url, b.url)
	waitAvailable(t, ctx, a.url, "n1", "mute", "slow", "dies")
	epoch := epochOf(t, ctx, a.url)
	ca := jobClient(a.url)

	// Both alive: the voting timeout is armed on both and fires once.
	both, err := ca.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1", "mute"}, Quorum: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitJobStatus(t, ctx, b.url, both, "complete")
	if evs := checkJobOnce(t, ctx, epoch, both, "complete", a.url, b.url); countEvents(evs, "quorum_vote", `"voting_timeout"`) != 1 {
		t.Fatalf("voting timeout with both nodes alive: %v", evs)
	}

	// Both alive: a push node stops heartbeating while it runs a job; both
	// herald nodes see its heartbeat expire, and it is taken down once.
	lost, err := ca.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"dies"}, RunTimeout: 60}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitJobStatus(t, ctx, b.url, lost, "running")
	dies.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := jobClient(b.url).GetJob(ctx, "default", lost)
		if err == nil && s.Status != "running" && s.Status != "voting" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %q after its node stopped heartbeating", lost, s.Status)
		}
		time.Sleep(pollEvery)
	}
	s, _ := jobClient(b.url).GetJob(ctx, "default", lost)
	evs := checkJobOnce(t, ctx, epoch, lost, s.Status, a.url, b.url)
	if countEvents(evs, "run_complete", `"dies"`) != 1 {
		t.Fatalf("heartbeat expiry with both nodes alive: %v", evs)
	}
	t.Logf("heartbeat expiry: job %s, %s", s.Status, evs[len(evs)-2].Data)

	// A dies mid-vote and mid-run.
	vote, err := ca.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1", "mute"}, Quorum: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	run, err := ca.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"slow"}, RunTimeout: 3}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitJobStatus(t, ctx, a.url, run, "running")
	if s, err := ca.GetJob(ctx, "default", vote); err != nil || s.Status != "voting" {
		t.Fatalf("before the kill: %+v %v", s, err)
	}
	a.kill()
	killed := time.Now()
	waitJobStatus(t, ctx, b.url, vote, "complete")
	waitJobStatus(t, ctx, b.url, run, "timed_out")
	t.Logf("A killed mid-vote and mid-run: both timeouts fired on B within %s", time.Since(killed).Round(time.Millisecond))
	if evs := checkJobOnce(t, ctx, epoch, vote, "complete", b.url); countEvents(evs, "quorum_vote", `"voting_timeout"`) != 1 {
		t.Fatalf("voting timeout after A died: %v", evs)
	}
	if evs := checkJobOnce(t, ctx, epoch, run, "timed_out", b.url); countEvents(evs, "rehab", `"slow"`) != 1 {
		t.Fatalf("run timeout after A died: %v", evs)
	}
	if strings.Contains(b.output(), `"level":"ERROR"`) {
		t.Fatalf("B logged errors:\n%s", b.output())
	}
}
