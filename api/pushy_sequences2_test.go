package api_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestPushyNackRun: a node that nacks the run after the quorum is sent to
// rehab (rehab right before its run_complete run_nacked; abort on its
// command feed, answered aborted); the others run; the job is complete.
func TestPushyNackRun(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	nacker := pjNodes(t, s, "default", testutil.Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"nack_run"}}, "n1")[0]
	// n2 answers its run after a pause, so the job is still running when
	// the feed opens (a finished job's feed is a summary).
	slow := testutil.Obedient
	slow.RunDelay = 500 * time.Millisecond
	pjNodes(t, s, "default", slow, "n2")
	pjWaitAvailable(t, c, "default", "n1", "n2")
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1", "n2"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, nil)
	evs, err := pjReadAll(t, f, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pjCheckSequence(t, evs, map[string]int{"quorum_vote n1 success": 1, "quorum_vote n2 success": 1, "quorum_succeeded": 1,
		"rehab n1": 1, "run_complete n1 run_nacked": 1, "run_start n2": 1, "run_complete n2 success": 1}, "complete")
	if r := index(evs, "rehab n1"); index(evs, "run_complete n1 run_nacked") != r+1 || r < index(evs, "quorum_succeeded") {
		t.Fatalf("rehab must come right before run_nacked, after the quorum: %s", pjNames(evs))
	}
	sum := pjWaitStatus(t, c, "default", id, "complete")
	if !reflect.DeepEqual(sum.Nodes, map[string][]string{"failed": {"n1"}, "succeeded": {"n2"}}) {
		t.Fatalf("nodes %+v", sum.Nodes)
	}
	pjWaitAvailable(t, c, "default", "n1", "n2") // n1 answered the rehab abort
	var cmds []string
	for _, e := range nacker.Received() {
		cmds = append(cmds, e.Type)
	}
	if strings.Join(cmds, " ") != "commit run abort" {
		t.Fatalf("n1 received %v", cmds)
	}
}

// TestPushyRunTimeout: nodes that start but never finish are timed out
// after run_timeout → rehab for each, job_complete timed_out. A subscriber
// cut in the middle of the live job resumes with its last id and gets
// exactly the rest, then the end.
func TestPushyRunTimeout(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	pjNodes(t, s, "default", testutil.Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"ack_run"}}, "n1", "n2")
	pjWaitAvailable(t, c, "default", "n1", "n2")
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "sleep", Nodes: []string{"n1", "n2"}, RunTimeout: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, nil)
	head := pjReadN(t, f, 6, 5*time.Second) // start, 2 votes, quorum_succeeded, 2 run_start
	f.Close()
	if head[0].Type != "start" || head[3].Type != "quorum_succeeded" || head[5].Type != "run_start" {
		t.Fatalf("head: %s", pjNames(head))
	}
	if sum, _ := c.GetJob(ctx, "default", id); sum.Status != "running" {
		t.Fatalf("the job should still run: %+v", sum)
	}
	f = s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": head[5].ID})
	rest, err := pjReadAll(t, f, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := pjNames(rest); got != "rehab n1, rehab n2, job_complete timed_out" {
		t.Fatalf("rest: %s", got)
	}
	all := append(head, rest...)
	pjCheckSequence(t, all, map[string]int{"quorum_vote n1 success": 1, "quorum_vote n2 success": 1, "quorum_succeeded": 1,
		"run_start n1": 1, "run_start n2": 1, "rehab n1": 1, "rehab n2": 1}, "timed_out")
	sum := pjWaitStatus(t, c, "default", id, "timed_out")
	if !reflect.DeepEqual(sum.Nodes, map[string][]string{"timed_out": {"n1", "n2"}}) {
		t.Fatalf("nodes %+v", sum.Nodes)
	}
	pjWaitAvailable(t, c, "default", "n1", "n2")
}

// TestPushyVotingTimeout: a node that never votes gets quorum_vote
// voting_timeout when the voting timer fires; with quorum 1 the others run.
func TestPushyVotingTimeout(t *testing.T) {
	s := pjServer(t, testutil.WithConfig(func(c *api.Config) { c.VotingTimeout = 500 * time.Millisecond }))
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	pjNodes(t, s, "default", testutil.Obedient, "n1")
	pjNodes(t, s, "default", testutil.Behavior{}, "mute")
	pjWaitAvailable(t, c, "default", "n1", "mute")
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1", "mute"}, Quorum: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	f := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, nil)
	evs, err := pjReadAll(t, f, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := pjNames(evs); got != "start, quorum_vote n1 success, quorum_vote mute voting_timeout, quorum_succeeded, run_start n1, run_complete n1 success, job_complete complete" {
		t.Fatalf("events: %s", got)
	}
	pjCheckJobEvents(t, evs)
}

// TestPushyAbort: POST …/abort ends a running job at once: the nodes are
// sent abort, job_complete aborted; a second abort is 409.
func TestPushyAbort(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	pjNodes(t, s, "default", testutil.Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"ack_run"}}, "n1")
	pjWaitAvailable(t, c, "default", "n1")
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	pjWaitStatus(t, c, "default", id, "running")
	f := s.OpenFeed(t, jobFeedPath("default", id), svc.Token, nil)
	pjReadN(t, f, 4, 5*time.Second)
	var sum client.JobSummary
	if err := c.Do(ctx, "POST", "/organizations/default/pushy/jobs/"+id+"/abort", nil, &sum, ""); err != nil || sum.Status != "aborted" {
		t.Fatalf("abort: %+v %v", sum, err)
	}
	rest, err := pjReadAll(t, f, 5*time.Second)
	if err != nil || pjNames(rest) != "job_complete aborted" {
		t.Fatalf("after abort: %s %v", pjNames(rest), err)
	}
	err = c.Do(ctx, "POST", "/organizations/default/pushy/jobs/"+id+"/abort", nil, nil, "")
	if ce, ok := err.(*client.Error); !ok || ce.Status != 409 {
		t.Fatalf("second abort: %v", err)
	}
	pjWaitAvailable(t, c, "default", "n1") // it answered the abort
}
