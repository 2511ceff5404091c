package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// followPages GETs path and every page its Link rel="next" names; each
// body must be within bound. It returns the items' field values in order.
func followPages(t *testing.T, s *testutil.Server, path, token, field string, bound int) (items []string, pages int) {
	t.Helper()
	for path != "" {
		resp := pjDo(t, s, "GET", path, token, "", nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if len(b) > bound {
			t.Fatalf("GET %s: a %d-byte answer, over the %d-byte bound", path, len(b), bound)
		}
		var page []map[string]any
		if err := json.Unmarshal(b, &page); err != nil || len(page) == 0 {
			t.Fatalf("GET %s: %v, %d items", path, err, len(page))
		}
		for _, it := range page {
			items = append(items, fmt.Sprint(it[field]))
		}
		pages++
		path = ""
		if link := resp.Header.Get("Link"); link != "" {
			target := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
			if !strings.HasPrefix(target, s.URL) || !strings.HasSuffix(link, `rel="next"`) {
				t.Fatalf("Link %q", link)
			}
			u, _ := url.Parse(target)
			path = u.RequestURI()
		}
	}
	return items, pages
}

// exactlyOnce checks got lists every one of want once.
func exactlyOnce(t *testing.T, what string, got []string, want map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Fatalf("%s: %s listed twice", what, g)
		}
		seen[g] = true
	}
	for w := range want {
		if !seen[w] {
			t.Fatalf("%s: %s never listed (%d of %d listed)", what, w, len(seen), len(want))
		}
	}
}

// TestListAnswersBounded: a list answer stops at the byte bound and names
// the rest with Link rel="next", so paging always works (issue 12: a user
// key's GET …/jobs?limit=500 answered 363 MB). Jobs, sessions and keys:
// every page within the bound, every item exactly once.
func TestListAnswersBounded(t *testing.T) {
	const bound = 32 << 10
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.MaxListBytes = bound }))
	ctx := context.Background()
	s.CreateGroup(t, "default", "g")
	user := s.CreateKey(t, "user", "default", []string{"g"}, "")
	svc := s.CreateKey(t, "service", "default", nil, "")

	// 60 jobs of ~10 KB of env each: 600 KB in one answer before.
	env := map[string]string{}
	for i := 0; i < 10; i++ {
		env[fmt.Sprintf("V%d", i)] = strings.Repeat("x", 1000)
	}
	jobs := map[string]bool{}
	for i := 0; i < 60; i++ {
		id, err := s.Client(svc.Token).StartJob(ctx, "default", client.JobSpec{Command: "deploy", Nodes: []string{"n1"}, Env: env}, "")
		if err != nil {
			t.Fatal(err)
		}
		jobs[id] = true
	}
	got, pages := followPages(t, s, "/organizations/default/pushy/jobs?limit=500", user.Token, "id", bound)
	exactlyOnce(t, "jobs", got, jobs)
	if len(got) != len(jobs) || pages < 2 {
		t.Fatalf("jobs: %d items in %d pages", len(got), pages)
	}

	// 300 sessions; pages of the byte bound, and of ?limit=.
	sessions := map[string]bool{}
	for i := 0; i < 300; i++ {
		sid := fmt.Sprintf("s%03d", i)
		if _, err := s.Admin().ReportSession(ctx, sessionReport(sid, user.AccessKey, "g", "session_enqueued"), ""); err != nil {
			t.Fatal(err)
		}
		sessions[sid] = true
	}
	for _, path := range []string{"/v1/sessions", "/v1/sessions?limit=7&group=g"} {
		got, pages := followPages(t, s, path, user.Token, "sessionId", bound)
		exactlyOnce(t, path, got, sessions)
		if len(got) != len(sessions) || pages < 2 {
			t.Fatalf("%s: %d items in %d pages", path, len(got), pages)
		}
	}
	if all, err := s.Client(user.Token).Sessions(ctx, "", ""); err != nil || len(all) != len(sessions) {
		t.Fatalf("client.Sessions follows the pages: %d sessions, %v", len(all), err)
	}

	// Keys, by ?limit= (a key is small).
	keys := map[string]bool{}
	for _, k := range s.API.Views().Auth.Keys("") {
		keys[k.AccessKey] = true
	}
	got, pages = followPages(t, s, "/v1/admin/keys?limit=2", s.Token, "accessKey", bound)
	exactlyOnce(t, "keys", got, keys)
	if pages < 2 {
		t.Fatalf("keys: %d pages of 2", pages)
	}
	resp := pjDo(t, s, "GET", "/v1/sessions?limit=0", user.Token, "", nil)
	if p := testutil.Problem(t, resp); p.Field != "limit" {
		t.Fatalf("limit=0: %+v", p)
	}
}
