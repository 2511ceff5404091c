package lifecycle

import (
	"maps"
	"slices"
	"time"
)

// JobStatus is where a push job is in its lifecycle (SPEC §5.2).
type JobStatus string

// The job statuses. A job is created new, goes voting at once, then running,
// and ends in one of the five finished statuses.
const (
	JobNew          JobStatus = "new"
	JobVoting       JobStatus = "voting"
	JobRunning      JobStatus = "running"
	JobComplete     JobStatus = "complete"
	JobQuorumFailed JobStatus = "quorum_failed"
	JobTimedOut     JobStatus = "timed_out"
	JobAborted      JobStatus = "aborted"
	JobCrashed      JobStatus = "crashed"
)

// Finished reports whether s is one of the statuses a job ends in.
func (s JobStatus) Finished() bool {
	switch s {
	case JobComplete, JobQuorumFailed, JobTimedOut, JobAborted, JobCrashed:
		return true
	}
	return false
}

// NodeStatus is where one node is within one job (SPEC §5.2).
type NodeStatus string

// The node statuses within a job. new, ready and running are active; every
// other status is terminal: the machine never moves a node out of it.
const (
	NodeNew         NodeStatus = "new"
	NodeReady       NodeStatus = "ready"
	NodeRunning     NodeStatus = "running"
	NodeSucceeded   NodeStatus = "succeeded"
	NodeFailed      NodeStatus = "failed"
	NodeAborted     NodeStatus = "aborted"
	NodeUnavailable NodeStatus = "unavailable"
	NodeNacked      NodeStatus = "nacked"
	NodeCrashed     NodeStatus = "crashed"
	NodeWasReady    NodeStatus = "was_ready"
	NodeTimedOut    NodeStatus = "timed_out"
)

// Active reports whether s is new, ready or running: the node still takes
// part in the job.
func (s NodeStatus) Active() bool { return s == NodeNew || s == NodeReady || s == NodeRunning }

func (s NodeStatus) valid() bool {
	switch s {
	case NodeNew, NodeReady, NodeRunning, NodeSucceeded, NodeFailed, NodeAborted,
		NodeUnavailable, NodeNacked, NodeCrashed, NodeWasReady, NodeTimedOut:
		return true
	}
	return false
}

// JobSpec is what was asked: the validated POST /pushy/jobs body plus the
// requesting key. Its JSON form is the stored snapshot's, not the REST body
// (which must not be able to set requested_by): decode the body elsewhere and
// run ValidateJobSpec on the result.
type JobSpec struct {
	Command    string   `json:"command"`
	Nodes      []string `json:"nodes"`
	RunTimeout int      `json:"run_timeout"` // seconds; 0 and !RunTimeoutSet → 3600
	Quorum     int      `json:"quorum"`      // 0 and !QuorumSet → len(Nodes)
	// RunTimeoutSet and QuorumSet tell an explicit 0 (refused) from an
	// absent key (defaulted). A non-zero value counts as given either way.
	RunTimeoutSet bool              `json:"-"`
	QuorumSet     bool              `json:"-"`
	User          string            `json:"user,omitempty"` // run-as user
	Dir           string            `json:"dir,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	File          string            `json:"file,omitempty"` // "raw:…" or "base64:…"
	// FileDigest stands for File once it was dropped (DropFile): the job
	// has a file, kept only in its start record.
	FileDigest    string `json:"file_sha256,omitempty"`
	CaptureOutput bool   `json:"capture_output,omitempty"`
	RequestedBy   string `json:"requested_by"` // access key of the caller
}

// Command is an order for a node agent, sent on its command feed (SPEC §5.5).
// The payload of a commit is taken from the job's spec by the caller.
type Command struct {
	Node  string `json:"node"`
	Type  string `json:"type"` // CmdCommit, CmdRun or CmdAbort
	JobID string `json:"job_id"`
}

// Command types.
const (
	CmdCommit = "commit"
	CmdRun    = "run"
	CmdAbort  = "abort"
)

// Job is one push job: a pure value, stored whole as the snapshot of every
// transition. Timers are deadlines in the snapshot; whoever fires one applies
// InputVotingTimeout or InputRunTimeout, which is a no-op unless the deadline
// is armed and reached.
type Job struct {
	ID     string                `json:"id"`
	Domain string                `json:"domain"`
	Spec   JobSpec               `json:"spec"`
	Status JobStatus             `json:"status"`
	Nodes  map[string]NodeStatus `json:"nodes"`
	// AbortOwed holds the nodes this job has sent abort and that have not
	// answered aborted yet: nodes sent to rehab and nodes stopped by an abort.
	// Such a node is not available (SPEC §5.2.6).
	AbortOwed      map[string]bool `json:"abort_owed,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	VotingDeadline time.Time       `json:"voting_deadline,omitzero"` // zero when not armed
	RunDeadline    time.Time       `json:"run_deadline,omitzero"`    // zero when not armed
	LastEventAt    time.Time       `json:"last_event_at"`            // timestamp of the last event
	// Version counts the transitions that changed the job: an input that
	// leaves it equal to the one given returns it with the same Version,
	// and the caller has nothing to append.
	Version uint64 `json:"version"`
}

// Finished reports whether the job has ended (its job_complete is emitted).
func (j Job) Finished() bool { return j.Status.Finished() }

// OwedAborts returns, sorted, the nodes this job is sending abort until they
// answer aborted.
func (j Job) OwedAborts() []string {
	return slices.Sorted(maps.Keys(j.AbortOwed))
}

// Engaged reports whether node takes part in the live job: it is new, ready
// or running in it. Such a node is busy for other jobs.
func (j Job) Engaged(node string) bool {
	return !j.Finished() && j.Nodes[node].Active()
}

// PendingCommand returns what node still owes this job to be told (SPEC
// §5.5, a command feed opened without Last-Event-ID): abort while it is owed
// one, commit while it is new in a voting job, run while it is ready in a
// running job.
func (j Job) PendingCommand(node string) (Command, bool) {
	switch {
	case j.AbortOwed[node]:
		return Command{Node: node, Type: CmdAbort, JobID: j.ID}, true
	case j.Status == JobVoting && j.Nodes[node] == NodeNew:
		return Command{Node: node, Type: CmdCommit, JobID: j.ID}, true
	case j.Status == JobRunning && j.Nodes[node] == NodeReady:
		return Command{Node: node, Type: CmdRun, JobID: j.ID}, true
	}
	return Command{}, false
}

// isMember reports whether node is one of the job's nodes.
func (j Job) isMember(node string) bool {
	if _, ok := j.Nodes[node]; ok {
		return true
	}
	return slices.Contains(j.Spec.Nodes, node)
}

// nodeOrder returns the job's nodes in the order they were requested, then any
// node the snapshot knows beyond them, sorted. Events about several nodes
// follow this order, so transitions are deterministic.
func (j Job) nodeOrder() []string {
	order := slices.Clone(j.Spec.Nodes)
	var extra []string
	for n := range j.Nodes {
		if !slices.Contains(j.Spec.Nodes, n) {
			extra = append(extra, n)
		}
	}
	slices.Sort(extra)
	return append(order, extra...)
}

// fault explains why a live job's snapshot cannot be continued, or is "".
func (j Job) fault() string {
	switch j.Status {
	case JobVoting, JobRunning:
	default:
		return "status " + string(j.Status) + " is not a status a job can continue from"
	}
	if len(j.Spec.Nodes) == 0 || len(j.Nodes) != len(j.Spec.Nodes) {
		return "the node list and the node states disagree"
	}
	if j.Spec.Quorum < 1 || j.Spec.Quorum > len(j.Spec.Nodes) || j.Spec.RunTimeout < 1 {
		return "the quorum or the run timeout is out of range"
	}
	active := 0
	for _, n := range j.Spec.Nodes {
		st, ok := j.Nodes[n]
		if !ok || !st.valid() {
			return "node " + n + " has no valid status"
		}
		if st.Active() {
			active++
		}
		var allowed bool
		if j.Status == JobVoting {
			allowed = st == NodeNew || st == NodeReady || st == NodeNacked || st == NodeUnavailable
		} else {
			allowed = st != NodeNew && st != NodeAborted && st != NodeWasReady && st != NodeTimedOut
		}
		if !allowed {
			return "node " + n + " is " + string(st) + " in a " + string(j.Status) + " job"
		}
	}
	if j.Status == JobVoting && (j.VotingDeadline.IsZero() || j.countNodes(NodeNew) == 0) {
		return "voting has no timer or no node left to vote"
	}
	if j.Status == JobRunning && (j.RunDeadline.IsZero() || active == 0) {
		return "running has no timer or no node left to run"
	}
	return ""
}

func (j Job) countNodes(st NodeStatus) int {
	c := 0
	for _, s := range j.Nodes {
		if s == st {
			c++
		}
	}
	return c
}
