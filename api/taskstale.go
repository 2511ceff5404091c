package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/herald-sse/herald/lifecycle"
)

// staleBatch bounds the tasks one scan of staleTasks fails.
const staleBatch = 1000

// staleTasks fails the running tasks whose producer has been silent for
// Config.TaskStaleAfter (--task-stale-after; 0: never), until ctx ends.
// It scans the views a few times per period and fails each stale task
// with a compare-and-set write (systemCommit), so with several herald
// processes a task fails once and a report that lands first wins. It
// starts scanning one period after the views are ready: after downtime,
// producers get a full period to report again.
func (a *API) staleTasks(ctx context.Context) {
	after := a.cfg.TaskStaleAfter
	if after <= 0 || a.WaitReady(ctx) != nil {
		return
	}
	t := time.NewTicker(min(max(after/4, 10*time.Millisecond), time.Minute))
	defer t.Stop()
	grace := time.Now().Add(after)
	var lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if now.Before(grace) {
			continue
		}
		for _, id := range a.views.StaleTasks(now.Add(-after), staleBatch) {
			if err := a.failStale(ctx, id, after); err != nil && ctx.Err() == nil && now.Sub(lastWarn) > 10*time.Second {
				lastWarn = now
				a.log.Warn("failing a stale task; retrying", "task", id, "err", err)
			}
		}
	}
}

// failStale fails task id if it is still running and still silent for
// after, re-deciding on fresh state after a conflict.
func (a *API) failStale(ctx context.Context, id string, after time.Duration) error {
	return a.systemCommit(ctx, func() (change, any, error) {
		e, ok := a.views.Task(id)
		now := time.Now().UTC()
		if !ok || e.Task.Finished() || now.Sub(e.Task.UpdatedAt) < after {
			return change{}, nil, errNoChange // gone, finished or reported meanwhile
		}
		msg := fmt.Sprintf("herald: no report from the task's producer for %s (--task-stale-after); marked failed", after)
		t, evs, err := e.Task.Apply(lifecycle.TaskReport{Kind: "fail", Message: &msg}, now)
		if err != nil {
			return change{}, nil, err
		}
		return taskChange(t, evs, e.Seq, http.StatusOK), struct{}{}, nil
	})
}
