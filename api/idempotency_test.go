package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestIdempotencyKeyScopedByRoute: an Idempotency-Key is scoped by the
// caller's key, the method and the route (issue 12): the key of a POST
// /v1/tasks sent again on POST /pushy/jobs starts a job (and does not
// replay the task's answer); sent by another key it is another write; sent
// again by the same key to the same route it replays the first answer.
func TestIdempotencyKeyScopedByRoute(t *testing.T) {
	s := testutil.Start(t)
	svc := s.CreateKey(t, "service", "default", nil, "")
	other := s.CreateKey(t, "service", "default", nil, "")
	hdr := map[string]string{"Idempotency-Key": "same-key-1"}
	post := func(path, token, body string) (int, map[string]any) {
		t.Helper()
		resp := pjDo(t, s, "POST", path, token, body, hdr)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	st, task := post("/v1/tasks", svc.Token, `{}`)
	if st != http.StatusCreated || task["task_id"] == nil {
		t.Fatalf("create task: %d %v", st, task)
	}
	st, job := post("/organizations/default/pushy/jobs", svc.Token, `{"command":"chef-client","nodes":["n1"]}`)
	if st != http.StatusCreated || job["uri"] == nil || job["task_id"] != nil {
		t.Fatalf("the task's Idempotency-Key on POST /pushy/jobs: %d %v, want a new job's uri", st, job)
	}
	st, task2 := post("/v1/tasks", other.Token, `{}`)
	if st != http.StatusCreated || task2["task_id"] == nil || task2["task_id"] == task["task_id"] {
		t.Fatalf("the same key from another caller: %d %v (first %v)", st, task2, task)
	}
	st, again := post("/v1/tasks", svc.Token, `{}`)
	if st != http.StatusCreated || again["task_id"] != task["task_id"] {
		t.Fatalf("a retry on the same route: %d %v, want the first answer %v", st, again, task)
	}
}

// TestIdempotencyIndexBoundedUnderLoad: many keyed writes keep the
// Idempotency-Key index within --idempotency-cache-mb's bytes, as
// herald_idempotency_keys and herald_idempotency_bytes show, and the
// newest key still replays (issue 13: the index grew ~460 B per keyed
// write for an hour, with no bound and no metric).
func TestIdempotencyIndexBoundedUnderLoad(t *testing.T) {
	const bound = 16 << 10
	const writes = 400
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.IdempotencyCache = bound }))
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	ctx := context.Background()
	var last string
	for i := 0; i < writes; i++ {
		var out struct {
			TaskID string `json:"task_id"`
		}
		if err := c.Do(ctx, "POST", "/v1/tasks", map[string]any{}, &out, "k-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		last = out.TaskID
	}
	keys, bytes := idemMetrics(t, s)
	t.Logf("%d keyed writes: %v keys remembered, %v bytes (bound %d)", writes, keys, bytes, bound)
	if bytes <= 0 || bytes > bound || keys <= 0 || keys >= writes {
		t.Errorf("index holds %v keys in %v bytes after %d keyed writes; bound %d", keys, bytes, writes, bound)
	}
	var out struct {
		TaskID string `json:"task_id"`
	}
	if err := c.Do(ctx, "POST", "/v1/tasks", map[string]any{}, &out, "k-"+strconv.Itoa(writes-1)); err != nil || out.TaskID != last {
		t.Errorf("the newest key does not replay: %v %q, want %q", err, out.TaskID, last)
	}
}

// idemMetrics reads herald_idempotency_keys and herald_idempotency_bytes
// (-1 when missing).
func idemMetrics(t *testing.T, s *testutil.Server) (keys, bytes float64) {
	t.Helper()
	m := scrapeMetrics(t, s)
	keys, bytes = -1, -1
	if v, ok := m["herald_idempotency_keys"]; ok {
		keys = v
	}
	if v, ok := m["herald_idempotency_bytes"]; ok {
		bytes = v
	}
	return keys, bytes
}
