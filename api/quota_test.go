package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestJobSpecBounds: a job's env, command, user and dir are bounded and
// env names are shell identifiers (issue 12: 400 jobs of 900 env entries
// and a 99 KB file took 2.3 GB); each refusal is a 400 naming the field,
// and nothing is stored.
func TestJobSpecBounds(t *testing.T) {
	s := testutil.Start(t)
	jobs := "/organizations/default/pushy/jobs"
	bigEnv := map[string]string{}
	for i := 0; i < 900; i++ {
		bigEnv[fmt.Sprintf("VAR_%d", i)] = strings.Repeat("x", 1000)
	}
	body := func(extra map[string]any) string {
		m := map[string]any{"command": "deploy", "nodes": []string{"n1"}}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, c := range []struct {
		name  string
		extra map[string]any
		field string
	}{
		{"900 env entries of 1 KB", map[string]any{"env": bigEnv}, "env"},
		{"env over 16 KiB", map[string]any{"env": map[string]string{"A": strings.Repeat("x", 17<<10)}}, "env"},
		{"an exported bash function", map[string]any{"env": map[string]string{"BASH_FUNC_x%%": "() { id; }"}}, "env"},
		{"env name with a dash", map[string]any{"env": map[string]string{"A-B": "1"}}, "env"},
		{"command of 2 KB", map[string]any{"command": strings.Repeat("c", 2048)}, "command"},
		{"user of 1 KB", map[string]any{"user": strings.Repeat("u", 1024)}, "user"},
		{"dir of 8 KB", map[string]any{"dir": "/" + strings.Repeat("d", 8192)}, "dir"},
	} {
		before := s.API.Views().Applied()
		resp := pjDo(t, s, "POST", jobs, s.Token, body(c.extra), nil)
		if resp.StatusCode != http.StatusBadRequest {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Errorf("%s: status %d, want 400: %s", c.name, resp.StatusCode, b)
			continue
		}
		if p := testutil.Problem(t, resp); p.Field != c.field {
			t.Errorf("%s: problem names %q, want %q (%s)", c.name, p.Field, c.field, p.Detail)
		}
		if after := s.API.Views().Applied(); after != before {
			t.Errorf("%s: a refused job stored records %d..%d", c.name, before+1, after)
		}
	}
	resp := pjDo(t, s, "POST", jobs, s.Token, body(map[string]any{"env": map[string]string{"GOOD_NAME_1": "v"}}), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("a job within the bounds: status %d", resp.StatusCode)
	}
}

// TestOpenJobsCap: a domain has at most --max-open-jobs unfinished jobs;
// past it a start is 429 with Retry-After and a problem naming the cap;
// other domains are not affected, and once a job ends a start succeeds.
func TestOpenJobsCap(t *testing.T) {
	const limit = 3
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) {
		c.MaxOpenJobs = limit
		c.VotingTimeout = time.Minute
	}))
	s.CreateDomain(t, "other")
	ctx := context.Background()
	// A node takes part in one job at a time: one node per job.
	for _, org := range []string{"default", "other"} {
		for i := 1; i <= limit+2; i++ {
			name := fmt.Sprintf("n%d", i)
			k := s.CreateKey(t, "node", org, nil, name)
			if _, err := s.Client(k.Token).Heartbeat(ctx, org, name, "inc-1", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	started := map[string]int{}
	start := func(org string) *http.Response {
		started[org]++
		return pjDo(t, s, "POST", "/organizations/"+org+"/pushy/jobs", s.Token,
			fmt.Sprintf(`{"command":"deploy","nodes":["n%d"]}`, started[org]), nil)
	}
	var first string
	for i := 0; i < limit; i++ {
		resp := start("default")
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("job %d of %d: status %d", i+1, limit, resp.StatusCode)
		}
		if first == "" {
			first = resp.Header.Get("Location")
		}
	}
	resp := start("default")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		resp.Body.Close()
		t.Fatalf("job %d: status %d, Retry-After %q; want 429 with Retry-After", limit+1, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if p := testutil.Problem(t, resp); !strings.Contains(p.Detail, "--max-open-jobs") {
		t.Errorf("the refusal does not name the cap: %s", p.Detail)
	}
	resp = start("other")
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("another domain's start: status %d", resp.StatusCode)
	}
	id := first[strings.LastIndex(first, "/")+1:]
	if _, err := s.Admin().AbortJob(ctx, "default", id); err != nil {
		t.Fatal(err)
	}
	resp = start("default")
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("a start after a job ended: status %d", resp.StatusCode)
	}
}

// TestRunningTasksCap: a domain has at most --max-running-tasks unfinished
// tasks; past it a creation is 429 with Retry-After naming the cap; other
// domains are not affected, and a finished task frees its place.
func TestRunningTasksCap(t *testing.T) {
	const limit = 2
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.MaxRunningTasks = limit }))
	s.CreateDomain(t, "other")
	ctx := context.Background()
	svc := s.Client(s.CreateKey(t, "service", "default", nil, "").Token)
	otherSvc := s.CreateKey(t, "service", "other", nil, "")
	var first string
	for i := 0; i < limit; i++ {
		id, err := svc.CreateTask(ctx, 0, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = id
		}
	}
	resp := pjDo(t, s, "POST", "/v1/tasks", svc.Token, `{}`, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		resp.Body.Close()
		t.Fatalf("task %d: status %d, Retry-After %q; want 429 with Retry-After", limit+1, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if p := testutil.Problem(t, resp); !strings.Contains(p.Detail, "--max-running-tasks") {
		t.Errorf("the refusal does not name the cap: %s", p.Detail)
	}
	if _, err := s.Client(otherSvc.Token).CreateTask(ctx, 0, nil, ""); err != nil {
		t.Errorf("another domain's task: %v", err)
	}
	if _, err := svc.FinishTask(ctx, first, "done", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTask(ctx, 0, nil, ""); err != nil {
		t.Errorf("a task after one finished: %v", err)
	}
	resp = s.Get(t, ctx, "/metrics", "", nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `herald_quota_refused_total{quota="running_tasks"} 1`) {
		t.Errorf("/metrics does not count the refusal")
	}
}
