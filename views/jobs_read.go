package views

import (
	"slices"
	"sort"
	"time"

	"github.com/herald-sse/herald/lifecycle"
)

// The push-jobs queries of the api: jobs, what nodes owe, what is due.

// Job returns a job of a domain. The entry shares its maps with the views:
// read it, never modify it.
func (v *Views) Job(domain, id string) (JobEntry, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	e, ok := v.pushy.jobs[jobKey{domain, id}]
	if !ok {
		return JobEntry{}, false
	}
	return *e, true
}

// Jobs returns up to limit jobs of domain that keep accepts, newest first,
// created before the job `before` when it is not "", and whether more
// remain. It reports false when `before` names no job of the domain.
func (v *Views) Jobs(domain, before string, limit int, keep func(*JobEntry) bool) ([]JobEntry, bool, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	list := v.pushy.order[domain]
	end := len(list)
	if before != "" {
		b, ok := v.pushy.jobs[jobKey{domain, before}]
		if !ok {
			return nil, false, false
		}
		end = sort.Search(len(list), func(i int) bool { return list[i].CreatedSeq >= b.CreatedSeq })
	}
	out := make([]JobEntry, 0, min(limit, end))
	for i := end - 1; i >= 0; i-- {
		if !keep(list[i]) {
			continue
		}
		if len(out) == limit {
			return out, true, true
		}
		out = append(out, *list[i])
	}
	return out, false, true
}

// NodeJobs returns the jobs node of domain is engaged in or owes an abort
// to, oldest first.
func (v *Views) NodeJobs(domain, node string) []JobEntry {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.nodeJobsLocked(nodeKey{domain, node})
}

func (v *Views) nodeJobsLocked(nk nodeKey) []JobEntry {
	set := v.pushy.involved[nk]
	out := make([]JobEntry, 0, len(set))
	for id := range set {
		if e := v.pushy.jobs[jobKey{nk.domain, id}]; e != nil {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedSeq < out[j].CreatedSeq })
	return out
}

// OwedCommand is a command a node still owes an answer to (SPEC §5.5).
type OwedCommand struct {
	Job lifecycle.Job
	Cmd lifecycle.Command
	Ref CommandRef // where it was sent; Seq 0 when unknown
	// StartSeq is the job's start record, which holds its file.
	StartSeq uint64
}

// OwedCommands returns what node of domain is still to be told — commit
// where it is new, run where it is ready, abort while in rehab — ordered by
// where each was sent, and the sequence of the last push record the answer
// reflects: commands stored at or below it are covered.
func (v *Views) OwedCommands(domain, node string) ([]OwedCommand, uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []OwedCommand
	for _, e := range v.nodeJobsLocked(nodeKey{domain, node}) {
		c, ok := e.Job.PendingCommand(node)
		if !ok {
			continue
		}
		ref := v.pushy.cmds[jobNodeKey{domain, e.Job.ID, node}]
		if ref.Type != c.Type {
			ref = CommandRef{}
		}
		out = append(out, OwedCommand{Job: e.Job, Cmd: c, Ref: ref, StartSeq: e.CreatedSeq})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Ref, out[j].Ref
		return a.Seq < b.Seq || a.Seq == b.Seq && a.Idx < b.Idx
	})
	return out, v.pushy.seq
}

// Output returns the sequence of the record holding node's output for a job.
func (v *Views) Output(domain, job, node string) (uint64, bool) {
	v.mu.RLock()
	seq, ok := v.pushy.outputs[jobNodeKey{domain, job, node}]
	v.mu.RUnlock()
	return seq, ok
}

// DueJobs returns the live jobs whose voting or run deadline is reached.
func (v *Views) DueJobs(now time.Time) []JobEntry {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []JobEntry
	for _, e := range v.pushy.live {
		j := &e.Job
		if j.Status == lifecycle.JobVoting && !j.VotingDeadline.IsZero() && !now.Before(j.VotingDeadline) ||
			j.Status == lifecycle.JobRunning && !j.RunDeadline.IsZero() && !now.Before(j.RunDeadline) {
			out = append(out, *e)
		}
	}
	return out
}

// OrgHistory returns, in order, the sequences from..upto of the records of
// domain's retained jobs that hold a start or a job_complete: what the
// organization feed replays. One lookup per job, not a scan of its records.
func (v *Views) OrgHistory(domain string, from, upto uint64) []uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []uint64
	for _, e := range v.pushy.order[domain] {
		for _, seq := range [2]uint64{e.CreatedSeq, e.FinishedSeq} {
			if seq >= from && seq <= upto && seq != 0 {
				out = append(out, seq)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PurgedUpTo returns the last record of domain's jobs that this process
// saw purged by the retention: history at or below it has gaps. (A process
// that starts after a purge cannot know it; the store's first sequence is
// the guard left then.)
func (v *Views) PurgedUpTo(domain string) uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.pushy.purged[domain]
}

// OldestJobTime returns when the oldest retained job of domain started.
func (v *Views) OldestJobTime(domain string) (time.Time, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	list := v.pushy.order[domain]
	if len(list) == 0 {
		return time.Time{}, false
	}
	return list[0].Job.CreatedAt, true
}
