package lifecycle

import (
	"maps"
	"time"
)

// jobTx accumulates one transition of a job.
type jobTx struct {
	orig    Job
	j       Job
	now     time.Time
	events  []Event
	cmds    []Command
	changed bool
	// reason is the node's reason given with the message being applied
	// (failure votes and failed runs carry it).
	reason string
}

func newJobTx(j Job, now time.Time) *jobTx {
	n := j
	n.Nodes = maps.Clone(j.Nodes)
	n.AbortOwed = maps.Clone(j.AbortOwed)
	return &jobTx{orig: j, j: n, now: now}
}

// instant is now in UTC to the microsecond.
func (t *jobTx) instant() time.Time { return t.now.UTC().Truncate(time.Microsecond) }

// stamp returns the timestamp of the next event: now, or one microsecond
// after the previous event when now is not later than it.
func (t *jobTx) stamp() string {
	ts := t.instant()
	if last := t.j.LastEventAt.UTC(); !ts.After(last) {
		ts = last.Add(time.Microsecond)
	}
	t.j.LastEventAt = ts
	return formatJobTime(ts)
}

func (t *jobTx) emit(name string, data any) {
	t.events = append(t.events, Event{Name: name, Data: jsonData(data)})
	t.changed = true
}

func (t *jobTx) send(node, typ string) {
	t.cmds = append(t.cmds, Command{Node: node, Type: typ, JobID: t.j.ID})
	t.changed = true
}

func (t *jobTx) setNode(node string, st NodeStatus) {
	if t.j.Nodes == nil {
		t.j.Nodes = make(map[string]NodeStatus)
	}
	t.j.Nodes[node] = st
	t.changed = true
}

func (t *jobTx) owe(node string) {
	if t.j.AbortOwed == nil {
		t.j.AbortOwed = make(map[string]bool)
	}
	t.j.AbortOwed[node] = true
	t.changed = true
}

func (t *jobTx) unowe(node string) {
	if t.j.AbortOwed[node] {
		delete(t.j.AbortOwed, node)
		t.changed = true
	}
}

// rehab sends node to rehab: the rehab event, an abort, and the abort owed.
func (t *jobTx) rehab(node string) {
	t.emit(EventRehab, nodeData{Timestamp: t.stamp(), Node: node})
	t.send(node, CmdAbort)
	t.owe(node)
}

func (t *jobTx) vote(node, status string) {
	d := nodeStatusData{Timestamp: t.stamp(), Node: node, Status: status}
	if status == VoteFailure {
		d.Reason = t.reason
	}
	t.emit(EventQuorumVote, d)
}

func (t *jobTx) runStart(node string) {
	t.emit(EventRunStart, nodeData{Timestamp: t.stamp(), Node: node})
}

func (t *jobTx) runComplete(node, status string) {
	d := nodeStatusData{Timestamp: t.stamp(), Node: node, Status: status}
	if status == RunFailure {
		d.Reason = t.reason
	}
	t.emit(EventRunComplete, d)
}

// finish ends the job with status: timers disarmed, job_complete emitted.
func (t *jobTx) finish(status JobStatus) {
	t.j.Status = status
	t.j.VotingDeadline = time.Time{}
	t.j.RunDeadline = time.Time{}
	t.emit(EventJobComplete, statusData{Timestamp: t.stamp(), Status: string(status)})
}

// result returns the transition's outcome; j unchanged when nothing changed.
func (t *jobTx) result() (Job, []Event, []Command) {
	if !t.changed {
		return t.orig, nil, nil
	}
	u := t.instant()
	if len(t.events) > 0 {
		u = t.j.LastEventAt
	}
	if u.After(t.j.UpdatedAt) {
		t.j.UpdatedAt = u
	}
	if len(t.j.AbortOwed) == 0 {
		t.j.AbortOwed = nil
	}
	t.j.Version++
	return t.j, t.events, t.cmds
}
