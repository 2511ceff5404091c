package lifecycle

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	herald "github.com/herald-sse/herald"
)

var jobT0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Inputs, briefly.
func jmsg(node string, m NodeMessageType) JobInput {
	return JobInput{Kind: InputNodeMessage, Node: node, Message: m}
}
func jdown(node string, r DownReason) JobInput {
	return JobInput{Kind: InputNodeDown, Node: node, Reason: r}
}

var (
	jVotingTO = JobInput{Kind: InputVotingTimeout}
	jRunTO    = JobInput{Kind: InputRunTimeout}
	jAbort    = JobInput{Kind: InputAbort}
	jCrash    = JobInput{Kind: InputCrash}
)

// describe turns events into "name [node] [status]" lines and checks that
// each one's data begins with a well-formed timestamp.
func describe(t *testing.T, evs []Event) []string {
	t.Helper()
	out := []string{}
	for _, e := range evs {
		if !strings.HasPrefix(string(e.Data), `{"timestamp":"`) {
			t.Fatalf("%s data %s does not start with timestamp", e.Name, e.Data)
		}
		var m map[string]any
		if err := json.Unmarshal(e.Data, &m); err != nil {
			t.Fatalf("%s data %s: %v", e.Name, e.Data, err)
		}
		if _, err := time.Parse(jobTimeLayout, m["timestamp"].(string)); err != nil {
			t.Fatalf("%s timestamp: %v", e.Name, err)
		}
		if _, ok := m["job"]; ok {
			t.Fatalf("%s has a job field in the job feed", e.Name)
		}
		s := e.Name
		if n, ok := m["node"].(string); ok {
			s += " " + n
		}
		if st, ok := m["status"].(string); ok {
			s += " " + st
		}
		out = append(out, s)
	}
	return out
}

func cmdStrings(cmds []Command) []string {
	out := []string{}
	for _, c := range cmds {
		out = append(out, c.Type+" "+c.Node)
	}
	return out
}

// jobRun drives one job through inputs, one second apart; timers fire at
// their deadline. It keeps the whole history.
type jobRun struct {
	t      *testing.T
	j      Job
	now    time.Time
	events []Event
}

func startRun(t *testing.T, nodes []string, quorum int, unavailable ...string) (*jobRun, []string, []string) {
	t.Helper()
	avail := map[string]bool{}
	for _, n := range nodes {
		avail[n] = !slices.Contains(unavailable, n)
	}
	spec := JobSpec{Command: "chef-client", Nodes: nodes, Quorum: quorum, RunTimeout: 300, RequestedBy: "AKADMIN"}
	j, evs, cmds, err := StartJob("0123456789abcdef0123456789abcdef", "default", spec, avail, 0, jobT0)
	if err != nil {
		t.Fatal(err)
	}
	r := &jobRun{t: t, j: j, now: jobT0, events: evs}
	return r, describe(t, evs), cmdStrings(cmds)
}

func (r *jobRun) apply(in JobInput) ([]string, []string) {
	r.t.Helper()
	r.now = r.now.Add(time.Second)
	switch {
	case in.Kind == InputVotingTimeout && !r.j.VotingDeadline.IsZero():
		r.now = r.j.VotingDeadline
	case in.Kind == InputRunTimeout && !r.j.RunDeadline.IsZero():
		r.now = r.j.RunDeadline
	}
	j, evs, cmds, err := r.j.Apply(in, r.now)
	if err != nil {
		r.t.Fatalf("%+v: %v", in, err)
	}
	r.j = j
	r.events = append(r.events, evs...)
	return describe(r.t, evs), cmdStrings(cmds)
}

func (r *jobRun) applyAll(ins ...JobInput) ([]string, []string) {
	r.t.Helper()
	var evs, cmds []string
	for _, in := range ins {
		e, c := r.apply(in)
		evs, cmds = append(evs, e...), append(cmds, c...)
	}
	return evs, cmds
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s\n got %q\nwant %q", what, got, want)
	}
}

func TestJobAllSucceed(t *testing.T) {
	r, evs, cmds := startRun(t, []string{"n1", "n2", "n3"}, 0)
	eq(t, "start events", evs, []string{"start"})
	eq(t, "start commands", cmds, []string{"commit n1", "commit n2", "commit n3"})
	if r.j.Status != JobVoting || !r.j.VotingDeadline.Equal(jobT0.Add(60*time.Second)) || !r.j.RunDeadline.IsZero() {
		t.Fatalf("after start: %s voting %v run %v", r.j.Status, r.j.VotingDeadline, r.j.RunDeadline)
	}
	evs, cmds = r.applyAll(jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit), jmsg("n3", MsgAckCommit))
	eq(t, "votes", evs, []string{"quorum_vote n1 success", "quorum_vote n2 success", "quorum_vote n3 success", "quorum_succeeded"})
	eq(t, "run commands", cmds, []string{"run n1", "run n2", "run n3"})
	if r.j.Status != JobRunning || !r.j.VotingDeadline.IsZero() || !r.j.RunDeadline.Equal(r.now.Add(300*time.Second)) {
		t.Fatalf("after quorum: %s voting %v run %v", r.j.Status, r.j.VotingDeadline, r.j.RunDeadline)
	}
	evs, cmds = r.applyAll(jmsg("n1", MsgAckRun), jmsg("n2", MsgAckRun), jmsg("n3", MsgAckRun),
		jmsg("n1", MsgSucceeded), jmsg("n2", MsgSucceeded), jmsg("n3", MsgSucceeded))
	eq(t, "run", evs, []string{"run_start n1", "run_start n2", "run_start n3",
		"run_complete n1 success", "run_complete n2 success", "run_complete n3 success", "job_complete complete"})
	eq(t, "no commands", cmds, nil)
	all := describe(t, r.events)
	eq(t, "history", all, []string{"start",
		"quorum_vote n1 success", "quorum_vote n2 success", "quorum_vote n3 success", "quorum_succeeded",
		"run_start n1", "run_start n2", "run_start n3",
		"run_complete n1 success", "run_complete n2 success", "run_complete n3 success", "job_complete complete"})
	if !r.j.Finished() || r.j.Status != JobComplete || !r.j.RunDeadline.IsZero() || len(r.j.OwedAborts()) != 0 {
		t.Fatalf("end: %+v", r.j)
	}
	for n, st := range r.j.Nodes {
		if st != NodeSucceeded {
			t.Errorf("node %s %s", n, st)
		}
	}
}

func TestJobStartUnavailable(t *testing.T) {
	// n3 is offline (false) and n4 does not exist at all (absent from the map).
	avail := map[string]bool{"n1": true, "n2": true, "n3": false}
	spec := JobSpec{Command: "chef-client", Nodes: []string{"n1", "n2", "n3", "n4"}, RequestedBy: "AK"}
	j, evs, cmds, err := StartJob("j1", "default", spec, avail, 10*time.Second, jobT0)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "events", describe(t, evs), []string{"start", "quorum_vote n3 down", "quorum_vote n4 down"})
	eq(t, "commands", cmdStrings(cmds), []string{"commit n1", "commit n2"}) // no rehab, no abort
	if j.Nodes["n3"] != NodeUnavailable || j.Nodes["n4"] != NodeUnavailable || j.Nodes["n1"] != NodeNew || len(j.AbortOwed) != 0 {
		t.Fatalf("nodes %v owed %v", j.Nodes, j.AbortOwed)
	}
	if !j.VotingDeadline.Equal(jobT0.Add(10 * time.Second)) {
		t.Fatalf("voting deadline %v", j.VotingDeadline)
	}
	r := &jobRun{t: t, j: j, now: jobT0, events: evs}
	ev, cm := r.applyAll(jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit))
	eq(t, "quorum failed", ev, []string{"quorum_vote n1 success", "quorum_vote n2 success",
		"rehab n1", "rehab n2", "job_complete quorum_failed"})
	eq(t, "rehab commands", cm, []string{"abort n1", "abort n2"})
	if r.j.Status != JobQuorumFailed || r.j.Nodes["n1"] != NodeWasReady || r.j.Nodes["n2"] != NodeWasReady {
		t.Fatalf("end %s %v", r.j.Status, r.j.Nodes)
	}
	eq(t, "owed", r.j.OwedAborts(), []string{"n1", "n2"})
	eq(t, "history", describe(t, r.events), []string{"start", "quorum_vote n3 down", "quorum_vote n4 down",
		"quorum_vote n1 success", "quorum_vote n2 success", "rehab n1", "rehab n2", "job_complete quorum_failed"})
}

func TestJobStartNobodyCanVote(t *testing.T) {
	spec := JobSpec{Command: "x", Nodes: []string{"a", "b"}, Quorum: 1}
	j, evs, cmds, err := StartJob("j1", "d", spec, nil, 0, jobT0)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "events", describe(t, evs), []string{"start", "quorum_vote a down", "quorum_vote b down", "job_complete quorum_failed"})
	eq(t, "commands", cmdStrings(cmds), nil)
	if !j.Finished() || j.Status != JobQuorumFailed || !j.VotingDeadline.IsZero() {
		t.Fatalf("%+v", j)
	}
}

func TestJobStartRefused(t *testing.T) {
	if _, _, _, err := StartJob("", "d", JobSpec{Command: "x", Nodes: []string{"a"}}, nil, 0, jobT0); herald.ErrorCode(err) != herald.EInvalid {
		t.Fatalf("empty id: %v", err)
	}
	_, _, _, err := StartJob("j", "d", JobSpec{Command: "x", Nodes: []string{"a", "a"}}, nil, 0, jobT0)
	var he *herald.Error
	if !errors.As(err, &he) || he.Field != "nodes" {
		t.Fatalf("duplicate nodes: %v", err)
	}
	// The caller's spec is not modified.
	spec := JobSpec{Command: "x", Nodes: []string{"a"}, Env: map[string]string{"K": "v"}}
	j, _, _, err := StartJob("j", "d", spec, nil, 0, jobT0)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Quorum != 0 || spec.RunTimeout != 0 || j.Spec.Quorum != 1 || j.Spec.RunTimeout != 3600 {
		t.Fatalf("spec %+v job spec %+v", spec, j.Spec)
	}
	j.Spec.Env["K"] = "changed"
	j.Spec.Nodes[0] = "b"
	if spec.Env["K"] != "v" || spec.Nodes[0] != "a" {
		t.Fatal("job aliases the caller's spec")
	}
}

func TestJobStartData(t *testing.T) {
	at := time.Date(2014, 7, 10, 5, 17, 44, 995958000, time.UTC)
	spec := JobSpec{Command: "chef-client", Nodes: []string{"a", "b", "c"}, Quorum: 2, RunTimeout: 300, RequestedBy: "rebecca"}
	_, evs, _, err := StartJob("j", "d", spec, map[string]bool{"a": true, "b": true, "c": true}, 0, at)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":"2014-07-10 05:17:44.995958Z","command":"chef-client","run_timeout":300,"quorum":2,"node_count":3,"user":"rebecca","capture":false}`
	if string(evs[0].Data) != want || evs[0].Name != "start" {
		t.Fatalf("start\n got %s\nwant %s", evs[0].Data, want)
	}
	spec = JobSpec{Command: "a && b", Nodes: []string{"a"}, RequestedBy: "AK", User: "deploy", Dir: "/srv",
		Env: map[string]string{"B": "2", "A": "1"}, File: "raw:#!/bin/sh", CaptureOutput: true}
	_, evs, _, err = StartJob("j", "d", spec, map[string]bool{"a": true}, 0, at)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"timestamp":"2014-07-10 05:17:44.995958Z","command":"a && b","run_timeout":3600,"quorum":1,"node_count":1,"user":"AK",` +
		`"job_user":"deploy","dir":"/srv","env":{"A":"1","B":"2"},"file_specified":true,"capture":true}`
	if string(evs[0].Data) != want {
		t.Fatalf("start\n got %s\nwant %s", evs[0].Data, want)
	}
}

// TestJobRules reproduces SPEC §5.2 rule by rule: each case starts a job,
// applies prep, then the input under test, and checks what that input emits.
func TestJobRules(t *testing.T) {
	type C struct {
		name       string
		nodes      []string
		quorum     int
		down       []string // unavailable at start
		prep       []JobInput
		in         JobInput
		wantEvents []string
		wantCmds   []string
		wantStatus JobStatus
		wantNodes  map[string]NodeStatus
		wantOwed   []string
	}
	two := []string{"n1", "n2"}
	voted := []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit)} // → running
	cases := []C{
		// §5.2.2 votes
		{name: "ack_commit from new", nodes: two, in: jmsg("n1", MsgAckCommit),
			wantEvents: []string{"quorum_vote n1 success"}, wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeReady, "n2": NodeNew}},
		{name: "nack_commit from new", nodes: two, quorum: 1, in: jmsg("n1", MsgNackCommit),
			wantEvents: []string{"quorum_vote n1 failure"}, wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeNacked}},
		{name: "down while new, missed heartbeats", nodes: two, quorum: 1, in: jdown("n1", MissedHeartbeats),
			wantEvents: []string{"quorum_vote n1 client_died_while_voting"}, wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeUnavailable}},
		{name: "down while new, new incarnation", nodes: two, quorum: 1, in: jdown("n1", NewIncarnation),
			wantEvents: []string{"quorum_vote n1 client_died_while_voting"}, wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeUnavailable}},
		{name: "down while ready, missed heartbeats", nodes: two, quorum: 1, prep: []JobInput{jmsg("n1", MsgAckCommit)}, in: jdown("n1", MissedHeartbeats),
			wantEvents: []string{"quorum_vote n1 client_died_while_voting"}, wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeUnavailable}},
		{name: "down while ready, new incarnation", nodes: two, quorum: 1, prep: []JobInput{jmsg("n1", MsgAckCommit)}, in: jdown("n1", NewIncarnation),
			wantEvents: []string{"quorum_vote n1 client_died_while_voting"}, wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeUnavailable}},
		{name: "voting timeout", nodes: []string{"n1", "n2", "n3"}, quorum: 1, prep: []JobInput{jmsg("n2", MsgAckCommit)}, in: jVotingTO,
			wantEvents: []string{"quorum_vote n1 voting_timeout", "quorum_vote n3 voting_timeout", "quorum_succeeded"},
			wantCmds:   []string{"run n2"}, wantStatus: JobRunning,
			wantNodes: map[string]NodeStatus{"n1": NodeUnavailable, "n2": NodeReady, "n3": NodeUnavailable}},
		{name: "voting timeout fails the quorum", nodes: two, prep: []JobInput{jmsg("n2", MsgAckCommit)}, in: jVotingTO,
			wantEvents: []string{"quorum_vote n1 voting_timeout", "rehab n2", "job_complete quorum_failed"},
			wantCmds:   []string{"abort n2"}, wantStatus: JobQuorumFailed,
			wantNodes: map[string]NodeStatus{"n1": NodeUnavailable, "n2": NodeWasReady}, wantOwed: []string{"n2"}},
		{name: "ack_commit from ready", nodes: two, prep: []JobInput{jmsg("n1", MsgAckCommit)}, in: jmsg("n1", MsgAckCommit),
			wantEvents: []string{"quorum_vote n1 unexpected_commit"}, wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeReady}},
		{name: "nack_commit from ready", nodes: two, quorum: 1, prep: []JobInput{jmsg("n1", MsgAckCommit)}, in: jmsg("n1", MsgNackCommit),
			wantEvents: []string{"rehab n1", "quorum_vote n1 lost_availability"}, wantCmds: []string{"abort n1"},
			wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeUnavailable}, wantOwed: []string{"n1"}},
		{name: "run message while voting from new", nodes: two, quorum: 1, in: jmsg("n1", MsgSucceeded),
			wantEvents: []string{"rehab n1", "quorum_vote n1 lost_availability"}, wantCmds: []string{"abort n1"},
			wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeUnavailable}, wantOwed: []string{"n1"}},
		{name: "message from a nacked node while voting", nodes: two, quorum: 1, prep: []JobInput{jmsg("n1", MsgNackCommit)}, in: jmsg("n1", MsgAckCommit),
			wantEvents: []string{"rehab n1"}, wantCmds: []string{"abort n1"},
			wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeNacked}, wantOwed: []string{"n1"}},
		{name: "aborted from a node not owed one while voting", nodes: two, quorum: 1, prep: []JobInput{jmsg("n1", MsgNackCommit)}, in: jmsg("n1", MsgAborted),
			wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeNacked}},
		{name: "down of a terminal node while voting", nodes: two, quorum: 1, prep: []JobInput{jmsg("n1", MsgNackCommit)}, in: jdown("n1", NewIncarnation),
			wantStatus: JobVoting, wantNodes: map[string]NodeStatus{"n1": NodeNacked}},
		// §5.2.3 quorum
		{name: "quorum reached runs the ready nodes only", nodes: []string{"n1", "n2", "n3"}, quorum: 2,
			prep: []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgNackCommit)}, in: jmsg("n3", MsgAckCommit),
			wantEvents: []string{"quorum_vote n3 success", "quorum_succeeded"}, wantCmds: []string{"run n1", "run n3"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeReady, "n2": NodeNacked, "n3": NodeReady}},
		{name: "quorum missed", nodes: []string{"n1", "n2", "n3"}, quorum: 2,
			prep: []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgNackCommit)}, in: jmsg("n3", MsgNackCommit),
			wantEvents: []string{"quorum_vote n3 failure", "rehab n1", "job_complete quorum_failed"}, wantCmds: []string{"abort n1"},
			wantStatus: JobQuorumFailed, wantNodes: map[string]NodeStatus{"n1": NodeWasReady, "n2": NodeNacked, "n3": NodeNacked}, wantOwed: []string{"n1"}},
		{name: "down node at start, quorum below it", nodes: two, quorum: 1, down: []string{"n2"}, in: jmsg("n1", MsgAckCommit),
			wantEvents: []string{"quorum_vote n1 success", "quorum_succeeded"}, wantCmds: []string{"run n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeReady, "n2": NodeUnavailable}},
		// §5.2.4 running
		{name: "ack_run from ready", nodes: two, prep: voted, in: jmsg("n1", MsgAckRun),
			wantEvents: []string{"run_start n1"}, wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeRunning}},
		{name: "ack_run repeated", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jmsg("n1", MsgAckRun),
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeRunning}},
		{name: "succeeded from running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jmsg("n1", MsgSucceeded),
			wantEvents: []string{"run_complete n1 success"}, wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeSucceeded}},
		{name: "failed from running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jmsg("n1", MsgFailed),
			wantEvents: []string{"run_complete n1 failure"}, wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeFailed}},
		{name: "nack_run from ready", nodes: two, prep: voted, in: jmsg("n1", MsgNackRun),
			wantEvents: []string{"rehab n1", "run_complete n1 run_nacked"}, wantCmds: []string{"abort n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeFailed}, wantOwed: []string{"n1"}},
		{name: "nack_run from running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jmsg("n1", MsgNackRun),
			wantEvents: []string{"rehab n1", "run_complete n1 run_nacked_while_running"}, wantCmds: []string{"abort n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeFailed}, wantOwed: []string{"n1"}},
		{name: "succeeded from ready", nodes: two, prep: voted, in: jmsg("n1", MsgSucceeded),
			wantEvents: []string{"rehab n1", "run_complete n1 crashed"}, wantCmds: []string{"abort n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}, wantOwed: []string{"n1"}},
		{name: "failed from ready", nodes: two, prep: voted, in: jmsg("n1", MsgFailed),
			wantEvents: []string{"rehab n1", "run_complete n1 crashed"}, wantCmds: []string{"abort n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}, wantOwed: []string{"n1"}},
		{name: "commit message while running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jmsg("n1", MsgAckCommit),
			wantEvents: []string{"rehab n1", "run_complete n1 crashed"}, wantCmds: []string{"abort n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}, wantOwed: []string{"n1"}},
		{name: "aborted from running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jmsg("n1", MsgAborted),
			wantEvents: []string{"rehab n1", "run_complete n1 crashed"}, wantCmds: []string{"abort n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}, wantOwed: []string{"n1"}},
		{name: "down while ready, missed heartbeats", nodes: two, prep: voted, in: jdown("n1", MissedHeartbeats),
			wantEvents: []string{"run_complete n1 client_died_while_running"}, wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}},
		{name: "down while ready, new incarnation", nodes: two, prep: voted, in: jdown("n1", NewIncarnation),
			wantEvents: []string{"run_complete n1 crashed"}, wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}},
		{name: "down while running, missed heartbeats", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jdown("n1", MissedHeartbeats),
			wantEvents: []string{"run_complete n1 client_died_while_running"}, wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}},
		{name: "down while running, new incarnation", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jdown("n1", NewIncarnation),
			wantEvents: []string{"run_complete n1 crashed"}, wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeCrashed}},
		{name: "down of a node that voted no, while running", nodes: two, quorum: 1, prep: []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgNackCommit)}, in: jdown("n2", MissedHeartbeats),
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n2": NodeNacked}},
		{name: "message from a finished node while running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun), jmsg("n1", MsgSucceeded)), in: jmsg("n1", MsgSucceeded),
			wantEvents: []string{"rehab n1"}, wantCmds: []string{"abort n1"},
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeSucceeded}, wantOwed: []string{"n1"}},
		{name: "aborted ends rehab while running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgNackRun)), in: jmsg("n1", MsgAborted),
			wantStatus: JobRunning, wantNodes: map[string]NodeStatus{"n1": NodeFailed}},
		// §5.2.5 end
		{name: "complete when the last node ends", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun), jmsg("n2", MsgAckRun), jmsg("n1", MsgFailed)),
			in: jmsg("n2", MsgFailed), wantEvents: []string{"run_complete n2 failure", "job_complete complete"},
			wantStatus: JobComplete, wantNodes: map[string]NodeStatus{"n1": NodeFailed, "n2": NodeFailed}},
		{name: "complete after the last node crashes", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun), jmsg("n1", MsgSucceeded)),
			in: jdown("n2", NewIncarnation), wantEvents: []string{"run_complete n2 crashed", "job_complete complete"},
			wantStatus: JobComplete, wantNodes: map[string]NodeStatus{"n1": NodeSucceeded, "n2": NodeCrashed}},
		{name: "complete after the last nack_run", nodes: []string{"n1"}, prep: []JobInput{jmsg("n1", MsgAckCommit)}, in: jmsg("n1", MsgNackRun),
			wantEvents: []string{"rehab n1", "run_complete n1 run_nacked", "job_complete complete"}, wantCmds: []string{"abort n1"},
			wantStatus: JobComplete, wantNodes: map[string]NodeStatus{"n1": NodeFailed}, wantOwed: []string{"n1"}},
		{name: "run timeout", nodes: []string{"n1", "n2", "n3"}, prep: []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit), jmsg("n3", MsgAckCommit),
			jmsg("n2", MsgAckRun), jmsg("n3", MsgAckRun), jmsg("n3", MsgSucceeded)}, in: jRunTO,
			wantEvents: []string{"rehab n1", "rehab n2", "job_complete timed_out"}, wantCmds: []string{"abort n1", "abort n2"},
			wantStatus: JobTimedOut, wantNodes: map[string]NodeStatus{"n1": NodeTimedOut, "n2": NodeTimedOut, "n3": NodeSucceeded}, wantOwed: []string{"n1", "n2"}},
		{name: "abort while voting", nodes: []string{"n1", "n2", "n3"}, prep: []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgNackCommit)}, in: jAbort,
			wantEvents: []string{"job_complete aborted"}, wantCmds: []string{"abort n1", "abort n3"},
			wantStatus: JobAborted, wantNodes: map[string]NodeStatus{"n1": NodeAborted, "n2": NodeNacked, "n3": NodeAborted}, wantOwed: []string{"n1", "n3"}},
		{name: "abort while running", nodes: []string{"n1", "n2", "n3"}, prep: []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit), jmsg("n3", MsgAckCommit),
			jmsg("n2", MsgAckRun), jmsg("n3", MsgAckRun), jmsg("n3", MsgFailed)}, in: jAbort,
			wantEvents: []string{"job_complete aborted"}, wantCmds: []string{"abort n1", "abort n2"},
			wantStatus: JobAborted, wantNodes: map[string]NodeStatus{"n1": NodeAborted, "n2": NodeAborted, "n3": NodeFailed}, wantOwed: []string{"n1", "n2"}},
		// §5.2.7 after the end
		{name: "message after the end", nodes: two, prep: []JobInput{jAbort}, in: jmsg("n2", MsgSucceeded),
			wantCmds: []string{"abort n2"}, wantStatus: JobAborted, wantOwed: []string{"n1", "n2"}},
		{name: "message from a node not owed an abort after the end", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun), jmsg("n2", MsgAckRun), jmsg("n1", MsgSucceeded), jmsg("n2", MsgSucceeded)),
			in: jmsg("n1", MsgSucceeded), wantCmds: []string{"abort n1"}, wantStatus: JobComplete, wantOwed: []string{"n1"}},
		{name: "aborted after the end ends rehab", nodes: two, prep: []JobInput{jAbort}, in: jmsg("n2", MsgAborted),
			wantStatus: JobAborted, wantOwed: []string{"n1"}},
		{name: "down after the end", nodes: two, prep: []JobInput{jAbort}, in: jdown("n1", MissedHeartbeats),
			wantStatus: JobAborted, wantNodes: map[string]NodeStatus{"n1": NodeAborted}, wantOwed: []string{"n1", "n2"}},
		{name: "voting timeout after the end", nodes: two, prep: []JobInput{jAbort}, in: jVotingTO, wantStatus: JobAborted, wantOwed: []string{"n1", "n2"}},
		{name: "run timeout after the end", nodes: two, prep: []JobInput{jAbort}, in: jRunTO, wantStatus: JobAborted, wantOwed: []string{"n1", "n2"}},
		{name: "crash after the end", nodes: two, prep: []JobInput{jAbort}, in: jCrash, wantStatus: JobAborted, wantOwed: []string{"n1", "n2"}},
		// §5.2.8 crash
		{name: "crash while voting", nodes: []string{"n1", "n2", "n3"}, prep: []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgNackCommit)}, in: jCrash,
			wantEvents: []string{"rehab n1", "rehab n3", "job_complete crashed"}, wantCmds: []string{"abort n1", "abort n3"},
			wantStatus: JobCrashed, wantNodes: map[string]NodeStatus{"n1": NodeCrashed, "n2": NodeNacked, "n3": NodeCrashed}, wantOwed: []string{"n1", "n3"}},
		{name: "crash while running", nodes: two, prep: append(slices.Clone(voted), jmsg("n1", MsgAckRun)), in: jCrash,
			wantEvents: []string{"rehab n1", "rehab n2", "job_complete crashed"}, wantCmds: []string{"abort n1", "abort n2"},
			wantStatus: JobCrashed, wantNodes: map[string]NodeStatus{"n1": NodeCrashed, "n2": NodeCrashed}, wantOwed: []string{"n1", "n2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _, _ := startRun(t, c.nodes, c.quorum, c.down...)
			r.applyAll(c.prep...)
			before := r.j
			evs, cmds := r.apply(c.in)
			eq(t, "events", evs, c.wantEvents)
			eq(t, "commands", cmds, c.wantCmds)
			if r.j.Status != c.wantStatus {
				t.Errorf("status %s, want %s", r.j.Status, c.wantStatus)
			}
			for n, st := range c.wantNodes {
				if r.j.Nodes[n] != st {
					t.Errorf("node %s is %s, want %s", n, r.j.Nodes[n], st)
				}
			}
			eq(t, "owed aborts", r.j.OwedAborts(), c.wantOwed)
			if changed := len(evs)+len(cmds) > 0 || !maps.Equal(before.AbortOwed, r.j.AbortOwed); changed != (r.j.Version != before.Version) {
				t.Errorf("version %d → %d, changed %v", before.Version, r.j.Version, changed)
			}
			if !r.j.Finished() {
				if f := r.j.fault(); f != "" {
					t.Errorf("the machine left a faulty job: %s", f)
				}
			} else if !c.wantStatus.Finished() {
				t.Errorf("finished unexpectedly")
			}
		})
	}
}

func TestJobNackRunAfterQuorum(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1", "n2"}, 0)
	r.applyAll(jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit), jmsg("n1", MsgNackRun))
	h := describe(t, r.events)
	eq(t, "tail", h[len(h)-3:], []string{"quorum_succeeded", "rehab n1", "run_complete n1 run_nacked"})
}

func TestJobRunTimeoutSequence(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1", "n2", "n3"}, 2)
	r.applyAll(jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit), jmsg("n3", MsgNackCommit), jmsg("n2", MsgAckRun))
	early, _, _, _ := r.j.RunTimeout(r.j.RunDeadline.Add(-time.Microsecond))
	if early.Version != r.j.Version {
		t.Fatal("run timer fired before its deadline")
	}
	evs, cmds := r.apply(jRunTO)
	eq(t, "events", evs, []string{"rehab n1", "rehab n2", "job_complete timed_out"})
	eq(t, "commands", cmds, []string{"abort n1", "abort n2"})
	// It fires again, late, on another server: nothing happens.
	j, e, c, err := r.j.RunTimeout(r.now.Add(time.Hour))
	if err != nil || e != nil || c != nil || j.Version != r.j.Version {
		t.Fatalf("second firing: %v %v %v", e, c, err)
	}
}

func TestJobTimersNoOp(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1", "n2"}, 0)
	// Voting timer early, run timer while voting: no-ops.
	for _, f := range []func(time.Time) (Job, []Event, []Command, error){r.j.VotingTimeout, r.j.RunTimeout} {
		j, e, c, err := f(r.j.VotingDeadline.Add(-time.Microsecond))
		if err != nil || e != nil || c != nil || j.Version != r.j.Version {
			t.Fatalf("early timer: %v %v %v", e, c, err)
		}
	}
	// Voting timer twice: the second firing, once running, is a no-op.
	r.apply(jmsg("n1", MsgAckCommit))
	r.j.Spec.Quorum = 1
	evs, _ := r.apply(jVotingTO)
	eq(t, "first firing", evs, []string{"quorum_vote n2 voting_timeout", "quorum_succeeded"})
	j, e, c, err := r.j.VotingTimeout(r.now.Add(time.Hour))
	if err != nil || e != nil || c != nil || j.Version != r.j.Version {
		t.Fatalf("second voting firing: %v %v %v", e, c, err)
	}
	// The run timer is armed at the quorum; firing it early does nothing.
	j, e, _, _ = r.j.RunTimeout(r.now)
	if e != nil || j.Version != r.j.Version {
		t.Fatalf("early run timer: %v", e)
	}
}

func TestJobAbortFinished(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1"}, 0)
	r.apply(jAbort)
	j, e, c, err := r.j.Abort(r.now)
	if herald.ErrorCode(err) != herald.EConflict || e != nil || c != nil || j.Version != r.j.Version {
		t.Fatalf("abort of a finished job: %v", err)
	}
}

func TestJobInputRefusals(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1"}, 0)
	cases := []struct {
		in    JobInput
		code  herald.Code
		field string
	}{
		{JobInput{Kind: "poke"}, herald.EInvalid, "kind"},
		{JobInput{}, herald.EInvalid, "kind"},
		{jmsg("n1", "ack"), herald.EInvalid, "type"},
		{jdown("n1", "bored"), herald.EInvalid, "reason"},
		{jmsg("n9", MsgAckCommit), herald.ENotFound, ""},
		{jdown("n9", MissedHeartbeats), herald.ENotFound, ""},
	}
	for _, c := range cases {
		j, e, cm, err := r.j.Apply(c.in, r.now)
		var he *herald.Error
		if !errors.As(err, &he) || he.Code != c.code || he.Field != c.field {
			t.Errorf("%+v: err %v", c.in, err)
		}
		if e != nil || cm != nil || j.Version != r.j.Version {
			t.Errorf("%+v: refusal changed the job", c.in)
		}
	}
	if _, _, _, err := (Job{}).Abort(jobT0); herald.ErrorCode(err) != herald.EConflict {
		t.Errorf("abort of the zero job: %v", err)
	}
}

func TestJobCrashOnFaultySnapshot(t *testing.T) {
	corrupt := []func(*Job){
		func(j *Job) { j.Status = JobNew },
		func(j *Job) { j.Status = "dancing" },
		func(j *Job) { j.Nodes["n1"] = "confused" },
		func(j *Job) { delete(j.Nodes, "n2") },
		func(j *Job) { j.Nodes["n3"] = NodeNew },
		func(j *Job) { j.Nodes["n1"] = NodeRunning }, // running while voting
		func(j *Job) { j.VotingDeadline = time.Time{} },
		func(j *Job) { j.Spec.Quorum = 3 },
	}
	for i, f := range corrupt {
		r, _, _ := startRun(t, []string{"n1", "n2"}, 0)
		f(&r.j)
		// Even a timer that is not due crashes a job that cannot continue.
		j, evs, _, err := r.j.VotingTimeout(jobT0.Add(time.Second))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		d := describe(t, evs)
		if j.Status != JobCrashed || len(d) == 0 || d[len(d)-1] != "job_complete crashed" {
			t.Errorf("%d: status %s events %v", i, j.Status, d)
		}
		for n, st := range j.Nodes {
			if st.Active() || !st.valid() {
				t.Errorf("%d: node %s left %s", i, n, st)
			}
		}
	}
	// A running job with its run timer lost.
	r, _, _ := startRun(t, []string{"n1"}, 0)
	r.apply(jmsg("n1", MsgAckCommit))
	r.j.RunDeadline = time.Time{}
	evs, _ := r.apply(jmsg("n1", MsgAckRun))
	eq(t, "lost run timer", evs, []string{"rehab n1", "job_complete crashed"})
}

func TestJobTimestampsStrictlyIncrease(t *testing.T) {
	spec := JobSpec{Command: "x", Nodes: []string{"n1", "n2", "n3"}}
	avail := map[string]bool{"n1": true, "n2": true, "n3": true}
	j, all, _, err := StartJob("j", "d", spec, avail, 0, jobT0)
	if err != nil {
		t.Fatal(err)
	}
	// Every input at the same instant, then with the clock going backwards.
	ins := []JobInput{jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit), jmsg("n3", MsgAckCommit),
		jmsg("n1", MsgAckRun), jmsg("n2", MsgAckRun), jRunTO}
	for i, in := range ins {
		at := jobT0.Add(-time.Duration(i) * time.Millisecond)
		if in.Kind == InputRunTimeout {
			at = j.RunDeadline
		}
		var evs []Event
		j, evs, _, err = j.Apply(in, at)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
	}
	var last time.Time
	for i, e := range all {
		var m map[string]any
		_ = json.Unmarshal(e.Data, &m)
		ts, err := time.Parse(jobTimeLayout, m["timestamp"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && !ts.After(last) {
			t.Fatalf("event %d %s at %v, not after %v", i, e.Name, ts, last)
		}
		last = ts
	}
	if !j.LastEventAt.Equal(last) {
		t.Fatalf("LastEventAt %v, last event %v", j.LastEventAt, last)
	}
	if first := all[1]; !strings.Contains(string(first.Data), `"2026-11-23 12:00:00.000001Z"`) {
		t.Fatalf("second event at the same instant: %s", first.Data)
	}
}

func TestJobApplyIsPure(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1", "n2"}, 0)
	r.apply(jmsg("n1", MsgAckCommit))
	before := r.j
	nodes, owed := maps.Clone(before.Nodes), maps.Clone(before.AbortOwed)
	if _, _, _, err := before.NodeMessage("n1", MsgNackCommit, jobT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := before.Abort(jobT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(before.Nodes, nodes) || !maps.Equal(before.AbortOwed, owed) {
		t.Fatal("Apply modified its receiver's maps")
	}
}

func TestJobSnapshotRoundTrip(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1", "n2"}, 0)
	r.applyAll(jmsg("n1", MsgAckCommit), jmsg("n2", MsgAckCommit), jmsg("n1", MsgNackRun))
	b, err := json.Marshal(r.j)
	if err != nil {
		t.Fatal(err)
	}
	var back Job
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Nodes, r.j.Nodes) || !back.RunDeadline.Equal(r.j.RunDeadline) || back.VotingDeadline.IsZero() != true ||
		!back.LastEventAt.Equal(r.j.LastEventAt) || back.Version != r.j.Version || !slices.Equal(back.OwedAborts(), []string{"n1"}) {
		t.Fatalf("round trip:\n%s\n%+v", b, back)
	}
	if strings.Contains(string(b), "voting_deadline") {
		t.Fatalf("disarmed timer stored: %s", b)
	}
	_, evs, _, err := back.RunTimeout(back.RunDeadline)
	if err != nil || len(evs) != 2 {
		t.Fatalf("restored job: %v %v", evs, err)
	}
}

func TestJobPendingAndEngaged(t *testing.T) {
	r, _, _ := startRun(t, []string{"n1", "n2", "n3"}, 1, "n3")
	pend := func(n string) string {
		c, ok := r.j.PendingCommand(n)
		if !ok {
			return ""
		}
		return c.Type
	}
	if pend("n1") != CmdCommit || pend("n3") != "" || !r.j.Engaged("n1") || r.j.Engaged("n3") {
		t.Fatalf("voting: %q %q", pend("n1"), pend("n3"))
	}
	r.applyAll(jmsg("n1", MsgAckCommit), jmsg("n2", MsgNackCommit))
	if pend("n1") != CmdRun || pend("n2") != "" || r.j.Engaged("n2") {
		t.Fatalf("running: %q %q", pend("n1"), pend("n2"))
	}
	r.apply(jmsg("n1", MsgSucceeded)) // without ack_run: crashed, rehab, job complete
	if pend("n1") != CmdAbort || r.j.Engaged("n1") || !r.j.Finished() {
		t.Fatalf("rehab: %q", pend("n1"))
	}
	r.apply(jmsg("n1", MsgAborted))
	if pend("n1") != "" {
		t.Fatalf("after aborted: %q", pend("n1"))
	}
}

func TestJobEventNames(t *testing.T) {
	got := JobEventNames()
	want := []string{"start", "quorum_vote", "quorum_succeeded", "run_start", "run_complete", "rehab", "job_complete"}
	if !slices.Equal(got, want) {
		t.Fatalf("%v", got)
	}
}
