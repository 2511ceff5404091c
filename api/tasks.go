package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
	"github.com/herald-sse/herald/views"
)

type createTaskReq struct {
	Total          *int64  `json:"total_progress"`
	Message        *string `json:"message"`
	OwnerAccessKey *string `json:"ownerAccessKey"`
}

type progressReq struct {
	Current *int64  `json:"current_progress"`
	Total   *int64  `json:"total_progress"`
	Message *string `json:"message"`
}

type finishReq struct {
	Message *string `json:"message"`
}

// MaxMessage is the longest task message herald keeps (bytes).
const MaxMessage = 64 << 10

func checkMessage(m *string) error {
	if m != nil && len(*m) > MaxMessage {
		return herald.FieldErrorf("message", "is %d bytes; at most %d are kept", len(*m), MaxMessage)
	}
	return nil
}

func canProduce(k *auth.Key) bool {
	return k.Role == herald.RoleService || k.Role == herald.RoleAdmin || k.Role == herald.RoleSuperadmin
}

// createTask: POST /v1/tasks → 201 {"task_id"}.
func (a *API) createTask(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	var req createTaskReq
	if err := decodeRequest(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if !canProduce(k) {
		a.writeError(w, r, forbiddenf("a %s key cannot create tasks; use a service or admin key", k.Role))
		return
	}
	if err := checkMessage(req.Message); err != nil {
		a.writeError(w, r, err)
		return
	}
	owner := k
	if req.OwnerAccessKey != nil {
		o, ok := a.knownKey(r.Context(), *req.OwnerAccessKey)
		if !ok || !k.MemberOf(o.Domain) {
			a.writeError(w, r, herald.FieldErrorf("ownerAccessKey", "no key %q in your domain", *req.OwnerAccessKey))
			return
		}
		owner = o
	}
	var total int64
	if req.Total != nil {
		total = *req.Total
	}
	id := uuid.NewString()
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		if err := a.runningTasksQuota(owner.Domain); err != nil {
			return change{}, nil, err
		}
		t, evs, err := lifecycle.NewTask(id, owner.Domain, owner.AccessKey, k.AccessKey, total, req.Message, time.Now().UTC())
		if err != nil {
			return change{}, nil, err
		}
		return taskChange(t, evs, 0, http.StatusCreated), map[string]string{"task_id": id}, nil
	})
	if herald.ErrorCode(err) == herald.ETooMany {
		a.metrics.quotaRefused.WithLabelValues("running_tasks").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(runningTasksRetryAfter))
	}
	a.reply(w, r, ans, err)
}

// runningTasksRetryAfter is the Retry-After (seconds) of a task creation
// refused by the running-tasks cap.
const runningTasksRetryAfter = 30

// runningTasksQuota refuses a task creation when domain already has
// Config.MaxRunningTasks unfinished tasks (concurrent creations may pass it
// together).
func (a *API) runningTasksQuota(domain string) error {
	limit := a.cfg.MaxRunningTasks
	if limit == 0 {
		limit = DefaultMaxRunningTasks
	}
	if n := a.views.RunningTasks(domain); limit > 0 && n >= limit {
		return herald.Errorf(herald.ETooMany, "domain %q has %d unfinished tasks, the most --max-running-tasks allows (%d); finish some first", domain, n, limit)
	}
	return nil
}

func taskChange(t lifecycle.Task, evs []lifecycle.Event, expect uint64, status int) change {
	snap, _ := json.Marshal(t)
	return change{status: status, app: store.Append{
		Subject:   store.Subject("task", t.Domain, t.ID),
		ExpectSeq: expect,
		Record: store.Record{Kind: "task", Domain: t.Domain, Owner: t.Owner, Entity: t.ID,
			Snapshot: snap, Events: evs},
	}}
}

// reportTask: POST /v1/tasks/{id}/progress|done|fail|cancel.
func (a *API) reportTask(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	rep := lifecycle.TaskReport{Kind: r.PathValue("report")}
	switch rep.Kind {
	case "progress":
		var req progressReq
		if err := decodeRequest(r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		rep.Current, rep.Total, rep.Message = req.Current, req.Total, req.Message
	case "done", "fail", "cancel":
		var req finishReq
		if err := decodeRequest(r, &req); err != nil {
			a.writeError(w, r, err)
			return
		}
		rep.Message = req.Message
	default:
		a.writeError(w, r, notFoundf("no such task report %q: use progress, done, fail or cancel", rep.Kind))
		return
	}
	id, err := a.taskID(r.PathValue("id"), "id")
	if err == nil {
		err = checkMessage(rep.Message)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	ans, err := a.commit(r.Context(), r, k, func() (change, any, error) {
		e, err := a.producerTask(k, id)
		if err != nil {
			return change{}, nil, err
		}
		t, evs, err := e.Task.Apply(rep, time.Now().UTC())
		if err != nil {
			return change{}, nil, err
		}
		return taskChange(t, evs, e.Seq, http.StatusOK), t.View(), nil
	})
	a.reply(w, r, ans, err)
}

// producerTask returns a task the caller may report on: the key that
// created it, an admin of its domain or a superadmin. A key that may watch
// the task but not write it gets 403; anything else is 404 (existence is
// not revealed).
func (a *API) producerTask(k *auth.Key, id string) (views.TaskEntry, error) {
	e, ok := a.views.Task(id)
	if !ok || !canProduce(k) || !k.CanWriteTask(e.Task.Domain, e.Task.Creator) || a.expired(e.Task) {
		if ok && !a.expired(e.Task) && k.CanWatchTask(e.Task.Domain, e.Task.Owner, e.Task.Creator) {
			return e, forbiddenf("a %s key that did not create task %s cannot report on it", k.Role, id)
		}
		return e, notFoundf("no task %s", id)
	}
	return e, nil
}

func (a *API) expired(t lifecycle.Task) bool {
	return t.Finished() && time.Since(t.FinishedAt) > a.cfg.Retention
}

// taskID checks a task id is a UUID (400 naming field otherwise).
func (a *API) taskID(s, field string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", herald.FieldErrorf(field, "must be a task UUID like 6f1c…-…, got %q", truncate(s, 80))
	}
	return u.String(), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// watchableTask parses a task id (400 naming field) and returns the task
// if k may watch it; unknown, expired and not-yours are one 404.
func (a *API) watchableTask(k *auth.Key, raw, field string) (views.TaskEntry, error) {
	id, err := a.taskID(raw, field)
	if err != nil {
		return views.TaskEntry{}, err
	}
	e, ok := a.views.Task(id)
	if !ok || !k.CanWatchTask(e.Task.Domain, e.Task.Owner, e.Task.Creator) || a.expired(e.Task) {
		return e, notFoundf("no task %s (unknown, expired, or not yours)", id)
	}
	return e, nil
}

// getTask: GET /v1/tasks/{id}.
func (a *API) getTask(w http.ResponseWriter, r *http.Request) {
	e, err := orCatchUp(r.Context(), a, func() (views.TaskEntry, error) {
		return a.watchableTask(caller(r), r.PathValue("id"), "id")
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e.Task.View())
}

func isTerminalTaskEvent(name string) bool {
	return name == "task_done" || name == "task_failed" || name == "task_cancelled"
}

func recordEnds(m *store.Msg) bool {
	for _, e := range m.Record.Events {
		if isTerminalTaskEvent(e.Name) {
			return true
		}
	}
	return false
}

// taskCloseData is the data of a task feed's server_close event. It is
// made when the stream closes: a live stream keeps the task's id, not
// these bytes, while it waits.
func taskCloseData(id string) []byte {
	b, _ := json.Marshal(map[string]string{"task_id": id})
	return b
}

// taskFeed: GET /events/background-task?taskId=UUID (SPEC §4).
func (a *API) taskFeed(w http.ResponseWriter, r *http.Request) {
	k := caller(r)
	raw, field, err := taskIDParam(r.URL.Query())
	if err == nil {
		err = acceptEventStream(r)
	}
	var e views.TaskEntry
	if err == nil {
		e, err = orCatchUp(r.Context(), a, func() (views.TaskEntry, error) {
			return a.watchableTask(k, raw, field)
		})
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id := e.Task.ID
	if a.closing.Load() {
		a.writeError(w, r, herald.Errorf(herald.EUnavailable, "the server is shutting down; reconnect"))
		return
	}
	after, recognized := a.resumePoint(r)
	ctx := r.Context()

	if e.Task.Finished() {
		if recognized && a.endedFeed(w, r, e.Subject, after, e.Seq) {
			return
		}
		st := a.openStream(w, r, nil)
		defer st.close()
		if recognized {
			if _, err := st.replay(ctx, e.Subject, after, e.Seq, nil); err != nil {
				a.streamFailed(r, err)
				return
			}
		} else if m, err := a.store.Get(ctx, e.Seq); err != nil {
			a.streamFailed(r, err)
			return
		} else {
			// The terminal event alone: the last event of the last record.
			if last := len(m.Record.Events) - 1; last >= 0 {
				ev := m.Record.Events[last]
				st.buf = a.frame(st.buf, m.Seq, last, ev.Name, ev.Data)
			}
		}
		st.addSynthetic("server_close", taskCloseData(id))
		_ = st.flush()
		return
	}

	sub := &hub.Sub{Topic: "task/" + id, Key: k.AccessKey, Login: loginOf(r)}
	start := a.hub.Subscribe(sub)
	st := a.openStream(w, r, sub)
	defer st.close()
	if !recognized {
		after = herald.ID{}
	}
	ended, err := st.replay(ctx, e.Subject, after, start, recordEnds)
	if err != nil {
		a.streamFailed(r, err)
		return
	}
	if ended {
		st.addSynthetic("server_close", taskCloseData(id))
		_ = st.flush()
		return
	}
	st.live(ctx, func(d *hub.Delivery) bool {
		st.addRecord(d.Msg, d.Frames)
		if !recordEnds(d.Msg) {
			return false
		}
		st.addSynthetic("server_close", taskCloseData(id))
		return true
	})
}
