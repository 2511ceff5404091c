package views

import (
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// JobEntry is a push job's snapshot with the position of its records.
type JobEntry struct {
	Job        lifecycle.Job
	Seq        uint64 // last record on the job's subject
	CreatedSeq uint64 // first record (its start): the list's order
	// FinishedSeq is the record holding its job_complete, 0 while it runs.
	// (Its subject is jobSubject's: not kept, to spare memory.)
	FinishedSeq uint64
}

func jobSubject(j *lifecycle.Job) string { return store.Subject("job", j.Domain, j.ID) }

// CommandRef is where the last command a job sent a node was stored: the
// record's sequence and the command's index among the record's events and
// commands, which together make its SSE id.
type CommandRef struct {
	Seq  uint64
	Idx  uint32
	Type string
}

type jobKey struct{ domain, id string }

// nodeKey names a push node: node names are unique within a domain.
type nodeKey struct{ domain, name string }

type jobNodeKey struct{ domain, job, node string }

// pushyState is the push-jobs part of the views, guarded by Views.mu.
type pushyState struct {
	seq      uint64                          // last job/node/output record applied
	jobs     map[jobKey]*JobEntry            // every retained job
	live     map[jobKey]*JobEntry            // the jobs not finished yet
	open     map[string]int                  // domain → how many of live are its
	order    map[string][]*JobEntry          // domain → its jobs by CreatedSeq
	involved map[nodeKey]map[string]struct{} // node → jobs it is engaged in or owes an abort
	cmds     map[jobNodeKey]CommandRef       // last command of a job to a node
	outputs  map[jobNodeKey]uint64           // seq of a node's captured output
	nodes    map[nodeKey]*NodeEntry          // presence
	purged   map[string]uint64               // domain → last record of its purged jobs
	// The most entries cmds and involved held since they were last
	// rebuilt: a map never gives back its table, so one big job (a
	// command to each of 10,000 nodes) would leave it sized for them.
	cmdsPeak, involvedPeak int
}

// shrinkBelow is the size under which a map is never rebuilt.
const shrinkBelow = 4096

// shrunk returns m, or a copy sized to its entries when it holds a quarter
// or less of the most it held (peak, updated) and that was at least
// shrinkBelow: the copy's cost is paid by the deletions since the peak.
func shrunk[K comparable, V any](m map[K]V, peak *int) map[K]V {
	n := len(m)
	if n > *peak {
		*peak = n
		return m
	}
	if *peak < shrinkBelow || n > *peak/4 {
		return m
	}
	out := make(map[K]V, n)
	for k, v := range m {
		out[k] = v
	}
	*peak = n
	return out
}

func newPushyState() pushyState {
	return pushyState{
		jobs:     map[jobKey]*JobEntry{},
		live:     map[jobKey]*JobEntry{},
		open:     map[string]int{},
		order:    map[string][]*JobEntry{},
		involved: map[nodeKey]map[string]struct{}{},
		cmds:     map[jobNodeKey]CommandRef{},
		outputs:  map[jobNodeKey]uint64{},
		nodes:    map[nodeKey]*NodeEntry{},
		purged:   map[string]uint64{},
	}
}

// OutputSnapshot is the snapshot of an "output" record: what a node
// reported on stdout and stderr for a job that captures output.
type OutputSnapshot struct {
	JobID  string  `json:"job_id"`
	Node   string  `json:"node"`
	Stdout *string `json:"stdout,omitempty"`
	Stderr *string `json:"stderr,omitempty"`
}

// applyPushy folds a job, node or output record into the views.
func (v *Views) applyPushy(m *store.Msg) error {
	r := &m.Record
	switch r.Kind {
	case "job":
		var j lifecycle.Job
		if err := json.Unmarshal(r.Snapshot, &j); err != nil {
			return err
		}
		if j.ID == "" || j.Domain == "" {
			return errors.New("job snapshot without id or domain")
		}
		// The file stays in the start record only (commits are read from
		// there); the views and later records carry its digest.
		j.Spec.DropFile()
		v.mu.Lock()
		v.shareJobLocked(&j)
		v.applyJobLocked(j, m)
		v.mu.Unlock()
	case "node":
		var n NodeState
		if err := json.Unmarshal(r.Snapshot, &n); err != nil {
			return err
		}
		v.mu.Lock()
		v.applyNodeLocked(n, m)
		v.mu.Unlock()
	case "output":
		var o OutputSnapshot
		if err := json.Unmarshal(r.Snapshot, &o); err != nil {
			return err
		}
		v.mu.Lock()
		v.pushy.outputs[jobNodeKey{r.Domain, o.JobID, o.Node}] = m.Seq
		v.pushy.seq = m.Seq
		v.mu.Unlock()
	}
	return nil
}

func (v *Views) applyJobLocked(j lifecycle.Job, m *store.Msg) {
	p := &v.pushy
	k := jobKey{j.Domain, j.ID}
	e := &JobEntry{Job: j, Seq: m.Seq, CreatedSeq: m.Seq}
	for _, ev := range m.Record.Events {
		if ev.Name == lifecycle.EventJobComplete {
			e.FinishedSeq = m.Seq
		}
	}
	if old := p.jobs[k]; old != nil {
		e.CreatedSeq = old.CreatedSeq
		if old.FinishedSeq != 0 {
			e.FinishedSeq = old.FinishedSeq
		}
		list := p.order[j.Domain]
		if i := sort.Search(len(list), func(i int) bool { return list[i].CreatedSeq >= old.CreatedSeq }); i < len(list) && list[i] == old {
			list[i] = e
		}
	} else {
		p.order[j.Domain] = append(p.order[j.Domain], e)
	}
	p.jobs[k] = e
	if j.Finished() {
		p.setLive(k, nil)
	} else {
		p.setLive(k, e)
	}
	events := len(m.Record.Events)
	for i, c := range m.Record.Commands {
		p.cmds[jobNodeKey{j.Domain, j.ID, c.Node}] = CommandRef{Seq: m.Seq, Idx: uint32(events + i), Type: constant(c.Type, commandTypes)}
	}
	for n := range j.Nodes {
		nk := nodeKey{j.Domain, n}
		if j.Engaged(n) || j.AbortOwed[n] {
			set := p.involved[nk]
			if set == nil {
				set = map[string]struct{}{}
				p.involved[nk] = set
			}
			set[j.ID] = struct{}{}
			continue
		}
		if set := p.involved[nk]; set != nil {
			delete(set, j.ID)
			if len(set) == 0 {
				delete(p.involved, nk)
			}
		}
		// Only OwedCommands reads the last command to a node, and only
		// for the jobs the node is involved in. A node becomes involved
		// again only with a command in the same record (a commit at the
		// start, an abort when one is owed), which sets the entry anew.
		delete(p.cmds, jobNodeKey{j.Domain, j.ID, n})
	}
	p.cmds = shrunk(p.cmds, &p.cmdsPeak)
	p.involved = shrunk(p.involved, &p.involvedPeak)
	p.seq = m.Seq
}

// setLive records whether a job is unfinished (e) or not (nil), keeping
// the per-domain count of open jobs.
func (p *pushyState) setLive(k jobKey, e *JobEntry) {
	_, was := p.live[k]
	if e == nil {
		delete(p.live, k)
		if was {
			if p.open[k.domain]--; p.open[k.domain] <= 0 {
				delete(p.open, k.domain)
			}
		}
		return
	}
	p.live[k] = e
	if !was {
		p.open[k.domain]++
	}
}

// OpenJobs returns how many jobs of domain have not finished.
func (v *Views) OpenJobs(domain string) int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.pushy.open[domain]
}

// expiredPushyLocked lists the subjects of jobs that finished before cutoff:
// the job's and its outputs'.
func (v *Views) expiredPushyLocked(cutoff time.Time) []string {
	var out []string
	for _, e := range v.pushy.jobs {
		if e.Job.Finished() && e.Job.UpdatedAt.Before(cutoff) {
			out = append(out, jobSubject(&e.Job))
			if e.Job.Spec.CaptureOutput {
				out = append(out, OutputSubject(e.Job.Domain, e.Job.ID, "")+">")
			}
		}
	}
	return out
}

// OutputSubject is the subject of a node's output for a job; with node ""
// it is the prefix of the job's output subjects (ending in ".").
func OutputSubject(domain, job, node string) string {
	if node == "" {
		return store.Subject("output", domain, job) + "."
	}
	return store.Subject("output", domain, job, node)
}

// forgetPushyLocked drops the jobs whose subjects were purged.
func (v *Views) forgetPushyLocked(gone map[string]bool) {
	p := &v.pushy
	touched := map[string]bool{}
	for k, e := range p.jobs {
		if !gone[jobSubject(&e.Job)] {
			continue
		}
		delete(p.jobs, k)
		p.setLive(k, nil)
		touched[k.domain] = true
		p.purged[k.domain] = max(p.purged[k.domain], e.Seq)
		for n := range e.Job.Nodes {
			jn := jobNodeKey{k.domain, k.id, n}
			delete(p.cmds, jn)
			delete(p.outputs, jn)
			nk := nodeKey{k.domain, n}
			if set := p.involved[nk]; set != nil {
				delete(set, k.id)
				if len(set) == 0 {
					delete(p.involved, nk)
				}
			}
		}
	}
	p.cmds = shrunk(p.cmds, &p.cmdsPeak)
	p.involved = shrunk(p.involved, &p.involvedPeak)
	for d := range touched {
		list := p.order[d][:0]
		for _, e := range p.order[d] {
			if p.jobs[jobKey{d, e.Job.ID}] == e {
				list = append(list, e)
			}
		}
		if len(list) == 0 {
			delete(p.order, d)
		} else {
			p.order[d] = list
		}
	}
}
