package lifecycle

import (
	"encoding/json"
	"strings"
	"testing"

	herald "github.com/herald-sse/herald"
)

// TestJobNodeReason: a node's reason is carried by the failure vote of its
// nack_commit and the failed run of its failed, and by no other event; a
// reason over MaxNodeReason characters is refused naming reason.
func TestJobNodeReason(t *testing.T) {
	j, _, _, err := StartJob("j1", "d", JobSpec{Command: "x", Nodes: []string{"a", "b"}, Quorum: 1, QuorumSet: true},
		map[string]bool{"a": true, "b": true}, 0, jobT0)
	if err != nil {
		t.Fatal(err)
	}
	reasonOf := func(evs []Event) []string {
		var out []string
		for _, e := range evs {
			var d struct {
				Reason *string `json:"reason"`
			}
			_ = json.Unmarshal(e.Data, &d)
			r := "-"
			if d.Reason != nil {
				r = *d.Reason
			}
			out = append(out, e.Name+":"+r)
		}
		return strings.Fields(strings.Join(out, " "))
	}
	steps := []struct {
		node, reason string
		msg          NodeMessageType
		want         string
	}{
		{"a", "no-such-user", MsgNackCommit, "quorum_vote:no-such-user"},
		{"b", "sure", MsgAckCommit, "quorum_vote:- quorum_succeeded:-"},
		{"b", "go", MsgAckRun, "run_start:-"},
		{"b", "exit-3", MsgFailed, "run_complete:exit-3 job_complete:-"},
	}
	for _, s := range steps {
		if _, _, _, err := j.NodeReport(s.node, s.msg, strings.Repeat("x", MaxNodeReason+1), jobT0); herald.ErrorCode(err) != herald.EInvalid {
			t.Fatalf("%s %s with a long reason: %v", s.node, s.msg, err)
		}
		var evs []Event
		j, evs, _, err = j.NodeReport(s.node, s.msg, s.reason, jobT0)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(reasonOf(evs), " "); got != s.want {
			t.Fatalf("%s %s: %s, want %s", s.node, s.msg, got, s.want)
		}
	}
}
