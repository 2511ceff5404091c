package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/store"
)

// pjManual is a node driven by hand: each heartbeat and message is a call
// of the test.
type pjManual struct {
	t     *testing.T
	name  string
	token string
	c     *client.Client
	mu    sync.Mutex
	inc   string
	job   string
}

func pjManualNode(t *testing.T, s *testutil.Server, name string) *pjManual {
	k := s.CreateKey(t, "node", "default", nil, name)
	return &pjManual{t: t, name: name, token: k.Token, c: s.Client(k.Token), inc: "inc-1"}
}

func (m *pjManual) beat() {
	m.t.Helper()
	m.mu.Lock()
	inc, job := m.inc, m.job
	m.mu.Unlock()
	if _, err := m.c.Heartbeat(context.Background(), "default", m.name, inc, job); err != nil {
		m.t.Errorf("heartbeat: %v", err)
	}
}

// beating heartbeats every 50 ms until the test ends or stop is called.
func (m *pjManual) beating() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m.beat()
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	m.t.Cleanup(stop)
	return stop
}

func (m *pjManual) set(inc, job string) {
	m.mu.Lock()
	m.inc, m.job = inc, job
	m.mu.Unlock()
}

func (m *pjManual) send(typ, job string) client.NodeMessageAnswer {
	m.t.Helper()
	a, err := m.c.SendNodeMessage(context.Background(), "default", m.name, client.NodeMessage{Type: typ, JobID: job}, "")
	if err != nil {
		m.t.Fatalf("%s %s: %v", typ, job, err)
	}
	return a
}

func pjNodeState(t *testing.T, c *client.Client, name string) client.NodeState {
	t.Helper()
	var st client.NodeState
	if err := c.Do(context.Background(), "GET", "/organizations/default/pushy/node_states/"+name, nil, &st, ""); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPushyNodePresence: node_states lists every node key (offline until it
// heartbeats); a heartbeat answers the server's pace; a node engaged in a
// job is unavailable; a node that stops heartbeating is down after 3–4
// intervals — in a running job run_complete client_died_while_running, in
// a voting job client_died_while_voting — and offline.
func TestPushyNodePresence(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	run, vote := pjManualNode(t, s, "runner"), pjManualNode(t, s, "voter")
	states, err := c.NodeStates(ctx, "default")
	if err != nil || len(states) != 2 || states[0] != (client.NodeState{NodeName: "runner", Status: "offline", Availability: "unavailable"}) {
		t.Fatalf("node_states %+v %v", states, err)
	}
	if d, err := run.c.Heartbeat(ctx, "default", "runner", "i1", ""); err != nil || d != 100*time.Millisecond {
		t.Fatalf("heartbeat: %v %v", d, err)
	}
	stopRun, stopVote := run.beating(), vote.beating()
	pjWaitAvailable(t, c, "default", "runner", "voter")
	j1, _ := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"runner"}}, "")
	j2, _ := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"voter"}}, "")
	if st := pjNodeState(t, c, "voter"); st.Status != "online" || st.Availability != "unavailable" {
		t.Fatalf("engaged node: %+v", st)
	}
	run.send("ack_commit", j1)
	run.send("ack_run", j1)
	run.set("i1", j1)
	stopRun()
	stopVote()
	start := time.Now()
	pjWaitStatus(t, c, "default", j1, "complete")
	pjWaitStatus(t, c, "default", j2, "quorum_failed")
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("down after %v; want 3–4 intervals of 100ms", d)
	}
	for id, want := range map[string]string{j1: "run_complete runner client_died_while_running", j2: "quorum_vote voter client_died_while_voting"} {
		evs, err := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": pjIDBefore(t, s)}), 5*time.Second)
		if err != nil || !strings.Contains(pjNames(evs), want) {
			t.Fatalf("job %s: %s %v", id, pjNames(evs), err)
		}
	}
	if st := pjNodeState(t, c, "runner"); st.Status != "offline" {
		t.Fatalf("after missed heartbeats: %+v", st)
	}
	if e, _ := s.API.Views().Node("default", "runner"); e.State.Online {
		t.Fatalf("the store should say offline: %+v", e.State)
	}
}

// TestPushyNewIncarnation: a node that heartbeats with a new incarnation
// (it restarted) while running a job → run_complete crashed.
func TestPushyNewIncarnation(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	m := pjManualNode(t, s, "m")
	m.beating()
	pjWaitAvailable(t, c, "default", "m")
	id, _ := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"m"}}, "")
	m.send("ack_commit", id)
	m.send("ack_run", id)
	m.set("inc-2", "")
	pjWaitStatus(t, c, "default", id, "complete")
	evs, _ := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": pjIDBefore(t, s)}), 5*time.Second)
	if got := pjNames(evs); !strings.HasSuffix(got, "run_start m, run_complete m crashed, job_complete complete") {
		t.Fatalf("events: %s", got)
	}
	pjWaitAvailable(t, c, "default", "m") // the new incarnation is online and idle
}

// TestPushyHeartbeatMismatch: a node whose heartbeats disagree with the
// server twice in a row goes to rehab: reporting a job it is done with →
// abort owed (no event: the job is finished); reporting no job while the
// server has it running → rehab, run_complete crashed. It is unavailable
// until it answers aborted.
func TestPushyHeartbeatMismatch(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	m := pjManualNode(t, s, "m")
	m.beat()
	j1, _ := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"m"}}, "")
	for _, typ := range []string{"ack_commit", "ack_run", "succeeded"} {
		m.send(typ, j1)
	}
	m.set("inc-1", j1) // it claims it still runs j1
	m.beat()
	if st := pjNodeState(t, c, "m"); st.Availability != "available" {
		t.Fatalf("one mismatch is forgiven: %+v", st)
	}
	m.beat()
	if st := pjNodeState(t, c, "m"); st.Availability != "unavailable" {
		t.Fatalf("two mismatches: rehab: %+v", st)
	}
	owed := pjReadN(t, s.OpenFeed(t, "/organizations/default/pushy/nodes/m/commands", m.token, nil), 1, 5*time.Second)
	if owed[0].Type != "abort" || !strings.Contains(owed[0].Data, j1) || owed[0].ID == "" {
		t.Fatalf("owed: %+v", owed[0])
	}
	if a := m.send("aborted", j1); a.JobStatus != "complete" {
		t.Fatalf("aborted: %+v", a)
	}
	m.set("inc-1", "")
	m.beat()
	if st := pjNodeState(t, c, "m"); st.Availability != "available" {
		t.Fatalf("after aborted: %+v", st)
	}

	j2, _ := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"m"}}, "")
	m.send("ack_commit", j2)
	m.send("ack_run", j2)
	m.beat() // no job reported: mismatch once
	m.beat() // twice: rehab
	sum := pjWaitStatus(t, c, "default", j2, "complete")
	if sum.Nodes["crashed"] == nil {
		t.Fatalf("nodes %+v", sum.Nodes)
	}
	evs, _ := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", j2), svc.Token, map[string]string{"Last-Event-ID": pjIDBefore(t, s)}), 5*time.Second)
	if got := pjNames(evs); !strings.HasSuffix(got, "run_start m, rehab m, run_complete m crashed, job_complete complete") {
		t.Fatalf("events: %s", got)
	}
}

// TestPushyCommandFeed: without Last-Event-ID the feed first sends what the
// node owes (with the id of the record that sent it), then live commands;
// with a recognized id it replays the node's commands after it. Commit
// carries the job as submitted.
func TestPushyCommandFeed(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	m := pjManualNode(t, s, "m")
	m.beating()
	pjWaitAvailable(t, c, "default", "m")
	id, _ := c.StartJob(ctx, "default", client.JobSpec{Command: "chef-client", Nodes: []string{"m"}, RunTimeout: 99,
		User: "deploy", Env: map[string]string{"A": "1"}, File: "raw:hi", CaptureOutput: true}, "")
	const path = "/organizations/default/pushy/nodes/m/commands"
	f := s.OpenFeed(t, path, m.token, nil)
	commit := pjReadN(t, f, 1, 5*time.Second)[0]
	var d map[string]any
	_ = json.Unmarshal([]byte(commit.Data), &d)
	want := `{"capture_output":true,"command":"chef-client","env":{"A":"1"},"file":"raw:hi","job_id":"` + id + `","run_timeout":99,"user":"deploy"}`
	if commit.Type != "commit" || commit.ID == "" || mustJSON(d) != want {
		t.Fatalf("commit: %+v", commit)
	}
	m.send("ack_commit", id)
	run := pjReadN(t, f, 1, 5*time.Second)[0]
	if run.Type != "run" || run.Data != `{"job_id":"`+id+`"}` {
		t.Fatalf("run: %+v", run)
	}
	f.Close()
	// Owed: the run, with the id it was sent with.
	again := pjReadN(t, s.OpenFeed(t, path, m.token, nil), 1, 5*time.Second)[0]
	if again.Type != "run" || again.ID != run.ID {
		t.Fatalf("owed run %+v, sent as %s", again, run.ID)
	}
	// Resumed after the commit: the run again; after the run: nothing, then
	// live (the abort).
	res := s.OpenFeed(t, path, m.token, map[string]string{"Last-Event-ID": commit.ID})
	if e := pjReadN(t, res, 1, 5*time.Second)[0]; e.Type != "run" || e.ID != run.ID {
		t.Fatalf("resumed: %+v", e)
	}
	res2 := s.OpenFeed(t, path, m.token, map[string]string{"Last-Event-ID": run.ID})
	if _, err := c.AbortJob(ctx, "default", id); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*testutil.Feed{res, res2} {
		if e := pjReadN(t, f, 1, 5*time.Second)[0]; e.Type != "abort" {
			t.Fatalf("live abort: %+v", e)
		}
	}
	m.send("aborted", id)
	pjWaitAvailable(t, c, "default", "m")
	// Nothing owed any more: a new feed's first event is the next job's commit.
	f = s.OpenFeed(t, path, m.token, nil)
	id2, _ := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"m"}}, "")
	if e := pjReadN(t, f, 1, 5*time.Second)[0]; e.Type != "commit" || !strings.Contains(e.Data, id2) {
		t.Fatalf("next: %+v", e)
	}
}

// TestPushyHeartbeatsAreCheap: a node heartbeating twice per interval
// writes at most one presence record per interval, and the compaction
// keeps only the newest of them in the store.
func TestPushyHeartbeatsAreCheap(t *testing.T) {
	s := pjServer(t)
	m := pjManualNode(t, s, "m")
	subject := "herald.node.default.m"
	count := func() int {
		n := 0
		_ = s.Store.Read(context.Background(), subject, 0, s.API.Views().Applied(), func(store.Msg) error { n++; return nil })
		return n
	}
	applied := s.API.Views().Applied()
	m.beating() // every 50 ms; the interval is 100 ms
	time.Sleep(600 * time.Millisecond)
	if writes := s.API.Views().Applied() - applied; writes > 8 { // 6 intervals, plus slack for timing
		t.Fatalf("%d presence records for 12 heartbeats in 6 intervals", writes)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count() > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("not compacted: %d records", count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := pjNodeState(t, s.Client(m.token), "m"); st.Status != "online" {
		t.Fatalf("after compaction: %+v", st)
	}
}
