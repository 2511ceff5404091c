package lifecycle

import (
	"time"

	"github.com/herald-sse/herald"
)

// TaskStatus is a background task's status.
type TaskStatus string

// Task statuses (SPEC §6).
const (
	TaskRunning   TaskStatus = "running"
	TaskDone      TaskStatus = "done"
	TaskFailed    TaskStatus = "failed"
	TaskCancelled TaskStatus = "cancelled"
)

// Task is a background task's snapshot.
type Task struct {
	ID         string     `json:"task_id"`
	Domain     string     `json:"domain"`
	Owner      string     `json:"owner"`   // access key the task belongs to
	Creator    string     `json:"creator"` // access key that created it
	Status     TaskStatus `json:"status"`
	Current    int64      `json:"current_progress"`
	Total      int64      `json:"total_progress"`
	Message    *string    `json:"message"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	FinishedAt time.Time  `json:"finished_at,omitzero"`
}

// TaskView is the public state of a task: the body of every task write's
// answer and of GET /v1/tasks/{id}.
type TaskView struct {
	ID      string     `json:"task_id"`
	Status  TaskStatus `json:"status"`
	Current int64      `json:"current_progress"`
	Total   int64      `json:"total_progress"`
	Message *string    `json:"message"`
}

// View returns the task's public state.
func (t Task) View() TaskView {
	return TaskView{ID: t.ID, Status: t.Status, Current: t.Current, Total: t.Total, Message: t.Message}
}

// Finished reports whether the task reached a terminal status.
func (t Task) Finished() bool { return t.Status != TaskRunning && t.Status != "" }

// TaskReport is a producer's report about a running task.
type TaskReport struct {
	Kind    string  // progress, done, fail, cancel
	Current *int64  // progress only, required there
	Total   *int64  // progress only, optional: a new total
	Message *string // optional; absent keeps the previous message
}

type taskData struct {
	ID      string  `json:"task_id"`
	Current int64   `json:"current_progress"`
	Total   int64   `json:"total_progress"`
	Message *string `json:"message"`
}

func (t Task) event(name string) Event {
	return Event{Name: name, Data: mustJSON(taskData{t.ID, t.Current, t.Total, t.Message})}
}

// NewTask creates a running task and its first task_updated event
// (progress 0, the given total and message).
func NewTask(id, domain, owner, creator string, total int64, message *string, now time.Time) (Task, []Event, error) {
	if total < 0 {
		return Task{}, nil, herald.FieldErrorf("total_progress", "must be 0 (unknown) or positive, got %d", total)
	}
	t := Task{ID: id, Domain: domain, Owner: owner, Creator: creator, Status: TaskRunning,
		Total: total, Message: message, CreatedAt: now, UpdatedAt: now}
	return t, []Event{t.event("task_updated")}, nil
}

// Apply applies a report: progress never decreases and never exceeds a
// non-zero total; nothing is accepted after the terminal report.
func (t Task) Apply(r TaskReport, now time.Time) (Task, []Event, error) {
	if t.Finished() {
		return t, nil, herald.Errorf(herald.EConflict, "task %s is already %s; no report is accepted after the terminal one", t.ID, t.Status)
	}
	if r.Message != nil {
		t.Message = r.Message
	}
	t.UpdatedAt = now
	var name string
	switch r.Kind {
	case "progress":
		if r.Current == nil {
			return t, nil, herald.FieldErrorf("current_progress", "is required")
		}
		cur, total := *r.Current, t.Total
		if r.Total != nil {
			total = *r.Total
		}
		switch {
		case cur < 0:
			return t, nil, herald.FieldErrorf("current_progress", "must not be negative, got %d", cur)
		case total < 0:
			return t, nil, herald.FieldErrorf("total_progress", "must be 0 (unknown) or positive, got %d", total)
		case cur < t.Current:
			return t, nil, herald.Errorf(herald.EConflict, "current_progress %d is below the task's progress %d; progress never goes backwards", cur, t.Current)
		case total != 0 && cur > total:
			return t, nil, herald.Errorf(herald.EConflict, "current_progress %d exceeds total_progress %d", cur, total)
		}
		t.Current, t.Total = cur, total
		return t, []Event{t.event("task_updated")}, nil
	case "done":
		t.Status, name = TaskDone, "task_done"
	case "fail":
		t.Status, name = TaskFailed, "task_failed"
	case "cancel":
		t.Status, name = TaskCancelled, "task_cancelled"
	default:
		return t, nil, herald.FieldErrorf("kind", "unknown task report %q", r.Kind)
	}
	t.FinishedAt = now
	return t, []Event{t.event(name)}, nil
}
