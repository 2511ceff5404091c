package api_test

import (
	"context"
	"encoding/json"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/sse"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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

// TestFinishedFeedResumedAtEnd204: a finished task's feed, or a finished
// job's, resumed at its last event answers 204 with no body (SPEC §4,
// §5.3); resumed earlier, it still sends what is left.
func TestFinishedFeedResumedAtEnd204(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	id, err := c.CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TaskProgress(ctx, id, 5, -1, nil); err != nil {
		t.Fatal(err)
	}
	live := s.OpenFeed(t, feedPath(id), svc.Token, nil)
	if _, err := c.FinishTask(ctx, id, "cancel", nil); err != nil {
		t.Fatal(err)
	}
	all, err := readTaskFeed(t, live)
	if err != nil || len(all) != 3 {
		t.Fatalf("full history: %v %v", pjNames(all), err)
	}
	// Resumed before the end: what is left, then server_close.
	rest, err := readTaskFeed(t, s.OpenFeed(t, feedPath(id), svc.Token, map[string]string{"Last-Event-ID": all[0].ID}))
	if err != nil || pjNames(rest) != pjNames(all[1:]) {
		t.Fatalf("resumed at the first event: %v %v", pjNames(rest), err)
	}
	end := all[2].ID
	want204(t, s, feedPath(id), svc.Token, map[string]string{"Last-Event-ID": end})
	want204(t, s, feedPath(id)+"&lastEventId="+url.QueryEscape(end), svc.Token, nil)

	// A job that ended at once (its node is offline): resumed from its
	// start event, the rest; resumed at job_complete, 204.
	resp := pjDo(t, s, "POST", "/organizations/default/pushy/jobs", svc.Token, `{"command":"x","nodes":["off"]}`, map[string]string{"Content-Type": "application/json"})
	resp.Body.Close()
	startID := resp.Header.Get("Herald-Event-Id")
	loc := resp.Header.Get("Location")
	job := loc[strings.LastIndexByte(loc, '/')+1:]
	if resp.StatusCode != 201 || startID == "" {
		t.Fatalf("start job: %d", resp.StatusCode)
	}
	pjWaitStatus(t, c, "default", job, "quorum_failed")
	evs, err := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", job), svc.Token, map[string]string{"Last-Event-ID": startID}), 5*time.Second)
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Type != "job_complete" {
		t.Fatalf("job resumed from start: %v %v", pjNames(evs), err)
	}
	want204(t, s, jobFeedPath("default", job), svc.Token, map[string]string{"Last-Event-ID": evs[len(evs)-1].ID})
}

// want204 GETs a feed and wants 204 with an empty body.
func want204(t *testing.T, s *testutil.Server, path, token string, h map[string]string) {
	t.Helper()
	resp := s.Get(t, context.Background(), path, token, h)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("GET %s %v: %d %q, want 204 and no body", path, h, resp.StatusCode, b)
	}
}

// TestTaskEventNamesBackendAI: with --task-event-names backend.ai every
// path of the task feed — live, replay from the store or the replay
// cache, a finished task's terminal event — names the events bgtask_*;
// server_close keeps its name; an unknown naming is refused.
func TestTaskEventNamesBackendAI(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache int64
	}{{"replay cache", 0}, {"store reads", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) {
				c.TaskEventNames = api.TaskNamesBackendAI
				c.ReplayCache = tc.cache
			}))
			ctx := context.Background()
			svc := s.CreateKey(t, "service", "default", nil, "")
			c := s.Client(svc.Token)
			id, err := c.CreateTask(ctx, 10, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			live := s.OpenFeed(t, feedPath(id), svc.Token, nil)
			if _, err := c.TaskProgress(ctx, id, 5, -1, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := c.FinishTask(ctx, id, "fail", nil); err != nil {
				t.Fatal(err)
			}
			evs, err := readTaskFeed(t, live)
			if err != nil || pjNames(evs) != pjNames(namedEvents("bgtask_updated", "bgtask_updated", "bgtask_failed")) {
				t.Fatalf("live: %v %v", pjNames(evs), err)
			}
			resumed, err := readTaskFeed(t, s.OpenFeed(t, feedPath(id), svc.Token, map[string]string{"Last-Event-ID": evs[0].ID}))
			if err != nil || pjNames(resumed) != pjNames(evs[1:]) {
				t.Fatalf("resumed: %v %v", pjNames(resumed), err)
			}
			last, err := readTaskFeed(t, s.OpenFeed(t, feedPath(id), svc.Token, nil))
			if err != nil || len(last) != 1 || last[0].Type != "bgtask_failed" || last[0].ID != evs[2].ID {
				t.Fatalf("finished, no id: %v %v", pjNames(last), err)
			}
		})
	}
	if err := api.CheckTaskEventNames("bogus"); err == nil {
		t.Error("CheckTaskEventNames accepted bogus")
	}
	for _, ok := range []string{"", api.TaskNamesHerald, api.TaskNamesBackendAI} {
		if err := api.CheckTaskEventNames(ok); err != nil {
			t.Errorf("CheckTaskEventNames(%q): %v", ok, err)
		}
	}
}

func namedEvents(names ...string) []sse.Event {
	out := make([]sse.Event, len(names))
	for i, n := range names {
		out[i].Type = n
	}
	return out
}

// noLinger is a server whose finished jobs' feeds answer with the summary
// at once (no Chef-style linger with the whole history).
var noLinger = testutil.WithConfig(func(c *api.Config) { c.JobFeedLinger = -1 })

// TestJobFeedLinger: a finished job's feed opened without a recognized id
// within the linger (default 5 s, as Chef keeps the stream) replays the
// job's whole history with ids and ends; once the linger is over it sends
// the summary alone.
func TestJobFeedLinger(t *testing.T) {
	for _, tc := range []struct {
		name   string
		linger time.Duration
	}{{"default", 0}, {"1s", time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			s := pjServer(t, testutil.WithConfig(func(c *api.Config) { c.JobFeedLinger = tc.linger }))
			ctx := context.Background()
			svc := s.CreateKey(t, "service", "default", nil, "")
			c := s.Client(svc.Token)
			id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"ghost"}}, "")
			if err != nil {
				t.Fatal(err)
			}
			pjWaitStatus(t, c, "default", id, "quorum_failed")
			for _, h := range []map[string]string{nil, {"Last-Event-ID": "nonsense"}} {
				evs, err := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", id), svc.Token, h), 5*time.Second)
				if err != nil || pjNames(evs) != "start, quorum_vote ghost down, job_complete quorum_failed" {
					t.Fatalf("just after the end (%v): %s %v", h, pjNames(evs), err)
				}
				for _, e := range evs {
					if e.ID == "" {
						t.Fatalf("event %s without id", e.Type)
					}
				}
			}
			if tc.linger == 0 {
				return
			}
			time.Sleep(tc.linger)
			evs, err := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", id), svc.Token, nil), 5*time.Second)
			if err != nil || len(evs) != 1 || evs[0].Type != "summary" || evs[0].ID != "" {
				t.Fatalf("after the linger: %s %v", pjNames(evs), err)
			}
		})
	}
}

// TestWrongMethod405: a wrong method on a route that exists is 405
// problem+json with Allow listing the route's methods (GET brings HEAD);
// an unknown path is still 404.
func TestWrongMethod405(t *testing.T) {
	s := testutil.Start(t)
	cases := []struct{ method, path, allow string }{
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/v1/tasks", "POST"},
		{"PUT", "/v1/tasks/6f1c0000-0000-4000-8000-000000000000", "GET, HEAD"},
		{"GET", "/v1/tasks/6f1c0000-0000-4000-8000-000000000000/done", "POST"},
		{"POST", "/events/background-task", "GET, HEAD"},
		{"PATCH", "/v1/admin/keys/AK123", "DELETE"},
		{"DELETE", "/organizations/default/pushy/jobs", "GET, HEAD, POST"},
		{"POST", "/organizations/default/pushy/job_status_feed/abc", "GET, HEAD"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, s.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		allow := resp.Header.Get("Allow")
		p := testutil.Problem(t, resp)
		if resp.StatusCode != http.StatusMethodNotAllowed || allow != tc.allow || p.Status != 405 || p.Type != "urn:herald:problem:method-not-allowed" {
			t.Errorf("%s %s: %d Allow %q problem %+v, want 405 Allow %q", tc.method, tc.path, resp.StatusCode, allow, p, tc.allow)
		}
	}
	resp := s.Get(t, context.Background(), "/no/such/path", s.Token, nil)
	if p := testutil.Problem(t, resp); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Allow") != "" {
		t.Errorf("unknown path: %d Allow %q %+v", resp.StatusCode, resp.Header.Get("Allow"), p)
	}
}

// TestJobReadIncludeFile: GET /pushy/jobs/ID?include_file=true returns
// the job's file as submitted (read from its start record, also after a
// restart); without it, or =false, no file; another value is 400; a job
// without a file has none either way.
func TestJobReadIncludeFile(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	file := "raw:#!/bin/sh\necho <hi> & bye\n"
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"ghost"}, File: file}, "")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"ghost"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	read := func(job, query string) map[string]any {
		t.Helper()
		var out map[string]any
		if err := c.Do(ctx, "GET", "/organizations/default/pushy/jobs/"+job+query, nil, &out, ""); err != nil {
			t.Fatalf("GET %s%s: %v", job, query, err)
		}
		return out
	}
	for round := 0; round < 2; round++ {
		if got := read(id, "?include_file=true"); got["file"] != file || got["file_specified"] != true {
			t.Fatalf("round %d: include_file=true: file %q", round, got["file"])
		}
		for _, q := range []string{"", "?include_file=false"} {
			if got := read(id, q); got["file"] != nil {
				t.Fatalf("%q: file %q", q, got["file"])
			}
		}
		if got := read(plain, "?include_file=true"); got["file"] != nil {
			t.Fatalf("job without a file: file %q", got["file"])
		}
		s.Restart(t) // the file is read from the start record, not the views
	}
	resp := s.Get(t, ctx, "/organizations/default/pushy/jobs/"+id+"?include_file=yes", svc.Token, nil)
	if p := testutil.Problem(t, resp); resp.StatusCode != 400 || p.Field != "include_file" {
		t.Fatalf("include_file=yes: %d %+v", resp.StatusCode, p)
	}
}

// TestJobOutputOctetStream: a node's captured output is served as
// application/octet-stream (as Chef does), byte for byte.
func TestJobOutputOctetStream(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	nodes := pjNodes(t, s, "default", testutil.Obedient, "n1")
	nodes[0].Output = "<b>hi</b> & \x00bye\n"
	pjWaitAvailable(t, c, "default", "n1")
	id, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1"}, CaptureOutput: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	pjWaitStatus(t, c, "default", id, "complete")
	resp := s.Get(t, ctx, "/organizations/default/pushy/jobs/"+id+"/output/n1/stdout", svc.Token, nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" || string(b) != nodes[0].Output {
		t.Fatalf("output: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

// TestPushyStatus: GET /organizations/{org}/pushy/_status answers like
// Chef's health endpoint — "it's alive", the process incarnation (new
// after a restart), the organization's heartbeating nodes and unfinished
// jobs; another organization's is 404, no credentials 401.
func TestPushyStatus(t *testing.T) {
	s := pjServer(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	user := s.CreateKey(t, "user", "default", nil, "")
	c := s.Client(svc.Token)
	s.CreateKey(t, "node", "default", nil, "silent")      // never heartbeats
	pjNodes(t, s, "default", testutil.Behavior{}, "mute") // heartbeats, never votes
	pjWaitAvailable(t, c, "default", "mute")
	done, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"ghost"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	open, err := c.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"mute"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	type status struct {
		Status       string   `json:"status"`
		Incarnation  string   `json:"incarnation_id"`
		NodeFSMCount int      `json:"node_fsm_count"`
		JobProcesses []string `json:"job_processes"`
	}
	var st status
	if err := s.Client(user.Token).Do(ctx, "GET", "/organizations/default/pushy/_status", nil, &st, ""); err != nil {
		t.Fatal(err)
	}
	if st.Status != "it's alive" || st.Incarnation == "" || st.NodeFSMCount != 1 || len(st.JobProcesses) != 1 || st.JobProcesses[0] != open {
		t.Fatalf("status %+v, want alive, 1 node, job_processes [%s] (not %s)", st, open, done)
	}
	s.CreateDomain(t, "other")
	resp := s.Get(t, ctx, "/organizations/other/pushy/_status", user.Token, nil)
	if testutil.Problem(t, resp); resp.StatusCode != 404 {
		t.Fatalf("another organization: %d", resp.StatusCode)
	}
	resp = s.Get(t, ctx, "/organizations/default/pushy/_status", "", nil)
	if testutil.Problem(t, resp); resp.StatusCode != 401 {
		t.Fatalf("no credentials: %d", resp.StatusCode)
	}
	s.Restart(t)
	var after status
	if err := s.Client(user.Token).Do(ctx, "GET", "/organizations/default/pushy/_status", nil, &after, ""); err != nil {
		t.Fatal(err)
	}
	if after.Incarnation == st.Incarnation {
		t.Fatalf("incarnation %s survived a restart", after.Incarnation)
	}
}

// TestNodeReasonInEvents: a node's reason rides on the failure vote
// (nack_commit) and the failed run (failed) it causes, as "reason" in the
// event data; other events carry none even when the node gave one; over
// 200 characters is a 400 naming reason that writes nothing.
func TestNodeReasonInEvents(t *testing.T) {
	s := pjServer(t)
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	nodes := pjNodes(t, s, "default", testutil.Behavior{}, "n1", "n2") // heartbeat, never answer
	pjWaitAvailable(t, c, "default", "n1", "n2")
	resp := pjDo(t, s, "POST", "/organizations/default/pushy/jobs", svc.Token, `{"command":"x","nodes":["n1","n2"],"quorum":1}`, map[string]string{"Content-Type": "application/json"})
	resp.Body.Close()
	startID, loc := resp.Header.Get("Herald-Event-Id"), resp.Header.Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	send := func(n *testutil.PushyNode, body string, want int) {
		t.Helper()
		resp := pjDo(t, s, "POST", "/organizations/default/pushy/nodes/"+n.Name+"/messages", n.Token, body, map[string]string{"Content-Type": "application/json"})
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d %s, want %d", body, resp.StatusCode, b, want)
		}
	}
	msg := func(typ, reason string) string {
		b, _ := json.Marshal(map[string]string{"type": typ, "job_id": id, "reason": reason})
		return string(b)
	}
	applied := s.API.Views().Applied()
	send(nodes[0], msg("nack_commit", strings.Repeat("é", 201)), 400)
	if s.API.Views().Applied() != applied {
		t.Fatal("a refused reason wrote a record")
	}
	send(nodes[0], msg("nack_commit", "command not in whitelist"), 200)
	send(nodes[1], msg("ack_commit", "glad to"), 200)
	send(nodes[1], msg("ack_run", "starting"), 200)
	send(nodes[1], msg("failed", strings.Repeat("é", 200)), 200)
	pjWaitStatus(t, c, "default", id, "complete")

	evs, err := pjReadAll(t, s.OpenFeed(t, jobFeedPath("default", id), svc.Token, map[string]string{"Last-Event-ID": startID}), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		var d map[string]any
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
			t.Fatal(err)
		}
		line := pjDescribe(e)
		if r, ok := d["reason"]; ok {
			line += " reason=" + r.(string)
		}
		got = append(got, line)
	}
	want := []string{
		"quorum_vote n1 failure reason=command not in whitelist",
		"quorum_vote n2 success",
		"quorum_succeeded",
		"run_start n2",
		"run_complete n2 failure reason=" + strings.Repeat("é", 200),
		"job_complete complete",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTaskStaleAfter: with --task-stale-after a running task whose
// producer went silent that long fails with a message saying so (its
// feed ends with task_failed); a task reported on meanwhile keeps
// running; by default (0) a silent task stays running.
func TestTaskStaleAfter(t *testing.T) {
	const after = 400 * time.Millisecond
	for _, tc := range []struct {
		name       string
		staleAfter time.Duration
	}{{"on", after}, {"off", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.TaskStaleAfter = tc.staleAfter }))
			ctx := context.Background()
			svc := s.CreateKey(t, "service", "default", nil, "")
			c := s.Client(svc.Token)
			silent, err := c.CreateTask(ctx, 10, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			busy, err := c.CreateTask(ctx, 100, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			feed := s.OpenFeed(t, feedPath(silent), svc.Token, nil)
			// Report on busy every 50 ms for 5 periods (after the start
			// grace of one period and then some).
			for p := int64(1); p <= int64(5*after/(50*time.Millisecond)); p++ {
				if _, err := c.TaskProgress(ctx, busy, p, -1, nil); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			var st struct {
				Status  string  `json:"status"`
				Message *string `json:"message"`
			}
			if err := c.Do(ctx, "GET", "/v1/tasks/"+busy, nil, &st, ""); err != nil || st.Status != "running" {
				t.Fatalf("busy task: %+v %v", st, err)
			}
			if err := c.Do(ctx, "GET", "/v1/tasks/"+silent, nil, &st, ""); err != nil {
				t.Fatal(err)
			}
			if tc.staleAfter == 0 {
				if st.Status != "running" {
					t.Fatalf("silent task with the option off: %+v", st)
				}
				return
			}
			if st.Status != "failed" || st.Message == nil || !strings.Contains(*st.Message, "no report from the task's producer for 400ms") {
				t.Fatalf("silent task: %+v", st)
			}
			evs, err := pjReadAll(t, feed, 5*time.Second)
			if err != nil || pjNames(evs) != "task_updated, task_failed, server_close" || !strings.Contains(evs[1].Data, "--task-stale-after") {
				t.Fatalf("feed of the silent task: %v %v", pjNames(evs), err)
			}
		})
	}
}
