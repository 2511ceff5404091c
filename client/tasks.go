package client

import (
	"context"
	"net/url"
)

// Task is a task's state as the server reports it.
type Task struct {
	ID      string  `json:"task_id"`
	Status  string  `json:"status"`
	Current int64   `json:"current_progress"`
	Total   int64   `json:"total_progress"`
	Message *string `json:"message"`
}

// CreateTask creates a background task and returns its id. owner may be
// "" (the caller).
func (c *Client) CreateTask(ctx context.Context, total int64, message *string, owner string) (string, error) {
	body := map[string]any{"total_progress": total}
	if message != nil {
		body["message"] = *message
	}
	if owner != "" {
		body["ownerAccessKey"] = owner
	}
	var out struct {
		ID string `json:"task_id"`
	}
	err := c.Do(ctx, "POST", "/v1/tasks", body, &out, "")
	return out.ID, err
}

// TaskProgress reports progress; total < 0 leaves the total unchanged.
func (c *Client) TaskProgress(ctx context.Context, id string, current, total int64, message *string) (Task, error) {
	body := map[string]any{"current_progress": current}
	if total >= 0 {
		body["total_progress"] = total
	}
	if message != nil {
		body["message"] = *message
	}
	var t Task
	err := c.Do(ctx, "POST", "/v1/tasks/"+url.PathEscape(id)+"/progress", body, &t, "")
	return t, err
}

// FinishTask ends a task: how is "done", "fail" or "cancel".
func (c *Client) FinishTask(ctx context.Context, id, how string, message *string) (Task, error) {
	body := map[string]any{}
	if message != nil {
		body["message"] = *message
	}
	var t Task
	err := c.Do(ctx, "POST", "/v1/tasks/"+url.PathEscape(id)+"/"+how, body, &t, "")
	return t, err
}

// GetTask returns a task's state.
func (c *Client) GetTask(ctx context.Context, id string) (Task, error) {
	var t Task
	err := c.Do(ctx, "GET", "/v1/tasks/"+url.PathEscape(id), nil, &t, "")
	return t, err
}
