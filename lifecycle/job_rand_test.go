package lifecycle

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJobRandom drives jobs with random input sequences, valid and not, with
// a clock that stalls and goes backwards, snapshots that round-trip through
// JSON and now and then get corrupted. Whatever happens: no panic, nothing
// after job_complete, exactly one job_complete once finished, timestamps
// strictly increasing, and a live job the machine can always continue.
func TestJobRandom(t *testing.T) {
	msgs := []NodeMessageType{MsgAckCommit, MsgNackCommit, MsgAckRun, MsgNackRun, MsgSucceeded, MsgFailed, MsgAborted}
	names := JobEventNames()
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	outcomes := map[JobStatus]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for seed := range iterations {
		rng := rand.New(rand.NewPCG(uint64(seed), 42))
		var trace []string
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d: %s\ntrace:\n%s", seed, fmt.Sprintf(format, args...), strings.Join(trace, "\n"))
		}

		nodes := make([]string, 1+rng.IntN(5))
		avail := map[string]bool{}
		for i := range nodes {
			nodes[i] = fmt.Sprintf("n%d", i)
			avail[nodes[i]] = rng.IntN(5) > 0
		}
		spec := JobSpec{Command: "c", Nodes: nodes, Quorum: 1 + rng.IntN(len(nodes)), RunTimeout: 1 + rng.IntN(100)}
		now := jobT0
		j, evs, cmds, err := StartJob("j", "d", spec, avail, time.Duration(1+rng.IntN(60))*time.Second, now)
		if err != nil {
			fail("start: %v", err)
		}
		history := slices.Clone(evs)
		check := func(before Job, in JobInput, j Job, evs []Event, cmds []Command, err error) {
			t.Helper()
			if err != nil {
				if evs != nil || cmds != nil || j.Version != before.Version {
					fail("refused input %+v changed the job", in)
				}
				return
			}
			if before.Finished() && len(evs) > 0 {
				fail("events after job_complete: %v", evs)
			}
			changed := len(evs) > 0 || len(cmds) > 0 || !maps.Equal(before.AbortOwed, j.AbortOwed) || before.Status != j.Status
			if changed != (j.Version != before.Version) {
				fail("version %d → %d, changed %v", before.Version, j.Version, changed)
			}
			rehabbed := map[string]bool{}
			for _, e := range evs {
				if !slices.Contains(names, e.Name) {
					fail("event name %q", e.Name)
				}
				var m map[string]any
				if err := json.Unmarshal(e.Data, &m); err != nil || !strings.HasPrefix(string(e.Data), `{"timestamp":"`) {
					fail("event data %s", e.Data)
				}
				if e.Name == EventRehab {
					rehabbed[m["node"].(string)] = true
				}
			}
			for _, c := range cmds {
				if c.JobID != j.ID || !j.isMember(c.Node) || (c.Type != CmdCommit && c.Type != CmdRun && c.Type != CmdAbort) {
					fail("command %+v", c)
				}
				if c.Type == CmdAbort {
					delete(rehabbed, c.Node)
				}
			}
			if len(rehabbed) > 0 {
				fail("rehab without abort: %v", rehabbed)
			}
			if !j.Finished() {
				if f := j.fault(); f != "" {
					fail("the machine left a job it cannot continue: %s", f)
				}
			} else {
				for n, st := range j.Nodes {
					if st.Active() {
						fail("finished job with node %s %s", n, st)
					}
				}
			}
		}
		check(Job{Status: JobNew}, JobInput{}, j, evs, cmds, nil)

		for step := range rng.IntN(40) {
			switch rng.IntN(10) {
			case 0:
				now = now.Add(-time.Duration(rng.IntN(3000)) * time.Millisecond)
			case 1, 2:
				// the clock stands still
			default:
				now = now.Add(time.Duration(rng.IntN(5000)) * time.Millisecond)
			}
			var in JobInput
			node := nodes[rng.IntN(len(nodes))]
			if rng.IntN(30) == 0 {
				node = "ghost"
			}
			at := now
			switch k := rng.IntN(19); {
			case k < 11:
				m := msgs[rng.IntN(len(msgs))]
				if rng.IntN(3) > 0 { // mostly what the node is expected to say
					m = expectedMessage(j, node, rng)
				}
				if rng.IntN(30) == 0 {
					m = "bogus"
				}
				in = jmsg(node, m)
			case k < 13:
				r := []DownReason{MissedHeartbeats, NewIncarnation, "bogus"}[rng.IntN(3)]
				in = jdown(node, r)
			case k < 15:
				in = jVotingTO
				if rng.IntN(2) == 0 && !j.VotingDeadline.IsZero() {
					at = j.VotingDeadline.Add(time.Duration(rng.IntN(3)-1) * time.Second)
				}
			case k < 17:
				in = jRunTO
				if rng.IntN(2) == 0 && !j.RunDeadline.IsZero() {
					at = j.RunDeadline.Add(time.Duration(rng.IntN(3)-1) * time.Second)
				}
			case k < 18:
				in = jAbort
				if rng.IntN(2) == 0 {
					in = []JobInput{jCrash, {Kind: "bogus"}}[rng.IntN(2)]
				}
			default:
				if rng.IntN(3) == 0 && !j.Finished() { // a corrupt snapshot
					j.Nodes = maps.Clone(j.Nodes)
					j.Nodes[node] = NodeStatus([]string{"", "weird", "was_ready", "timed_out", "new"}[rng.IntN(5)])
				}
				in = jmsg(node, msgs[rng.IntN(len(msgs))])
			}
			if rng.IntN(4) == 0 { // through the store and back
				b, err := json.Marshal(j)
				if err != nil {
					fail("marshal: %v", err)
				}
				var back Job
				if err := json.Unmarshal(b, &back); err != nil {
					fail("unmarshal: %v", err)
				}
				j = back
			}
			trace = append(trace, fmt.Sprintf("%d: %s %+v at %v", step, j.Status, in, at.Sub(jobT0)))
			before := j
			var evs []Event
			var cmds []Command
			j, evs, cmds, err = j.Apply(in, at)
			for _, e := range evs {
				trace = append(trace, "   "+e.Name+" "+string(e.Data))
			}
			check(before, in, j, evs, cmds, err)
			history = append(history, evs...)
		}

		completes := 0
		var last string
		for _, e := range history {
			if e.Name == EventJobComplete {
				completes++
			}
			// The layout is fixed width, so the text orders like the time.
			ts := string(e.Data[len(`{"timestamp":"`) : len(`{"timestamp":"`)+len(jobTimeLayout)])
			if ts <= last {
				fail("timestamp %s after %s", ts, last)
			}
			last = ts
		}
		outcomes[j.Status]++
		if want := map[bool]int{true: 1, false: 0}[j.Finished()]; completes != want {
			fail("%d job_complete, finished %v", completes, j.Finished())
		}
		if history[len(history)-1].Name != EventJobComplete && j.Finished() {
			fail("history does not end with job_complete")
		}
	}
}

// expectedMessage is what a well-behaved node says next in job j.
func expectedMessage(j Job, node string, rng *rand.Rand) NodeMessageType {
	switch st := j.Nodes[node]; {
	case st == NodeNew:
		return MsgAckCommit
	case st == NodeReady && j.Status == JobRunning:
		return MsgAckRun
	case st == NodeRunning:
		return []NodeMessageType{MsgSucceeded, MsgFailed}[rng.IntN(2)]
	case j.AbortOwed[node]:
		return MsgAborted
	}
	return MsgAckCommit
}
