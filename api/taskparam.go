package api

import (
	"net/url"

	"github.com/herald-sse/herald"
)

// taskIDParam returns the task feed's task id and the name of the query
// parameter it came from: taskId, or its alias task_id (what Backend.AI's
// own client and web UI send, SPEC §4). Both with different values is a
// 400 naming task_id; neither is a 400 naming taskId.
func taskIDParam(q url.Values) (raw, field string, err error) {
	id, idOK := q["taskId"]
	alias, aliasOK := q["task_id"]
	switch {
	case idOK && aliasOK && (len(alias) == 0 || len(id) == 0 || alias[0] != id[0]):
		return "", "task_id", herald.FieldErrorf("task_id", "is an alias of taskId; give one of them, or both with the same value")
	case idOK:
		return q.Get("taskId"), "taskId", nil
	case aliasOK:
		return q.Get("task_id"), "task_id", nil
	}
	return "", "taskId", nil
}
