package lifecycle

import (
	"maps"
	"time"
	"unicode/utf8"

	herald "github.com/herald-sse/herald"
)

// DefaultVotingTimeout is --voting-timeout's default.
const DefaultVotingTimeout = 60 * time.Second

// JobInputKind names what happened to a job.
type JobInputKind string

// The inputs of the job state machine.
const (
	InputNodeMessage   JobInputKind = "node_message"   // a node's message (Node, Message)
	InputNodeDown      JobInputKind = "node_down"      // a node went down (Node, Reason)
	InputVotingTimeout JobInputKind = "voting_timeout" // the voting timer fired
	InputRunTimeout    JobInputKind = "run_timeout"    // the run timer fired
	InputAbort         JobInputKind = "abort"          // POST …/abort
	InputCrash         JobInputKind = "crash"          // the caller cannot continue the job
)

// NodeMessageType is the type of a node's message (SPEC §5.5).
type NodeMessageType string

// The node message types.
const (
	MsgAckCommit  NodeMessageType = "ack_commit"
	MsgNackCommit NodeMessageType = "nack_commit"
	MsgAckRun     NodeMessageType = "ack_run"
	MsgNackRun    NodeMessageType = "nack_run"
	MsgSucceeded  NodeMessageType = "succeeded"
	MsgFailed     NodeMessageType = "failed"
	MsgAborted    NodeMessageType = "aborted"
)

func (m NodeMessageType) valid() bool {
	switch m {
	case MsgAckCommit, MsgNackCommit, MsgAckRun, MsgNackRun, MsgSucceeded, MsgFailed, MsgAborted:
		return true
	}
	return false
}

// DownReason is why a node went down (SPEC §5.2).
type DownReason string

// The reasons a node goes down.
const (
	MissedHeartbeats DownReason = "missed_heartbeats" // 3 heartbeat intervals without one
	NewIncarnation   DownReason = "new_incarnation"   // it heartbeated as a restarted process
)

// JobInput is one input of the job state machine.
type JobInput struct {
	Kind    JobInputKind
	Node    string          // InputNodeMessage, InputNodeDown
	Message NodeMessageType // InputNodeMessage
	Reason  DownReason      // InputNodeDown
	// Detail is the node's reason for a nack_commit or failed message (at
	// most MaxNodeReason characters), carried as "reason" by the failure
	// vote or failed run it causes (InputNodeMessage).
	Detail string
}

// MaxNodeReason is the most characters of a node's reason herald keeps.
const MaxNodeReason = 200

// StartJob creates job id of domain from spec (validated with ValidateJobSpec)
// at now and starts voting (SPEC §5.2.1). availability[node] is true when the
// node is online, idle and not in rehab; any other node votes down at once.
// votingTimeout ≤ 0 means DefaultVotingTimeout. If no node can vote the job
// finishes at once (quorum_failed).
func StartJob(id, domain string, spec JobSpec, availability map[string]bool, votingTimeout time.Duration, now time.Time) (Job, []Event, []Command, error) {
	if id == "" {
		return Job{}, nil, nil, herald.FieldErrorf("id", "job id is empty")
	}
	spec.Nodes = append([]string(nil), spec.Nodes...)
	spec.Env = maps.Clone(spec.Env)
	if err := ValidateJobSpec(&spec); err != nil {
		return Job{}, nil, nil, err
	}
	if votingTimeout <= 0 {
		votingTimeout = DefaultVotingTimeout
	}
	t := newJobTx(Job{ID: id, Domain: domain, Spec: spec, Status: JobNew}, now)
	t.j.Nodes = make(map[string]NodeStatus, len(spec.Nodes))
	t.emit(EventStart, t.startData())
	t.j.CreatedAt = t.j.LastEventAt
	t.j.Status = JobVoting
	t.j.VotingDeadline = t.instant().Add(votingTimeout)
	for _, n := range spec.Nodes {
		if availability[n] {
			t.setNode(n, NodeNew)
			t.send(n, CmdCommit)
		} else {
			t.setNode(n, NodeUnavailable)
			t.vote(n, VoteDown)
		}
	}
	t.maybeFinishVoting()
	j, evs, cmds := t.result()
	return j, evs, cmds, nil
}

// NodeMessage applies a message of node about this job.
func (j Job) NodeMessage(node string, msg NodeMessageType, now time.Time) (Job, []Event, []Command, error) {
	return j.Apply(JobInput{Kind: InputNodeMessage, Node: node, Message: msg}, now)
}

// NodeReport applies a message of node about this job with the node's
// reason ("" for none): a failure vote or failed run carries it.
func (j Job) NodeReport(node string, msg NodeMessageType, reason string, now time.Time) (Job, []Event, []Command, error) {
	return j.Apply(JobInput{Kind: InputNodeMessage, Node: node, Message: msg, Detail: reason}, now)
}

// NodeDown applies node going down.
func (j Job) NodeDown(node string, reason DownReason, now time.Time) (Job, []Event, []Command, error) {
	return j.Apply(JobInput{Kind: InputNodeDown, Node: node, Reason: reason}, now)
}

// VotingTimeout fires the voting timer: a no-op unless the job is voting and
// now ≥ VotingDeadline.
func (j Job) VotingTimeout(now time.Time) (Job, []Event, []Command, error) {
	return j.Apply(JobInput{Kind: InputVotingTimeout}, now)
}

// RunTimeout fires the run timer: a no-op unless the job is running and
// now ≥ RunDeadline.
func (j Job) RunTimeout(now time.Time) (Job, []Event, []Command, error) {
	return j.Apply(JobInput{Kind: InputRunTimeout}, now)
}

// Abort ends a live job at once (SPEC §5.2.5); a finished job → EConflict.
func (j Job) Abort(now time.Time) (Job, []Event, []Command, error) {
	return j.Apply(JobInput{Kind: InputAbort}, now)
}

// Crash ends a live job with job_complete crashed (SPEC §5.2.8); a no-op on a
// finished job.
func (j Job) Crash(now time.Time) (Job, []Event, []Command, error) {
	return j.Apply(JobInput{Kind: InputCrash}, now)
}

// Apply applies in to the job at now and returns the new job, the events it
// emits (in order, timestamps strictly increasing) and the commands to send.
// j itself is never modified. A refused input returns j and an *herald.Error:
// EInvalid for a malformed input (Field "kind", "type" or "reason"),
// ENotFound for a node that is not part of the job, EConflict for an abort of
// a finished job or any input to a job that was never started.
//
// A live job whose snapshot the machine cannot continue from ends with
// job_complete crashed on whatever input comes next. A finished job emits no
// event any more: a message about it sends the node abort (rehab) and
// aborted ends that; everything else is a no-op.
func (j Job) Apply(in JobInput, now time.Time) (Job, []Event, []Command, error) {
	switch in.Kind {
	case InputNodeMessage:
		if !in.Message.valid() {
			return j, nil, nil, herald.FieldErrorf("type",
				"unknown node message type %q; want ack_commit, nack_commit, ack_run, nack_run, succeeded, failed or aborted", in.Message)
		}
		if n := utf8.RuneCountInString(in.Detail); n > MaxNodeReason {
			return j, nil, nil, herald.FieldErrorf("reason", "is %d characters; at most %d", n, MaxNodeReason)
		}
	case InputNodeDown:
		if in.Reason != MissedHeartbeats && in.Reason != NewIncarnation {
			return j, nil, nil, herald.FieldErrorf("reason", "unknown node down reason %q", in.Reason)
		}
	case InputVotingTimeout, InputRunTimeout, InputAbort, InputCrash:
	default:
		return j, nil, nil, herald.FieldErrorf("kind", "unknown job input %q", in.Kind)
	}
	if j.Status == "" {
		return j, nil, nil, herald.Errorf(herald.EConflict, "job %q has not been started", j.ID)
	}
	if (in.Kind == InputNodeMessage || in.Kind == InputNodeDown) && !j.isMember(in.Node) {
		return j, nil, nil, herald.Errorf(herald.ENotFound, "node %q is not part of job %q", in.Node, j.ID)
	}
	if j.Finished() {
		return j.applyFinished(in, now)
	}
	t := newJobTx(j, now)
	t.reason = in.Detail
	if j.fault() != "" {
		t.crash()
		nj, evs, cmds := t.result()
		return nj, evs, cmds, nil
	}
	switch in.Kind {
	case InputNodeMessage:
		if j.Status == JobVoting {
			t.votingMessage(in.Node, in.Message)
		} else {
			t.runningMessage(in.Node, in.Message)
		}
	case InputNodeDown:
		t.nodeDown(in.Node, in.Reason)
	case InputVotingTimeout:
		if j.Status == JobVoting && !now.Before(j.VotingDeadline) {
			for _, n := range j.nodeOrder() {
				if t.j.Nodes[n] == NodeNew {
					t.setNode(n, NodeUnavailable)
					t.vote(n, VoteTimeout)
				}
			}
			t.maybeFinishVoting()
		}
	case InputRunTimeout:
		if j.Status == JobRunning && !now.Before(j.RunDeadline) {
			for _, n := range j.nodeOrder() {
				if st := t.j.Nodes[n]; st == NodeReady || st == NodeRunning {
					t.setNode(n, NodeTimedOut)
					t.rehab(n)
				}
			}
			t.finish(JobTimedOut)
		}
	case InputAbort:
		for _, n := range j.nodeOrder() {
			if t.j.Nodes[n].Active() {
				t.setNode(n, NodeAborted)
				t.send(n, CmdAbort)
				t.owe(n)
			}
		}
		t.finish(JobAborted)
	case InputCrash:
		t.crash()
	}
	nj, evs, cmds := t.result()
	return nj, evs, cmds, nil
}

// applyFinished handles an input to a finished job (SPEC §5.2.7).
func (j Job) applyFinished(in JobInput, now time.Time) (Job, []Event, []Command, error) {
	switch in.Kind {
	case InputAbort:
		return j, nil, nil, herald.Errorf(herald.EConflict, "job %q is already finished (%s)", j.ID, j.Status)
	case InputNodeMessage:
		t := newJobTx(j, now)
		if in.Message == MsgAborted {
			t.unowe(in.Node)
		} else {
			t.send(in.Node, CmdAbort)
			t.owe(in.Node)
		}
		nj, evs, cmds := t.result()
		return nj, evs, cmds, nil
	}
	return j, nil, nil, nil // node down, timers, crash: nothing left to do
}

// votingMessage is SPEC §5.2.2 for a message from node while voting.
func (t *jobTx) votingMessage(node string, msg NodeMessageType) {
	st := t.j.Nodes[node]
	switch {
	case !st.Active():
		t.terminalMessage(node, msg)
	case msg == MsgAckCommit && st == NodeNew:
		t.setNode(node, NodeReady)
		t.vote(node, VoteSuccess)
	case msg == MsgAckCommit: // ready
		t.vote(node, VoteUnexpectedCommit)
	case msg == MsgNackCommit && st == NodeNew:
		t.setNode(node, NodeNacked)
		t.vote(node, VoteFailure)
	default:
		// nack_commit from ready, or a message that has no place in voting
		// from new or ready: the node is confused and out of this vote.
		t.setNode(node, NodeUnavailable)
		t.rehab(node)
		t.vote(node, VoteLostAvailability)
	}
	t.maybeFinishVoting()
}

// runningMessage is SPEC §5.2.4 for a message from node while running.
func (t *jobTx) runningMessage(node string, msg NodeMessageType) {
	st := t.j.Nodes[node]
	switch {
	case !st.Active():
		t.terminalMessage(node, msg)
	case msg == MsgAckRun && st == NodeReady:
		t.setNode(node, NodeRunning)
		t.runStart(node)
	case msg == MsgAckRun: // running: a repeated ack changes nothing
	case msg == MsgNackRun:
		status := RunNacked
		if st == NodeRunning {
			status = RunNackedWhileRunning
		}
		t.setNode(node, NodeFailed)
		t.rehab(node)
		t.runComplete(node, status)
	case (msg == MsgSucceeded || msg == MsgFailed) && st == NodeRunning:
		if msg == MsgSucceeded {
			t.setNode(node, NodeSucceeded)
			t.runComplete(node, RunSuccess)
		} else {
			t.setNode(node, NodeFailed)
			t.runComplete(node, RunFailure)
		}
	default:
		// succeeded/failed without ack_run, or a message that has no place
		// in running (ack_commit, nack_commit, aborted) from ready/running.
		t.setNode(node, NodeCrashed)
		t.rehab(node)
		t.runComplete(node, RunCrashed)
	}
	t.maybeFinishRunning()
}

// terminalMessage handles a message from a node that is done with this live
// job: aborted ends an owed abort (or is ignored); anything else sends the
// node to rehab again.
func (t *jobTx) terminalMessage(node string, msg NodeMessageType) {
	if msg == MsgAborted {
		t.unowe(node)
		return
	}
	t.rehab(node)
}

// nodeDown is SPEC §5.2.2 and §5.2.4 for a node going down.
func (t *jobTx) nodeDown(node string, reason DownReason) {
	st := t.j.Nodes[node]
	switch {
	case t.j.Status == JobVoting && (st == NodeNew || st == NodeReady):
		t.setNode(node, NodeUnavailable)
		t.vote(node, VoteClientDied)
		t.maybeFinishVoting()
	case t.j.Status == JobRunning && (st == NodeReady || st == NodeRunning):
		status := RunClientDied
		if reason == NewIncarnation {
			status = RunCrashed
		}
		t.setNode(node, NodeCrashed)
		t.runComplete(node, status)
		t.maybeFinishRunning()
	}
}

// maybeFinishVoting is SPEC §5.2.3: when no node is new, the vote is over.
func (t *jobTx) maybeFinishVoting() {
	if t.j.Status != JobVoting || t.j.countNodes(NodeNew) > 0 {
		return
	}
	order := t.j.nodeOrder()
	if t.j.countNodes(NodeReady) >= t.j.Spec.Quorum {
		t.emit(EventQuorumSucceeded, tsData{Timestamp: t.stamp()})
		t.j.Status = JobRunning
		t.j.VotingDeadline = time.Time{}
		t.j.RunDeadline = t.instant().Add(time.Duration(t.j.Spec.RunTimeout) * time.Second)
		for _, n := range order {
			if t.j.Nodes[n] == NodeReady {
				t.send(n, CmdRun)
			}
		}
		return
	}
	for _, n := range order {
		if t.j.Nodes[n] == NodeReady {
			t.setNode(n, NodeWasReady)
			t.rehab(n)
		}
	}
	t.finish(JobQuorumFailed)
}

// maybeFinishRunning is SPEC §5.2.5: complete when no node is ready or running.
func (t *jobTx) maybeFinishRunning() {
	if t.j.Status != JobRunning || t.j.countNodes(NodeReady)+t.j.countNodes(NodeRunning) > 0 {
		return
	}
	t.finish(JobComplete)
}

// crash ends the job crashed (SPEC §5.2.8): every node that may still hold
// the job, or whose state is unknown, is crashed and sent to rehab.
func (t *jobTx) crash() {
	for _, n := range t.j.nodeOrder() {
		st, ok := t.j.Nodes[n]
		if !ok || !st.valid() || st.Active() {
			t.setNode(n, NodeCrashed)
			t.rehab(n)
		}
	}
	t.finish(JobCrashed)
}
