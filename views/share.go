package views

import "github.com/herald-sse/herald/lifecycle"

// Memory per retained entity (issue 11, item 5). Every record the views
// apply is decoded into fresh strings and maps; the views keep the last one
// of each entity for as long as it is retained. What follows makes the
// kept value share what it can instead of holding its own copies: the
// strings many entities repeat (domain, access keys, group) are taken from
// a bounded table, statuses are the package constants, a job's node states
// are keyed by the very strings of its spec's node list, and those are the
// node's presence record's when the node is known. Values and JSON are
// unchanged: only where the bytes live changes.

// maxInterned bounds the table of shared strings. Past it new strings are
// kept as they come (correct, only not shared): the values interned are
// names of auth objects (domains, groups, access keys), a few thousand in
// a large deployment.
const maxInterned = 1 << 14

// maxInternedLen is the longest string the table takes.
const maxInternedLen = 128

// interner hands out one copy of each string it has seen. Guarded by
// Views.mu.
type interner struct{ m map[string]string }

func newInterner() interner { return interner{m: map[string]string{}} }

func (x *interner) get(s string) string {
	if c, ok := x.m[s]; ok {
		return c
	}
	if len(x.m) < maxInterned && len(s) <= maxInternedLen {
		x.m[s] = s
	}
	return s
}

// The session results, shared by every session that has one. The views'
// entries are read, never modified, so a shared *string is safe.
var (
	resultUndefined = lifecycle.ResultUndefined
	resultSuccess   = lifecycle.ResultSuccess
	resultFailure   = lifecycle.ResultFailure
)

func sharedResult(p *string) *string {
	if p == nil {
		return nil
	}
	switch *p {
	case lifecycle.ResultUndefined:
		return &resultUndefined
	case lifecycle.ResultSuccess:
		return &resultSuccess
	case lifecycle.ResultFailure:
		return &resultFailure
	}
	return p
}

// The statuses and command types a record may carry, so that the views
// keep the package's strings instead of each record's decoded copies.
var (
	sessionStates = []lifecycle.SessionState{lifecycle.SessionEnqueued, lifecycle.SessionPreparing,
		lifecycle.SessionPulling, lifecycle.SessionCreating, lifecycle.SessionStarted,
		lifecycle.SessionTerminating, lifecycle.SessionTerminated}
	jobStatuses = []lifecycle.JobStatus{lifecycle.JobNew, lifecycle.JobVoting, lifecycle.JobRunning,
		lifecycle.JobComplete, lifecycle.JobQuorumFailed, lifecycle.JobTimedOut, lifecycle.JobAborted,
		lifecycle.JobCrashed}
	nodeStatuses = []lifecycle.NodeStatus{lifecycle.NodeNew, lifecycle.NodeReady, lifecycle.NodeRunning,
		lifecycle.NodeSucceeded, lifecycle.NodeFailed, lifecycle.NodeAborted, lifecycle.NodeUnavailable,
		lifecycle.NodeNacked, lifecycle.NodeCrashed, lifecycle.NodeWasReady, lifecycle.NodeTimedOut}
	taskStatuses = []lifecycle.TaskStatus{lifecycle.TaskRunning, lifecycle.TaskDone, lifecycle.TaskFailed,
		lifecycle.TaskCancelled}
	commandTypes = []string{lifecycle.CmdCommit, lifecycle.CmdRun, lifecycle.CmdAbort}
)

// constant returns the element of known equal to s, or s when none is.
func constant[T ~string](s T, known []T) T {
	for _, k := range known {
		if k == s {
			return k
		}
	}
	return s
}

func nodeStatus(st lifecycle.NodeStatus) lifecycle.NodeStatus { return constant(st, nodeStatuses) }

func (v *Views) shareSessionLocked(s *lifecycle.Session) {
	s.Domain = v.strs.get(s.Domain)
	s.OwnerAccessKey = v.strs.get(s.OwnerAccessKey)
	s.Group = v.strs.get(s.Group)
	s.State = constant(s.State, sessionStates)
	s.Result = sharedResult(s.Result)
}

func (v *Views) shareTaskLocked(t *lifecycle.Task) {
	t.Domain = v.strs.get(t.Domain)
	t.Owner = v.strs.get(t.Owner)
	t.Creator = v.strs.get(t.Creator)
	t.Status = constant(t.Status, taskStatuses)
}

// shareJobLocked makes a decoded job share its strings: the node list is
// rebuilt at its exact length from the names of the nodes' presence
// records where there are some, and the node states and owed aborts are
// keyed by those same strings, sized to what they hold.
func (v *Views) shareJobLocked(j *lifecycle.Job) {
	j.Domain = v.strs.get(j.Domain)
	j.Status = constant(j.Status, jobStatuses)
	j.Spec.RequestedBy = v.strs.get(j.Spec.RequestedBy)
	if len(j.Spec.Nodes) > 0 {
		names := make([]string, len(j.Spec.Nodes))
		for i, n := range j.Spec.Nodes {
			if e := v.pushy.nodes[nodeKey{j.Domain, n}]; e != nil {
				n = e.State.Name
			}
			names[i] = n
		}
		j.Spec.Nodes = names
	}
	j.Nodes = shareKeys(j.Nodes, j.Spec.Nodes, nodeStatus)
	j.AbortOwed = shareKeys(j.AbortOwed, j.Spec.Nodes, func(b bool) bool { return b })
}

// shareKeys returns m with the keys that are in names keyed by names'
// strings and its values passed through same; nil stays nil.
func shareKeys[V any](m map[string]V, names []string, same func(V) V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for _, n := range names {
		if len(out) == len(m) {
			break
		}
		if val, ok := m[n]; ok {
			out[n] = same(val)
		}
	}
	if len(out) < len(m) { // keys outside the node list: kept as they are
		for k, val := range m {
			if _, ok := out[k]; !ok {
				out[k] = same(val)
			}
		}
	}
	return out
}
