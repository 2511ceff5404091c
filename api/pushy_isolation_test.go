package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// pjDo sends a request with a raw body and returns the response (closed
// by the caller) .
func pjDo(t *testing.T, s *testutil.Server, method, path, token, body string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestPushyCrossDomainIsolation: a key of domain alpha — whatever its role
// — gets 404 (problem+json) for every push-jobs path of domain beta: jobs,
// job, abort, output, both feed spellings, node states, a node's command
// feed, heartbeat and messages; and for a domain that does not exist. A
// superadmin reaches beta; inside a domain, a node key acting as another
// node is 403, as is a user starting a job.
func TestPushyCrossDomainIsolation(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	for _, d := range []string{"alpha", "beta"} {
		s.CreateDomain(t, d)
	}
	bsvc := s.CreateKey(t, "service", "beta", nil, "")
	s.CreateKey(t, "node", "beta", nil, "nb")
	id, err := s.Client(bsvc.Token).StartJob(ctx, "beta", client.JobSpec{Command: "x", Nodes: []string{"nb"}, CaptureOutput: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, role := range []string{"admin", "service", "user"} {
		keys[role] = s.CreateKey(t, role, "alpha", nil, "").Token
	}
	keys["node"] = s.CreateKey(t, "node", "alpha", nil, "nb").Token // same node name, other domain
	job := `{"command":"x","nodes":["nb"]}`
	paths := []struct{ method, path, body string }{
		{"GET", "/organizations/beta/pushy/jobs", ""},
		{"POST", "/organizations/beta/pushy/jobs", job},
		{"GET", "/organizations/beta/pushy/jobs/" + id, ""},
		{"POST", "/organizations/beta/pushy/jobs/" + id + "/abort", ""},
		{"GET", "/organizations/beta/pushy/jobs/" + id + "/output/nb/stdout", ""},
		{"GET", "/organizations/beta/pushy/job_status_feed/" + id, ""},
		{"GET", "/organizations/beta/pushy/jobs_status_feed/" + id, ""},
		{"GET", "/organizations/beta/pushy/job_status_feed", ""},
		{"GET", "/organizations/beta/pushy/jobs_status_feed", ""},
		{"GET", "/organizations/beta/pushy/node_states", ""},
		{"GET", "/organizations/beta/pushy/node_states/nb", ""},
		{"GET", "/organizations/beta/pushy/nodes/nb/commands", ""},
		{"POST", "/organizations/beta/pushy/nodes/nb/heartbeat", `{"incarnation":"i1"}`},
		{"POST", "/organizations/beta/pushy/nodes/nb/messages", `{"type":"ack_commit","job_id":"` + id + `"}`},
		{"GET", "/organizations/nosuch/pushy/jobs", ""},
	}
	before := s.API.Views().Applied()
	for role, tok := range keys {
		for _, p := range paths {
			resp := pjDo(t, s, p.method, p.path, tok, p.body, nil)
			if pr := testutil.Problem(t, resp); resp.StatusCode != 404 || pr.Status != 404 {
				t.Errorf("alpha %s: %s %s → %d %+v", role, p.method, p.path, resp.StatusCode, pr)
			}
		}
	}
	resp := pjDo(t, s, "GET", "/organizations/nosuch/pushy/node_states", s.Token, "", nil)
	if testutil.Problem(t, resp); resp.StatusCode != 404 {
		t.Errorf("superadmin, unknown domain: %d", resp.StatusCode)
	}
	if after := s.API.Views().Applied(); after != before {
		t.Fatalf("refused requests wrote %d records", after-before)
	}
	if sum, err := s.Admin().GetJob(ctx, "beta", id); err != nil || sum.ID != id {
		t.Fatalf("superadmin: %+v %v", sum, err)
	}
	// Inside alpha: the node key "nb" of alpha cannot act as "other"; a user
	// cannot start jobs; a service key cannot watch a node's commands.
	s.CreateKey(t, "node", "alpha", nil, "other")
	for _, c := range []struct{ token, method, path, body string }{
		{keys["node"], "POST", "/organizations/alpha/pushy/nodes/other/heartbeat", `{"incarnation":"i"}`},
		{keys["node"], "POST", "/organizations/alpha/pushy/nodes/other/messages", `{"type":"aborted","job_id":"` + id + `"}`},
		{keys["node"], "GET", "/organizations/alpha/pushy/nodes/other/commands", ""},
		{keys["service"], "GET", "/organizations/alpha/pushy/nodes/other/commands", ""},
		{keys["user"], "POST", "/organizations/alpha/pushy/jobs", job},
		{keys["admin"], "POST", "/organizations/alpha/pushy/nodes/other/heartbeat", `{"incarnation":"i"}`},
	} {
		resp := pjDo(t, s, c.method, c.path, c.token, c.body, nil)
		if pr := testutil.Problem(t, resp); resp.StatusCode != 403 {
			t.Errorf("%s %s → %d %+v", c.method, c.path, resp.StatusCode, pr)
		}
	}
	// An admin of alpha may watch its nodes' commands.
	f := s.OpenFeed(t, "/organizations/alpha/pushy/nodes/other/commands", keys["admin"], nil)
	f.Close()
}
