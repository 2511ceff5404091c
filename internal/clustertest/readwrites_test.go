package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// ryTries is how many times each read-your-writes case is tried.
const ryTries = 200

// TestReadYourWrites: what a client writes through node A is there at
// once on node B, without the client waiting or retrying. A task created
// through A is found by B (read, feed, and a progress report through B); a
// key created through A authenticates on B; and a feed resumed on B with
// the id A just sent continues exactly after it (no event again, none
// lost). Before the barrier (api/barrier.go), B answered 404/401 or
// treated the id as unrecognized whenever its tail lagged A's write by a
// few milliseconds.
func TestReadYourWrites(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, b := c.nodes[0], c.nodes[1]
	ownerKey := sessionOwner(t, ctx, a.url)

	cases := []struct {
		name string
		try  func(i int) (ok bool, err error)
	}{
		{"GET /v1/tasks/{id} on B", func(int) (bool, error) {
			id, err := createTask(ctx, a.url)
			if err != nil {
				return false, err
			}
			r, err := call(ctx, "GET", b.url+"/v1/tasks/"+id, nil)
			return r.status == http.StatusOK, err
		}},
		{"task feed on B", func(int) (bool, error) {
			id, err := createTask(ctx, a.url)
			if err != nil {
				return false, err
			}
			f, status, err := openFeed(ctx, b.url+"/events/background-task?taskId="+id, "")
			if status == http.StatusNotFound {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			defer f.close()
			e, err := f.next()
			return err == nil && e.Type == "task_updated", err
		}},
		{"progress through B", func(int) (bool, error) {
			id, err := createTask(ctx, a.url)
			if err != nil {
				return false, err
			}
			r, err := call(ctx, "POST", b.url+"/v1/tasks/"+id+"/progress", map[string]any{"current_progress": 1})
			return r.status == http.StatusOK, err
		}},
		{"new key on B", func(i int) (bool, error) {
			r, err := call(ctx, "POST", a.url+"/v1/admin/keys", map[string]any{"role": "service", "domain": "default"})
			if err != nil || r.status != http.StatusCreated {
				return false, fmt.Errorf("create key: %d %s %v", r.status, r.body, err)
			}
			var k struct {
				Token string `json:"token"`
			}
			if err := r.decode(&k); err != nil {
				return false, err
			}
			r, err = callAs(ctx, k.Token, "POST", b.url+"/v1/tasks", map[string]any{})
			return r.status == http.StatusCreated, err
		}},
		{"domain through A, group through B, key through A", func(i int) (bool, error) {
			d := fmt.Sprintf("d%d", i)
			steps := []struct {
				url, path string
				body      map[string]any
			}{
				{a.url, "/v1/admin/domains", map[string]any{"name": d}},
				{b.url, "/v1/admin/domains/" + d + "/groups", map[string]any{"name": "g"}},
				{a.url, "/v1/admin/keys", map[string]any{"role": "user", "domain": d, "groups": []string{"g"}}},
			}
			for _, st := range steps {
				r, err := call(ctx, "POST", st.url+st.path, st.body)
				if err != nil {
					return false, err
				}
				if r.status != http.StatusCreated {
					return false, nil
				}
			}
			return true, nil
		}},
		{"session lifecycle through A and B in turn", func(i int) (bool, error) {
			// Each report is decided on the node that takes it, from the
			// state the previous report (through the other node) left.
			sid := fmt.Sprintf("s%d", i)
			for j, ev := range []string{"enqueued", "preparing", "creating", "started", "terminated"} {
				url := []string{a.url, b.url}[j%2]
				r, err := call(ctx, "POST", url+"/v1/sessions/events", map[string]any{
					"sessionId": sid, "ownerAccessKey": ownerKey, "group": "g1", "event": "session_" + ev})
				if err != nil {
					return false, err
				}
				if r.status != http.StatusCreated {
					return false, nil
				}
			}
			return true, nil
		}},
	}
	for _, tc := range cases {
		start := time.Now()
		failed := 0
		for i := range ryTries {
			ok, err := tc.try(i)
			if err != nil {
				t.Fatalf("%s, try %d: %v", tc.name, i, err)
			}
			if !ok {
				failed++
			}
		}
		t.Logf("%s: %d of %d failed (%s)", tc.name, failed, ryTries, time.Since(start).Round(time.Millisecond))
		if failed > 0 {
			t.Errorf("%s: %d of %d tries did not find what A had just written", tc.name, failed, ryTries)
		}
	}
	t.Run("resume on B", func(t *testing.T) { resumeOnOtherNode(t, ctx, a.url, b.url) })
}

// resumeOnOtherNode: a client follows a task's feed on A; each progress
// report written through A is read from A's feed, and at once a feed on
// B is opened with that event's id as Last-Event-ID. After the next
// report, B's first event must be that report: not an earlier one again
// (a duplicate) nor a later one (a loss).
func resumeOnOtherNode(t *testing.T, ctx context.Context, aURL, bURL string) {
	id, err := createTask(ctx, aURL)
	if err != nil {
		t.Fatal(err)
	}
	fa, _, err := openFeed(ctx, aURL+"/events/background-task?taskId="+id, "")
	if err != nil {
		t.Fatal(err)
	}
	defer fa.close()
	if _, err := fa.next(); err != nil { // task_updated 0
		t.Fatal(err)
	}
	dup, lost := 0, 0
	n := int64(0)
	report := func() {
		n++
		if r, err := progress(ctx, aURL, id, n, fmt.Sprintf("%s-%d", id, n)); err != nil || r.status != http.StatusOK {
			t.Fatalf("progress %d: %d %s %v", n, r.status, r.body, err)
		}
	}
	for i := range ryTries {
		report()
		e, err := fa.next()
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := parseTask(e); d.Current != n {
			t.Fatalf("A's feed: progress %d, want %d", d.Current, n)
		}
		fb, _, err := openFeed(ctx, bURL+"/events/background-task?taskId="+id, e.ID)
		if err != nil {
			t.Fatalf("try %d: %v", i, err)
		}
		report()
		if _, err := fa.next(); err != nil {
			t.Fatal(err)
		}
		first, err := fb.next()
		fb.close()
		if err != nil {
			t.Fatal(err)
		}
		d, err := parseTask(first)
		switch {
		case err != nil:
			t.Fatal(err)
		case d.Current < n:
			dup++
			t.Logf("try %d: B's first event %s (progress %d) after %s, want progress %d", i, first.ID, d.Current, e.ID, n)
		case d.Current > n:
			lost++
			t.Logf("try %d: B's first event %s (progress %d) after %s, want progress %d", i, first.ID, d.Current, e.ID, n)
		}
	}
	t.Logf("resume on B with the id A just sent: %d duplicates, %d losses in %d tries", dup, lost, ryTries)
	if dup+lost > 0 {
		t.Errorf("resume on B: %d duplicates, %d losses in %d tries", dup, lost, ryTries)
	}
}

// sessionOwner creates (through url) group "g1" of the default domain and
// a user key in it, and returns the key's access key.
func sessionOwner(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	if r, err := call(ctx, "POST", url+"/v1/admin/domains/default/groups", map[string]any{"name": "g1"}); err != nil || r.status != http.StatusCreated {
		t.Fatalf("group: %d %s %v", r.status, r.body, err)
	}
	r, err := call(ctx, "POST", url+"/v1/admin/keys", map[string]any{"role": "user", "domain": "default", "groups": []string{"g1"}})
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("user key: %d %s %v", r.status, r.body, err)
	}
	var k struct {
		AccessKey string `json:"accessKey"`
	}
	if err := r.decode(&k); err != nil {
		t.Fatal(err)
	}
	return k.AccessKey
}
