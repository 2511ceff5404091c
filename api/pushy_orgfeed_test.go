package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

// pjRunJob starts a job on obedient nodes and waits for its end.
func pjRunJob(t *testing.T, c *client.Client, nodes ...string) string {
	t.Helper()
	pjWaitAvailable(t, c, "default", nodes...)
	id, err := c.StartJob(context.Background(), "default", client.JobSpec{Command: "x", Nodes: nodes}, "")
	if err != nil {
		t.Fatal(err)
	}
	pjWaitStatus(t, c, "default", id, "complete")
	return id
}

// pjOrgJobs describes organization-feed events as "name job".
func pjOrgJobs(t *testing.T, evs []sse.Event) []string {
	t.Helper()
	out := make([]string, len(evs))
	for i, e := range evs {
		var d struct {
			Job string `json:"job"`
		}
		_ = json.Unmarshal([]byte(e.Data), &d)
		out[i] = e.Type + " " + d.Job
	}
	return out
}

func pjExpect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
	}
}

// TestPushyOrgFeed: the organization feed's three Last-Event-ID cases.
// None → live only. Recognized → the events after it, then live.
// Unrecognized (malformed, foreign epoch) → start_of_history (no id,
// timestamp of the oldest retained job), every retained event, then live.
// Also through the seed's jobs_status_feed spelling and ?lastEventId=.
func TestPushyOrgFeed(t *testing.T) {
	s := pjServer(t)
	svc := s.CreateKey(t, "user", "default", nil, "")
	admin := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(admin.Token)
	pjNodes(t, s, "default", testutil.Obedient, "n1")
	a := pjRunJob(t, c, "n1")

	live := s.OpenFeed(t, orgFeedPath("default"), svc.Token, nil)
	hist := s.OpenFeed(t, orgFeedPath("default"), svc.Token, map[string]string{"Last-Event-ID": "not-an-id"})
	foreign := s.OpenFeed(t, "/organizations/default/pushy/jobs_status_feed?lastEventId=zzzzzzzzzz-5", svc.Token, nil)
	b := pjRunJob(t, c, "n1")

	pjExpect(t, "live only", pjOrgJobs(t, pjReadN(t, live, 2, 5*time.Second)), "start "+b, "job_complete "+b)
	for _, f := range []*testutil.Feed{hist, foreign} {
		evs := pjReadN(t, f, 5, 5*time.Second)
		if evs[0].Type != "start_of_history" || evs[0].ID != "" {
			t.Fatalf("first event %+v", evs[0])
		}
		var d struct {
			Timestamp string `json:"timestamp"`
		}
		_ = json.Unmarshal([]byte(evs[0].Data), &d)
		sa, _ := c.GetJob(context.Background(), "default", a)
		created, _ := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", sa.CreatedAt)
		ts, err := time.Parse("2006-01-02 15:04:05.000000Z", d.Timestamp)
		if err != nil || ts.Truncate(time.Second) != created {
			t.Fatalf("start_of_history %s, job %s created %s", evs[0].Data, a, sa.CreatedAt)
		}
		pjExpect(t, "history", pjOrgJobs(t, evs[1:]), "start "+a, "job_complete "+a, "start "+b, "job_complete "+b)
	}
	// Recognized: the id of a's start → a's job_complete, b's events, then live.
	first := pjReadN(t, s.OpenFeed(t, orgFeedPath("default"), svc.Token, map[string]string{"Last-Event-ID": "bogus"}), 2, 5*time.Second)[1]
	res := s.OpenFeed(t, orgFeedPath("default"), svc.Token, map[string]string{"Last-Event-ID": first.ID})
	cjob := pjRunJob(t, c, "n1")
	pjExpect(t, "recognized", pjOrgJobs(t, pjReadN(t, res, 5, 5*time.Second)),
		"job_complete "+a, "start "+b, "job_complete "+b, "start "+cjob, "job_complete "+cjob)
	// The feeds never end by themselves: live still gets c.
	pjExpect(t, "live after", pjOrgJobs(t, pjReadN(t, live, 2, 5*time.Second)), "start "+cjob, "job_complete "+cjob)
}

// TestPushyOrgFeedExpired: an id whose history was purged by the retention
// is expired → start_of_history, then what is retained, then live.
func TestPushyOrgFeedExpired(t *testing.T) {
	s := pjServer(t, testutil.WithConfig(func(c *api.Config) { c.Retention = 400 * time.Millisecond }))
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	pjNodes(t, s, "default", testutil.Obedient, "n1")
	a := pjRunJob(t, c, "n1")
	old := pjReadN(t, s.OpenFeed(t, orgFeedPath("default"), svc.Token, map[string]string{"Last-Event-ID": "x"}), 3, 5*time.Second)
	if pjOrgJobs(t, old)[1] != "start "+a {
		t.Fatalf("history %v", pjOrgJobs(t, old))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.GetJob(context.Background(), "default", a); err != nil {
			break // purged
		}
		if time.Now().After(deadline) {
			t.Fatal("job not purged")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for s.API.Views().PurgedUpTo("default") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	f := s.OpenFeed(t, orgFeedPath("default"), svc.Token, map[string]string{"Last-Event-ID": old[1].ID})
	e := pjReadN(t, f, 1, 5*time.Second)[0]
	if e.Type != "start_of_history" {
		t.Fatalf("expired id: first event %s", pjDescribe(e))
	}
	b := pjRunJob(t, c, "n1")
	pjExpect(t, "after expiry", pjOrgJobs(t, pjReadN(t, f, 2, 5*time.Second)), "start "+b, "job_complete "+b)
}
