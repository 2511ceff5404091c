// Package views keeps the current state of every live entity, built from
// the store's tail: auth objects, tasks, sessions, jobs. The api reads it to
// authorize, to answer reads and first paints, and to decide transitions;
// writes are still checked against the store with optimistic concurrency.
package views

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/seqwait"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// Views is the in-memory state of one herald process.
type Views struct {
	Auth *auth.Directory

	mu       sync.RWMutex
	tasks    map[string]*taskRec // task id → entry
	running  map[string]int      // domain → its tasks not finished
	sessions map[SessionKey]*sessionRec
	strs     interner   // domains, keys, groups the entities share (share.go)
	idem     idemIndex  // msg id → where its write landed (idem.go)
	pushy    pushyState // push jobs and nodes (jobs.go, nodes.go)

	applied seqwait.Position // the last record applied; WaitFor waits on it

	// OnRevoke is called (on the tail goroutine) with each revoked key.
	OnRevoke func(accessKey string)
	// OnLogout is called (on the tail goroutine) with each ended login.
	OnLogout func(accessKey, loginHash string)
}

// TaskEntry is a task's snapshot with the position of its last record.
type TaskEntry struct {
	Task    lifecycle.Task
	Seq     uint64 // last record on the task's subject
	Subject string
}

// taskRec is what the views keep of a task: its subject is derived from
// its domain and id (taskSubject), as the api writes it.
type taskRec struct {
	Task lifecycle.Task
	Seq  uint64
}

func taskSubject(t *lifecycle.Task) string { return store.Subject("task", t.Domain, t.ID) }

// New returns empty views.
func New() *Views {
	return &Views{
		Auth:     auth.NewDirectory(),
		tasks:    map[string]*taskRec{},
		running:  map[string]int{},
		sessions: map[SessionKey]*sessionRec{},
		strs:     newInterner(),
		idem:     newIdemIndex(DefaultIdempotencyBytes),
		pushy:    newPushyState(),
	}
}

// Apply folds one record into the views. The tail calls it in order.
func (v *Views) Apply(m *store.Msg) error {
	r := &m.Record
	var err error
	switch r.Kind {
	case auth.KindDomain, auth.KindGroup, auth.KindKey, auth.KindLogin:
		var revoked string
		revoked, err = v.Auth.Apply(r.Kind, r.Snapshot, r.Deleted)
		if revoked != "" && v.OnRevoke != nil {
			v.OnRevoke(revoked)
		}
		if err == nil && r.Kind == auth.KindLogin && r.Deleted && v.OnLogout != nil {
			var l auth.Login
			if json.Unmarshal(r.Snapshot, &l) == nil {
				v.OnLogout(l.AccessKey, l.Hash)
			}
		}
	case "session":
		var s lifecycle.Session
		if s, err = lifecycle.ParseSession(r.Snapshot); err == nil {
			v.applySession(s, m.Seq)
		}
	case "job", "node", "output":
		err = v.applyPushy(m)
	case "task":
		var t lifecycle.Task
		if err = json.Unmarshal(r.Snapshot, &t); err == nil {
			v.mu.Lock()
			v.shareTaskLocked(&t)
			v.countTaskLocked(v.tasks[t.ID], -1)
			v.tasks[t.ID] = &taskRec{Task: t, Seq: m.Seq}
			v.countTaskLocked(v.tasks[t.ID], 1)
			v.mu.Unlock()
		}
	}
	if m.MsgID != "" {
		v.mu.Lock()
		v.idem.add(m.MsgID, m.Seq, m.Time)
		v.mu.Unlock()
	}
	v.advance(m.Seq)
	if err != nil {
		return fmt.Errorf("views: record %d (%s): %w", m.Seq, r.Kind, err)
	}
	return nil
}

// Applied is the sequence of the last record folded in.
func (v *Views) Applied() uint64 { return v.applied.Load() }

// Idempotent returns the sequence of the write made with msgID, if any.
func (v *Views) Idempotent(msgID string) (uint64, bool) {
	v.mu.RLock()
	seq, ok := v.idem.seqs[msgID]
	v.mu.RUnlock()
	return seq, ok
}

// Task returns a copy of a task's entry.
func (v *Views) Task(id string) (TaskEntry, bool) {
	v.mu.RLock()
	e, ok := v.tasks[id]
	v.mu.RUnlock()
	if !ok {
		return TaskEntry{}, false
	}
	return TaskEntry{Task: e.Task, Seq: e.Seq, Subject: taskSubject(&e.Task)}, true
}

// countTaskLocked adds d to the running count of e's domain when e is a
// task not finished (nil: nothing).
func (v *Views) countTaskLocked(e *taskRec, d int) {
	if e == nil || e.Task.Finished() {
		return
	}
	if v.running[e.Task.Domain] += d; v.running[e.Task.Domain] <= 0 {
		delete(v.running, e.Task.Domain)
	}
}

// RunningTasks returns how many tasks of domain have not finished.
func (v *Views) RunningTasks(domain string) int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.running[domain]
}

// Expired lists the subjects of entities that finished before cutoff, and
// forgets idempotency keys older than idemCutoff.
func (v *Views) Expired(cutoff, idemCutoff time.Time) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, e := range v.tasks {
		if e.Task.Finished() && e.Task.FinishedAt.Before(cutoff) {
			out = append(out, taskSubject(&e.Task))
		}
	}
	for _, e := range v.sessions {
		if e.Session.State == lifecycle.SessionTerminated && e.Session.UpdatedAt.Before(cutoff) {
			out = append(out, sessionSubject(&e.Session))
		}
	}
	out = append(out, v.expiredPushyLocked(cutoff)...)
	v.idem.expire(idemCutoff)
	return out
}

// Forget drops the entities whose history was purged, in one pass.
func (v *Views) Forget(subjects ...string) {
	if len(subjects) == 0 {
		return
	}
	gone := make(map[string]bool, len(subjects))
	kinds := map[string]bool{} // the kinds purged: only their entities' subjects are derived
	for _, s := range subjects {
		gone[s] = true
		if k, _, ok := strings.Cut(strings.TrimPrefix(s, "herald."), "."); ok {
			kinds[k] = true
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if kinds["task"] {
		for id, e := range v.tasks {
			if gone[taskSubject(&e.Task)] {
				v.countTaskLocked(e, -1)
				delete(v.tasks, id)
			}
		}
	}
	if kinds["session"] {
		for k, e := range v.sessions {
			if gone[sessionSubject(&e.Session)] {
				delete(v.sessions, k)
			}
		}
	}
	if kinds["job"] {
		v.forgetPushyLocked(gone)
	}
}
