package views

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// TestSharedEntitiesUnchanged: what the views return of a session, a task
// and a job is what their last record held — the same values and the same
// JSON — though the views keep shared strings, derived subjects and
// rebuilt maps (share.go).
func TestSharedEntitiesUnchanged(t *testing.T) {
	v := New()
	r := &recorder{t: t, v: v, now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	b, _ := json.Marshal(NodeState{Domain: "d", Name: "a", Incarnation: "i", Online: true, SeenAt: r.now, Expires: r.now.Add(time.Hour)})
	r.apply("node", "d", store.Subject("node", "d", "a"), b, nil, nil)

	// A session through its lifecycle, with a reason and a result.
	reason, result := "user asked", lifecycle.ResultSuccess
	s := lifecycle.Session{SessionID: "s.1", OwnerAccessKey: "AK1", Domain: "d"}
	subject := store.Subject("session", "d", "AK1", "s.1")
	for _, rep := range []lifecycle.SessionReport{{Event: "session_preparing", Group: "g"}, {Event: "session_terminated", Group: "g", Reason: &reason, Result: &result}} {
		var evs []lifecycle.Event
		var err error
		if s, evs, err = s.Apply(rep, r.now); err != nil {
			t.Fatal(err)
		}
		r.apply("session", "d", subject, s.AppendJSON(nil), evs, nil)
	}
	e, ok := v.Session(SessionKey{"d", "AK1", "s.1"})
	if !ok || !reflect.DeepEqual(e.Session, s) || e.Subject != subject || e.Seq != r.seq {
		t.Errorf("session: %+v, want %+v at %s", e, s, subject)
	}
	got, _ := json.Marshal(e.Session)
	want, _ := json.Marshal(s)
	if !bytes.Equal(got, want) {
		t.Errorf("session JSON %s, want %s", got, want)
	}

	// A task.
	r.task("d", "AK1", "t1")
	te, ok := v.Task("t1")
	if !ok || te.Subject != store.Subject("task", "d", "t1") || te.Task.Status != lifecycle.TaskDone || te.Task.Owner != "AK1" {
		t.Errorf("task: %+v", te)
	}

	// A job on a known node ("a") and an unknown one ("b"), seen at each
	// step: voting, running, and finished with an abort owed to b after a
	// message out of turn.
	spec := lifecycle.JobSpec{Command: "x", Nodes: []string{"a", "b"}, Env: map[string]string{"K": "v"}, RequestedBy: "AK1", File: "raw:hello"}
	j, evs, cmds, err := lifecycle.StartJob("j1", "d", spec, map[string]bool{"a": true, "b": true}, time.Minute, r.now)
	if err != nil {
		t.Fatal(err)
	}
	jobSubj := store.Subject("job", "d", "j1")
	check := func(step string) {
		t.Helper()
		b, _ := json.Marshal(j)
		r.apply("job", "d", jobSubj, b, evs, cmds)
		want := j
		want.Spec.DropFile()
		e, ok := v.Job("d", "j1")
		if !ok || !reflect.DeepEqual(e.Job, want) {
			t.Fatalf("%s: job %+v, want %+v", step, e.Job, want)
		}
		got, _ := json.Marshal(e.Job)
		exp, _ := json.Marshal(want)
		if !bytes.Equal(got, exp) {
			t.Fatalf("%s: job JSON %s, want %s", step, got, exp)
		}
		// The node states are keyed by the node list's strings, and the
		// known node's name is its presence record's.
		node, _ := v.Node("d", "a")
		if unsafe.StringData(e.Job.Spec.Nodes[0]) != unsafe.StringData(node.State.Name) {
			t.Errorf("%s: the job's node a is not its presence record's string", step)
		}
		for k := range e.Job.Nodes {
			i := slices.Index(e.Job.Spec.Nodes, k)
			if i < 0 || unsafe.StringData(k) != unsafe.StringData(e.Job.Spec.Nodes[i]) {
				t.Errorf("%s: node state %q is not keyed by the node list's string", step, k)
			}
		}
	}
	check("voting")
	for _, n := range []string{"a", "b"} {
		if j, evs, cmds, err = j.NodeMessage(n, lifecycle.MsgAckCommit, r.now); err != nil {
			t.Fatal(err)
		}
		check("ack_commit " + n)
	}
	for _, msg := range []lifecycle.NodeMessageType{lifecycle.MsgAckRun, lifecycle.MsgSucceeded} {
		for _, n := range []string{"a", "b"} {
			if j, evs, cmds, err = j.NodeMessage(n, msg, r.now); err != nil {
				t.Fatal(err)
			}
			check(string(msg) + " " + n)
		}
	}
	if !j.Finished() {
		t.Fatalf("job is %s", j.Status)
	}
	if owed, _ := v.OwedCommands("d", "b"); len(owed) != 0 {
		t.Fatalf("b owes nothing to a finished job: %+v", owed)
	}
	if j, evs, cmds, err = j.NodeMessage("b", lifecycle.MsgAckRun, r.now); err != nil {
		t.Fatal(err)
	}
	check("abort owed")
	owed, _ := v.OwedCommands("d", "b")
	if len(owed) != 1 || owed[0].Cmd.Type != lifecycle.CmdAbort || owed[0].Ref != (CommandRef{Seq: r.seq, Idx: uint32(len(evs)), Type: lifecycle.CmdAbort}) {
		t.Fatalf("b owes the abort sent at %d: %+v", r.seq, owed)
	}

	// The subjects the retention purges are derived, and forgetting them
	// forgets the entities.
	expired := v.Expired(r.now.Add(time.Hour), r.now)
	slices.Sort(expired)
	wantExp := []string{jobSubj, store.Subject("session", "d", "AK1", "s.1"), store.Subject("task", "d", "t1")}
	slices.Sort(wantExp)
	if !slices.Equal(expired, wantExp) {
		t.Fatalf("expired %q, want %q", expired, wantExp)
	}
	v.Forget(expired...)
	if _, ok := v.Job("d", "j1"); ok {
		t.Error("the job was not forgotten")
	}
	if _, ok := v.Session(SessionKey{"d", "AK1", "s.1"}); ok {
		t.Error("the session was not forgotten")
	}
	if _, ok := v.Task("t1"); ok {
		t.Error("the task was not forgotten")
	}
}

// TestCommandMapShrinks: once a job that sent a command to each of many
// nodes has finished, the views hold no command of it, and the map that
// held them is rebuilt to its size.
func TestCommandMapShrinks(t *testing.T) {
	v := New()
	r := &recorder{t: t, v: v, now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	r.bigJob("d", "big")
	if len(v.pushy.cmds) != 0 || len(v.pushy.involved) != 0 || v.pushy.cmdsPeak != 0 || v.pushy.involvedPeak != 0 {
		t.Fatalf("after the big job: %d commands, %d involved nodes, peaks %d and %d",
			len(v.pushy.cmds), len(v.pushy.involved), v.pushy.cmdsPeak, v.pushy.involvedPeak)
	}
	e, ok := v.Job("d", "big")
	if !ok || len(e.Job.Nodes) != lifecycle.MaxJobNodes || e.Job.Spec.File != "" || !e.Job.Spec.HasFile() {
		t.Fatalf("the big job: %v, %d nodes", ok, len(e.Job.Nodes))
	}
}
