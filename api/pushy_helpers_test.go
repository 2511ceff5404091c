package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

// pjServer starts a server with short push-job timers.
func pjServer(t testing.TB, opts ...testutil.Option) *testutil.Server {
	t.Helper()
	opts = append([]testutil.Option{testutil.WithConfig(func(c *api.Config) {
		c.HeartbeatInterval = 100 * time.Millisecond
		c.VotingTimeout = 3 * time.Second
	})}, opts...)
	return testutil.Start(t, opts...)
}

// pjNodes creates a node key for each name in org and starts a scripted
// node for it; they stop with the test.
func pjNodes(t testing.TB, s *testutil.Server, org string, do testutil.Behavior, names ...string) []*testutil.PushyNode {
	t.Helper()
	out := make([]*testutil.PushyNode, len(names))
	for i, n := range names {
		k := s.CreateKey(t, "node", org, nil, n)
		out[i] = testutil.StartPushyNode(&testutil.PushyNode{Org: org, Name: n, Token: k.Token, Servers: []string{s.URL}, Do: do})
		t.Cleanup(out[i].Stop)
	}
	return out
}

// pjWaitAvailable waits until every named node of org is available.
func pjWaitAvailable(t testing.TB, c *client.Client, org string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		states, err := c.NodeStates(context.Background(), org)
		if err != nil {
			t.Fatal(err)
		}
		avail := map[string]bool{}
		for _, s := range states {
			avail[s.NodeName] = s.Availability == "available"
		}
		ok := true
		for _, n := range names {
			ok = ok && avail[n]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes %v not available: %+v", names, states)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pjWaitStatus polls a job until it has status.
func pjWaitStatus(t testing.TB, c *client.Client, org, id, status string) client.JobSummary {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := c.GetJob(context.Background(), org, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Status == status {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: status %s, want %s: %+v", id, s.Status, status, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jobFeedPath(org, id string) string {
	return "/organizations/" + org + "/pushy/job_status_feed/" + id
}
func orgFeedPath(org string) string { return "/organizations/" + org + "/pushy/job_status_feed" }

// pjReadAll reads a feed to its end (error if it does not end in time).
func pjReadAll(t testing.TB, f *testutil.Feed, within time.Duration) ([]sse.Event, error) {
	t.Helper()
	stop := time.AfterFunc(within, f.Close)
	defer stop.Stop()
	var evs []sse.Event
	for {
		e, err := f.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, fmt.Errorf("after %d events (%s): %w", len(evs), pjNames(evs), err)
		}
		evs = append(evs, e)
	}
}

// pjReadN reads n events from a feed that stays open.
func pjReadN(t testing.TB, f *testutil.Feed, n int, within time.Duration) []sse.Event {
	t.Helper()
	stop := time.AfterFunc(within, f.Close)
	defer stop.Stop()
	var evs []sse.Event
	for len(evs) < n {
		e, err := f.Next()
		if err != nil {
			t.Fatalf("after %d of %d events (%s): %v", len(evs), n, pjNames(evs), err)
		}
		evs = append(evs, e)
	}
	return evs
}

// pjNames describes events as "name[ node][ status]" strings.
func pjNames(evs []sse.Event) string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = pjDescribe(e)
	}
	return strings.Join(out, ", ")
}

func pjDescribe(e sse.Event) string {
	var d struct {
		Node   string `json:"node"`
		Status string `json:"status"`
	}
	_ = json.Unmarshal([]byte(e.Data), &d)
	s := e.Type
	if d.Node != "" {
		s += " " + d.Node
	}
	if d.Status != "" {
		s += " " + d.Status
	}
	return s
}

// pjCheckJobEvents checks the job feed's data rules: data JSON with
// timestamp first in the job format, strictly increasing timestamps, ids
// strictly increasing, and no "job" field.
func pjCheckJobEvents(t testing.TB, evs []sse.Event) {
	t.Helper()
	var lastTS string
	var lastID herald.ID
	for i, e := range evs {
		if !strings.HasPrefix(e.Data, `{"timestamp":"`) {
			t.Fatalf("event %d %s: data %s does not start with timestamp", i, e.Type, e.Data)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		ts, _ := d["timestamp"].(string)
		if _, err := time.Parse("2006-01-02 15:04:05.000000Z", ts); err != nil {
			t.Fatalf("event %d: timestamp %q: %v", i, ts, err)
		}
		if ts <= lastTS {
			t.Fatalf("event %d: timestamp %s not after %s", i, ts, lastTS)
		}
		lastTS = ts
		if _, ok := d["job"]; ok {
			t.Fatalf("event %d: job feed data has a job field: %s", i, e.Data)
		}
		id, ok := herald.ParseID(e.ID)
		if !ok || (i > 0 && !id.After(lastID)) {
			t.Fatalf("event %d: id %q not after %s", i, e.ID, lastID)
		}
		lastID = id
	}
}

// pjCount counts events by description.
func pjCount(evs []sse.Event) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		out[pjDescribe(e)]++
	}
	return out
}
