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

func sessionState(st lifecycle.SessionState) lifecycle.SessionState {
	switch st {
	case lifecycle.SessionEnqueued:
		return lifecycle.SessionEnqueued
	case lifecycle.SessionPreparing:
		return lifecycle.SessionPreparing
	case lifecycle.SessionPulling:
		return lifecycle.SessionPulling
	case lifecycle.SessionCreating:
		return lifecycle.SessionCreating
	case lifecycle.SessionStarted:
		return lifecycle.SessionStarted
	case lifecycle.SessionTerminating:
		return lifecycle.SessionTerminating
	case lifecycle.SessionTerminated:
		return lifecycle.SessionTerminated
	}
	return st
}

func jobStatus(st lifecycle.JobStatus) lifecycle.JobStatus {
	switch st {
	case lifecycle.JobNew:
		return lifecycle.JobNew
	case lifecycle.JobVoting:
		return lifecycle.JobVoting
	case lifecycle.JobRunning:
		return lifecycle.JobRunning
	case lifecycle.JobComplete:
		return lifecycle.JobComplete
	case lifecycle.JobQuorumFailed:
		return lifecycle.JobQuorumFailed
	case lifecycle.JobTimedOut:
		return lifecycle.JobTimedOut
	case lifecycle.JobAborted:
		return lifecycle.JobAborted
	case lifecycle.JobCrashed:
		return lifecycle.JobCrashed
	}
	return st
}

func nodeStatus(st lifecycle.NodeStatus) lifecycle.NodeStatus {
	switch st {
	case lifecycle.NodeNew:
		return lifecycle.NodeNew
	case lifecycle.NodeReady:
		return lifecycle.NodeReady
	case lifecycle.NodeRunning:
		return lifecycle.NodeRunning
	case lifecycle.NodeSucceeded:
		return lifecycle.NodeSucceeded
	case lifecycle.NodeFailed:
		return lifecycle.NodeFailed
	case lifecycle.NodeAborted:
		return lifecycle.NodeAborted
	case lifecycle.NodeUnavailable:
		return lifecycle.NodeUnavailable
	case lifecycle.NodeNacked:
		return lifecycle.NodeNacked
	case lifecycle.NodeCrashed:
		return lifecycle.NodeCrashed
	case lifecycle.NodeWasReady:
		return lifecycle.NodeWasReady
	case lifecycle.NodeTimedOut:
		return lifecycle.NodeTimedOut
	}
	return st
}

func taskStatus(st lifecycle.TaskStatus) lifecycle.TaskStatus {
	switch st {
	case lifecycle.TaskRunning:
		return lifecycle.TaskRunning
	case lifecycle.TaskDone:
		return lifecycle.TaskDone
	case lifecycle.TaskFailed:
		return lifecycle.TaskFailed
	case lifecycle.TaskCancelled:
		return lifecycle.TaskCancelled
	}
	return st
}

// commandType returns a command's type as the package constant.
func commandType(t string) string {
	switch t {
	case lifecycle.CmdCommit:
		return lifecycle.CmdCommit
	case lifecycle.CmdRun:
		return lifecycle.CmdRun
	case lifecycle.CmdAbort:
		return lifecycle.CmdAbort
	}
	return t
}

func (v *Views) shareSessionLocked(s *lifecycle.Session) {
	s.Domain = v.strs.get(s.Domain)
	s.OwnerAccessKey = v.strs.get(s.OwnerAccessKey)
	s.Group = v.strs.get(s.Group)
	s.State = sessionState(s.State)
	s.Result = sharedResult(s.Result)
}

func (v *Views) shareTaskLocked(t *lifecycle.Task) {
	t.Domain = v.strs.get(t.Domain)
	t.Owner = v.strs.get(t.Owner)
	t.Creator = v.strs.get(t.Creator)
	t.Status = taskStatus(t.Status)
}

// shareJobLocked makes a decoded job share its strings: the node list is
// rebuilt at its exact length from the names of the nodes' presence
// records where there are some, and the node states and owed aborts are
// keyed by those same strings, sized to what they hold.
func (v *Views) shareJobLocked(j *lifecycle.Job) {
	j.Domain = v.strs.get(j.Domain)
	j.Status = jobStatus(j.Status)
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
