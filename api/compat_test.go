package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/herald-sse/herald/internal/testutil"
)

// TestTaskFeedTaskIDAlias: ?task_id= (what Backend.AI's client and web UI
// send) opens the task feed like ?taskId=; both with different values, or
// a malformed alias, is a 400 naming task_id.
func TestTaskFeedTaskIDAlias(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	id, err := c.CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FinishTask(ctx, id, "done", nil); err != nil {
		t.Fatal(err)
	}
	f := s.OpenFeed(t, "/events/background-task?task_id="+url.QueryEscape(id), svc.Token, nil)
	evs, err := readTaskFeed(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != "task_done" {
		t.Fatalf("task_id feed: %v, want the terminal event alone", pjNames(evs))
	}
	other, err := c.CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, field string }{
		{"task_id=nope", "task_id"},
		{"taskId=" + id + "&task_id=" + other, "task_id"},
		{"", "taskId"},
	} {
		resp := s.Get(t, ctx, "/events/background-task?"+tc.query, svc.Token, nil)
		p := testutil.Problem(t, resp)
		if resp.StatusCode != http.StatusBadRequest || p.Field != tc.field {
			t.Errorf("?%s: %d field %q, want 400 naming %s", tc.query, resp.StatusCode, p.Field, tc.field)
		}
	}
	// Both, same value: fine.
	f = s.OpenFeed(t, "/events/background-task?taskId="+id+"&task_id="+id, svc.Token, nil)
	if _, err := readTaskFeed(t, f); err != nil {
		t.Fatal(err)
	}
}

// TestFeedsAcceptJSONOnly: every feed answers Accept: application/json
// alone with 406 (SPEC §2), before any 200; text/event-stream, */* and
// a list naming either still open the stream.
func TestFeedsAcceptJSONOnly(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	id, err := s.Client(svc.Token).CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	feeds := []string{"/events/background-task?taskId=" + id, "/events/session", orgFeedPath("default")}
	for _, path := range feeds {
		resp := s.Get(t, ctx, path, svc.Token, map[string]string{"Accept": "application/json"})
		if resp.StatusCode != http.StatusNotAcceptable {
			resp.Body.Close()
			t.Errorf("%s with Accept: application/json: %d, want 406", path, resp.StatusCode)
			continue
		}
		testutil.Problem(t, resp)
		for _, accept := range []string{"text/event-stream", "*/*", "application/json, text/event-stream;q=0.9"} {
			f := s.OpenFeed(t, path, svc.Token, map[string]string{"Accept": accept})
			f.Close()
		}
	}
}
