package views

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// TestNodeBeat: a heartbeat is written only when something changes or the
// last written one is an interval old; the expiry is 4 intervals after a
// written heartbeat, so a node is down 3 to 4 intervals after its last.
func TestNodeBeat(t *testing.T) {
	const iv = 10 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	online := NodeState{Domain: "d", Name: "n", Incarnation: "i1", Online: true, SeenAt: t0, Expires: t0.Add(4 * iv)}
	cases := []struct {
		name       string
		from       NodeState
		inc, mis   string
		at         time.Time
		write      bool
		wantOnline bool
	}{
		{"first heartbeat", NodeState{Domain: "d", Name: "n"}, "i1", "", t0, true, true},
		{"within the interval", online, "i1", "", t0.Add(iv - time.Millisecond), false, true},
		{"an interval later", online, "i1", "", t0.Add(iv), true, true},
		{"new incarnation", online, "i2", "", t0.Add(time.Second), true, true},
		{"mismatch appears", online, "i1", "j1", t0.Add(time.Second), true, true},
		{"after expiry", online, "i1", "", t0.Add(4 * iv), true, true},
		{"marked offline", NodeState{Domain: "d", Name: "n", Incarnation: "i1", SeenAt: t0, Expires: t0.Add(4 * iv)}, "i1", "", t0.Add(time.Second), true, true},
	}
	for _, c := range cases {
		got, write := c.from.Beat(c.inc, c.mis, iv, c.at)
		if write != c.write || got.OnlineAt(c.at) != c.wantOnline {
			t.Errorf("%s: write %v online %v, want %v %v", c.name, write, got.OnlineAt(c.at), c.write, c.wantOnline)
		}
		if write && (!got.Expires.Equal(c.at.Add(4*iv)) || got.Incarnation != c.inc || got.Mismatch != c.mis) {
			t.Errorf("%s: %+v", c.name, got)
		}
		if !write && got != c.from {
			t.Errorf("%s: changed without a write: %+v", c.name, got)
		}
	}
}

func applyTest(t *testing.T, v *Views, seq uint64, kind string, snap any, evs []lifecycle.Event, cmds []lifecycle.Command) {
	t.Helper()
	b, _ := json.Marshal(snap)
	m := &store.Msg{Subject: "herald." + kind + ".d.x", Seq: seq, Record: store.Record{Kind: kind, Domain: "d", Snapshot: b, Events: evs, Commands: cmds}}
	if err := v.Apply(m); err != nil {
		t.Fatal(err)
	}
}

// TestNodesDownAndOwed: an expired node still marked online, or engaged in
// a live job while not online, is down; what it owes is listed with the
// position of the command that sent it; availability follows.
func TestNodesDownAndOwed(t *testing.T) {
	v := New()
	t0 := time.Now().UTC()
	applyTest(t, v, 1, "node", NodeState{Domain: "d", Name: "a", Incarnation: "i", Online: true, SeenAt: t0, Expires: t0.Add(time.Second)}, nil, nil)
	applyTest(t, v, 2, "node", NodeState{Domain: "d", Name: "b", Incarnation: "i", Online: true, SeenAt: t0, Expires: t0.Add(time.Hour)}, nil, nil)
	spec := lifecycle.JobSpec{Command: "x", Nodes: []string{"a", "b"}}
	j, evs, cmds, err := lifecycle.StartJob("j1", "d", spec, v.Availability("d", spec.Nodes, t0), time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	applyTest(t, v, 3, "job", j, evs, cmds)
	if av := v.Availability("d", []string{"a", "b"}, t0); av["a"] || av["b"] {
		t.Fatalf("engaged nodes are unavailable: %v", av)
	}
	owed, upto := v.OwedCommands("d", "b")
	if len(owed) != 1 || owed[0].Cmd.Type != "commit" || owed[0].Ref != (CommandRef{Seq: 3, Idx: uint32(len(evs) + 1), Type: "commit"}) || upto != 3 {
		t.Fatalf("owed %+v upto %d", owed, upto)
	}
	if down := v.NodesDown(t0); len(down) != 0 {
		t.Fatalf("nobody is down yet: %+v", down)
	}
	down := v.NodesDown(t0.Add(2 * time.Second))
	if len(down) != 1 || down[0].Name != "a" || !down[0].MarkOffline || len(down[0].Jobs) != 1 || down[0].Jobs[0] != "j1" {
		t.Fatalf("down %+v", down)
	}
	if got := v.NodesToCompact(); len(got) != 0 {
		t.Fatalf("one record per node: nothing to compact: %v", got)
	}
	applyTest(t, v, 4, "node", NodeState{Domain: "d", Name: "b", Incarnation: "i", Online: true, SeenAt: t0, Expires: t0.Add(time.Hour)}, nil, nil)
	if got := v.NodesToCompact(); len(got) != 1 {
		t.Fatalf("compact %v", got)
	}
}
