package views

import (
	"sort"
	"time"

	"github.com/herald-sse/herald/store"
)

// MissedBeats is how many heartbeat intervals without a heartbeat make a
// node down (SPEC §5.2).
const MissedBeats = 3

// NodeState is a push node's presence: the snapshot of its node records
// (subject herald.node.<domain>.<node>).
//
// Heartbeats are cheap: a heartbeat writes a record only when something
// changes (incarnation, online, mismatch) or when the last written one is at
// least one interval old. So a node that heartbeats every interval writes at
// most once per interval, and Expires = SeenAt + (MissedBeats+1)·interval:
// a node is declared down between 3 and 4 intervals after its last
// heartbeat, never before 3.
type NodeState struct {
	Domain      string    `json:"domain"`
	Name        string    `json:"name"`
	Incarnation string    `json:"incarnation"`
	Online      bool      `json:"online"`
	SeenAt      time.Time `json:"seen_at"` // the heartbeat this record was written for
	Expires     time.Time `json:"expires"` // down when no record is written before
	// Mismatch is what the node's last heartbeat disagreed with the server
	// about (job ids, comma-separated); a mismatch seen twice in a row sends
	// the node to rehab.
	Mismatch string `json:"mismatch,omitempty"`
}

// NodeEntry is a node's presence with the position of its last record.
type NodeEntry struct {
	State   NodeState
	Seq     uint64
	Subject string
	records int // records applied since the last compaction pass
}

// OnlineAt reports whether the node is online at now.
func (n NodeState) OnlineAt(now time.Time) bool { return n.Online && now.Before(n.Expires) }

// ExpiryAfter is how long after a written heartbeat a node is down.
func ExpiryAfter(interval time.Duration) time.Duration {
	return time.Duration(MissedBeats+1) * interval
}

// Beat returns the presence after a heartbeat at now with incarnation and
// mismatch, and whether it must be written (see NodeState).
func (n NodeState) Beat(incarnation, mismatch string, interval time.Duration, now time.Time) (NodeState, bool) {
	if n.Incarnation == incarnation && n.OnlineAt(now) && n.Mismatch == mismatch && now.Before(n.SeenAt.Add(interval)) {
		return n, false
	}
	n.Incarnation, n.Online, n.Mismatch = incarnation, true, mismatch
	n.SeenAt = now
	n.Expires = now.Add(ExpiryAfter(interval))
	return n, true
}

func (v *Views) applyNodeLocked(n NodeState, m *store.Msg) {
	k := nodeKey{n.Domain, n.Name}
	old := v.pushy.nodes[k]
	if old != nil {
		// The same strings as before: the jobs on this node share its
		// name (shareJobLocked).
		n.Domain, n.Name = old.State.Domain, old.State.Name
	} else {
		n.Domain = v.strs.get(n.Domain)
	}
	e := &NodeEntry{State: n, Seq: m.Seq, Subject: m.Subject, records: 1}
	if old != nil {
		e.records = old.records + 1
		e.Subject = old.Subject
	}
	v.pushy.nodes[k] = e
	v.pushy.seq = m.Seq
}

// Node returns a node's presence.
func (v *Views) Node(domain, name string) (NodeEntry, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e, ok := v.pushy.nodes[nodeKey{domain, name}]
	if !ok {
		return NodeEntry{}, false
	}
	return *e, true
}

// NodeStatus is a node's line in node_states.
type NodeStatus struct {
	Name      string
	Online    bool
	Available bool
}

// NodeStatuses returns the status of each named node of domain at now.
// Available means online, engaged in no live job and owing no abort.
func (v *Views) NodeStatuses(domain string, names []string, now time.Time) []NodeStatus {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]NodeStatus, len(names))
	for i, n := range names {
		k := nodeKey{domain, n}
		e := v.pushy.nodes[k]
		online := e != nil && e.State.OnlineAt(now)
		out[i] = NodeStatus{Name: n, Online: online, Available: online && len(v.pushy.involved[k]) == 0}
	}
	return out
}

// Availability returns, for each named node of domain, whether it can take
// a new job at now.
func (v *Views) Availability(domain string, names []string, now time.Time) map[string]bool {
	out := make(map[string]bool, len(names))
	for _, s := range v.NodeStatuses(domain, names, now) {
		out[s.Name] = s.Available
	}
	return out
}

// HasNode reports whether domain has a presence record for node.
func (v *Views) HasNode(domain, name string) bool {
	_, ok := v.Node(domain, name)
	return ok
}

// DownNode is a node that is down but not yet treated so: still marked
// online, or still engaged in live jobs.
type DownNode struct {
	Domain, Name string
	Jobs         []string // live jobs it is engaged in
	MarkOffline  bool     // its record still says online
}

// NodesDown returns the nodes down at now that the store does not show so
// yet, in a stable order.
func (v *Views) NodesDown(now time.Time) []DownNode {
	v.mu.RLock()
	defer v.mu.RUnlock()
	found := map[nodeKey]*DownNode{}
	for k, e := range v.pushy.nodes {
		if e.State.Online && !e.State.OnlineAt(now) {
			found[k] = &DownNode{Domain: k.domain, Name: k.name, MarkOffline: true}
		}
	}
	for k, set := range v.pushy.involved {
		if e := v.pushy.nodes[k]; e != nil && e.State.OnlineAt(now) {
			continue
		}
		for id := range set {
			j := v.pushy.jobs[jobKey{k.domain, id}]
			if j == nil || !j.Job.Engaged(k.name) {
				continue
			}
			d := found[k]
			if d == nil {
				d = &DownNode{Domain: k.domain, Name: k.name}
				found[k] = d
			}
			d.Jobs = append(d.Jobs, id)
		}
	}
	out := make([]DownNode, 0, len(found))
	for _, d := range found {
		sort.Strings(d.Jobs)
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Domain < out[j].Domain || out[i].Domain == out[j].Domain && out[i].Name < out[j].Name
	})
	return out
}

// NodesToCompact returns the subjects of nodes with more than one record
// applied since the last call: their older records can be purged.
func (v *Views) NodesToCompact() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, e := range v.pushy.nodes {
		if e.records > 1 {
			out = append(out, e.Subject)
			e.records = 0
		}
	}
	return out
}
