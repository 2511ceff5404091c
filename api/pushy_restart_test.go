package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestPushyTimersSurviveRestart: the voting and run deadlines live in the
// job snapshots, so a server restarted while a job votes or runs fires
// them afterwards; the nodes, reconnecting, are not taken down for the
// heartbeats they could not send meanwhile. Each job ends exactly once.
func TestPushyTimersSurviveRestart(t *testing.T) {
	s := pjServer(t, testutil.WithConfig(func(c *api.Config) { c.VotingTimeout = 1500 * time.Millisecond }))
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	pjNodes(t, s, "default", testutil.Obedient, "ok1")
	pjNodes(t, s, "default", testutil.Behavior{}, "mute")
	pjNodes(t, s, "default", testutil.Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"ack_run"}}, "slow")
	pjWaitAvailable(t, c, "default", "ok1", "mute", "slow")
	voting, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"ok1", "mute"}, Quorum: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	running, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"slow"}, RunTimeout: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	pjWaitStatus(t, c, "default", running, "running")
	if st, _ := c.GetJob(ctx, "default", voting); st.Status != "voting" {
		t.Fatalf("voting job: %+v", st)
	}
	s.Restart(t)
	pjWaitStatus(t, c, "default", voting, "complete")
	pjWaitStatus(t, c, "default", running, "timed_out")
	for id, want := range map[string]string{
		voting:  "start, quorum_vote ok1 success, quorum_vote mute voting_timeout, quorum_succeeded, run_start ok1, run_complete ok1 success, job_complete complete",
		running: "start, quorum_vote slow success, quorum_succeeded, run_start slow, rehab slow, job_complete timed_out",
	} {
		evs, err := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": pjIDBefore(t, s)}), 5*time.Second)
		if err != nil || pjNames(evs) != want {
			t.Fatalf("job %s: %s (%v)\nwant %s", id, pjNames(evs), err, want)
		}
		pjCheckJobEvents(t, evs)
	}
	pjWaitAvailable(t, c, "default", "ok1", "mute", "slow")
}
