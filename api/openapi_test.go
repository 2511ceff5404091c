package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestOpenAPIAnswers validates GET /openapi.json as OpenAPI 3.1 and then
// records real answers of a running server — every documented operation at
// least once, successes and refusals, every feed's events — and checks each
// against the document's schemas (status, headers, body, SSE events).
func TestOpenAPIAnswers(t *testing.T) {
	srv := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.JobFeedLinger = oaJobFeedLinger }))
	c := newDocChecker(t, srv)
	admin := srv.Token

	c.do(request{method: "GET", path: "/healthz", want: 200})
	c.do(request{method: "GET", path: "/readyz", want: 200})
	c.do(request{method: "GET", path: "/metrics", want: 200})
	c.do(request{method: "GET", path: "/openapi.json", want: 200})
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} { // the dashboard's files
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	c.do(request{method: "GET", path: "/", want: 200})
	c.do(request{method: "GET", path: "/ui/app.js", want: 200})
	c.do(request{method: "GET", path: "/ui/style.css", want: 200})
	c.do(request{method: "GET", path: "/ui/nosuch.js", want: 404})

	keys := openAPIAdmin(t, c, admin)
	cookie := openAPILogin(t, c, keys)
	openAPITasks(t, c, keys, cookie)
	openAPISessions(t, c, keys)
	openAPIJobs(t, c, keys)

	if left := c.unchecked(); len(left) > 0 {
		t.Errorf("documented operations without a checked answer: %v", left)
	}
}

// openAPIKeys are the keys the scenarios use, all in domain acme.
type openAPIKeys struct {
	admin, service, user, node testutil.Key
}

// oaJobFeedLinger is the test server's Config.JobFeedLinger: short, so
// the summary of a finished job's feed is reached soon.
const oaJobFeedLinger = 2 * time.Second

const (
	oaDomain = "acme"
	oaGroup  = "research"
	oaNode   = "n1"
)

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return v
}

func openAPIAdmin(t *testing.T, c *docChecker, admin string) openAPIKeys {
	t.Helper()
	c.do(request{method: "POST", path: "/v1/admin/domains", token: admin, body: map[string]string{"name": oaDomain}, want: 201})
	c.do(request{method: "POST", path: "/v1/admin/domains", token: admin, body: map[string]string{"name": oaDomain}, want: 409})
	c.do(request{method: "POST", path: "/v1/admin/domains", token: admin, body: `{"name": "x", "extra": 1}`, want: 400, invalid: true})
	c.do(request{method: "POST", path: "/v1/admin/domains", token: admin, body: `{"name": 7}`, want: 400, invalid: true})
	c.do(request{method: "POST", path: "/v1/admin/domains", token: admin, body: `{"name": "` + strings.Repeat("a", api.MaxBody) + `"}`, want: 413, invalid: true})
	c.do(request{method: "GET", path: "/v1/admin/domains", want: 401})
	c.do(request{method: "GET", path: "/v1/admin/domains", token: admin, want: 200})
	c.do(request{method: "POST", path: "/v1/admin/domains/" + oaDomain + "/groups", token: admin, body: map[string]string{"name": oaGroup}, want: 201})
	c.do(request{method: "GET", path: "/v1/admin/domains/" + oaDomain + "/groups", token: admin, want: 200})
	c.do(request{method: "GET", path: "/v1/admin/domains/nosuch/groups", token: admin, want: 404})

	key := func(body map[string]any) testutil.Key {
		return decode[testutil.Key](t, c.do(request{method: "POST", path: "/v1/admin/keys", token: admin, body: body, want: 201}).body)
	}
	k := openAPIKeys{
		admin:   key(map[string]any{"role": "admin", "domain": oaDomain}),
		service: key(map[string]any{"role": "service", "domain": oaDomain}),
		user:    key(map[string]any{"role": "user", "domain": oaDomain, "groups": []string{oaGroup}}),
		node:    key(map[string]any{"role": "node", "domain": oaDomain, "node": oaNode}),
	}
	c.do(request{method: "POST", path: "/v1/admin/keys", token: admin, body: map[string]any{"role": "wizard"}, want: 400, invalid: true})
	c.do(request{method: "POST", path: "/v1/admin/keys", token: admin, body: map[string]any{"role": "user", "colour": "red"}, want: 400, invalid: true})
	c.do(request{method: "GET", path: "/v1/admin/domains", token: k.user.Token, want: 403})
	c.do(request{method: "GET", path: "/v1/admin/keys?domain=" + oaDomain, token: admin, want: 200})
	c.do(request{method: "GET", path: "/v1/admin/keys", token: k.admin.Token, want: 200})
	spare := key(map[string]any{"role": "user", "domain": oaDomain})
	c.do(request{method: "DELETE", path: "/v1/admin/keys/" + spare.AccessKey, token: admin, want: 204})
	c.do(request{method: "DELETE", path: "/v1/admin/keys/" + spare.AccessKey, token: k.admin.Token, want: 404})
	return k
}

func openAPILogin(t *testing.T, c *docChecker, k openAPIKeys) *http.Cookie {
	t.Helper()
	c.do(request{method: "POST", path: "/v1/login", body: map[string]string{"token": "hrld_wrong"}, want: 401})
	c.do(request{method: "POST", path: "/v1/login", body: map[string]any{"token": k.user.Token, "remember": true}, want: 400, invalid: true})
	c.do(request{method: "POST", path: "/v1/login", token: k.admin.Token, want: 204})
	a := c.do(request{method: "POST", path: "/v1/login", body: map[string]string{"token": k.user.Token}, want: 204})
	var cookie *http.Cookie
	for _, ck := range (&http.Response{Header: a.header}).Cookies() {
		if ck.Name == api.CookieName {
			cookie = ck
		}
	}
	if cookie == nil || cookie.Value == "" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login cookie %+v", cookie)
	}
	c.do(request{method: "GET", path: "/v1/sessions", cookie: cookie, want: 200})
	// A second login to end, so the first stays usable.
	b := c.do(request{method: "POST", path: "/v1/login", body: map[string]string{"token": k.user.Token}, want: 204})
	other := (&http.Response{Header: b.header}).Cookies()[0]
	c.do(request{method: "POST", path: "/v1/logout", cookie: other, want: 204})
	c.do(request{method: "GET", path: "/v1/sessions", cookie: other, want: 401})
	return cookie
}

func openAPITasks(t *testing.T, c *docChecker, k openAPIKeys, cookie *http.Cookie) {
	t.Helper()
	svc := k.service.Token
	created := decode[struct {
		TaskID string `json:"task_id"`
	}](t, c.do(request{method: "POST", path: "/v1/tasks", token: svc,
		body: map[string]any{"total_progress": 3, "message": "warming up", "ownerAccessKey": k.user.AccessKey}, want: 201}).body)
	id := created.TaskID
	c.do(request{method: "POST", path: "/v1/tasks", token: svc, body: map[string]any{"total_progress": "three"}, want: 400, invalid: true})
	c.do(request{method: "POST", path: "/v1/tasks", token: k.user.Token, want: 403})
	c.do(request{method: "GET", path: "/v1/tasks/" + id, token: k.user.Token, want: 200})
	c.do(request{method: "GET", path: "/v1/tasks/not-a-uuid", token: svc, want: 400})
	c.do(request{method: "GET", path: "/v1/tasks/00000000-0000-4000-8000-000000000000", token: svc, want: 404})
	c.do(request{method: "POST", path: "/v1/tasks/" + id + "/progress", token: svc, body: map[string]any{"current_progress": 1}, want: 200})

	// The running task's feed, watched by its owner through the login
	// cookie: progress and done are reported while it is open.
	feed := "/events/background-task?taskId=" + id
	var firstID string
	frames := c.stream(request{method: "GET", path: feed, cookie: cookie, want: 200},
		func() {
			c.do(request{method: "POST", path: "/v1/tasks/" + id + "/progress", token: svc,
				body: map[string]any{"current_progress": 2, "message": "half way"}, want: 200})
		},
		func(f frame) bool {
			if firstID == "" {
				firstID = f.id
			}
			if f.name == "task_updated" && strings.Contains(f.data, `"current_progress":2`) {
				c.do(request{method: "POST", path: "/v1/tasks/" + id + "/done", token: svc, body: map[string]any{"message": "all done"}, want: 200})
			}
			return false
		})
	if names := frameNames(frames); names != "task_updated task_updated task_updated task_done server_close" {
		t.Errorf("running task feed: %s", names)
	}
	// Finished: the terminal event alone, or what follows a recognized id.
	if names := frameNames(c.stream(request{method: "GET", path: feed, token: k.user.Token, want: 200}, nil, nil)); names != "task_done server_close" {
		t.Errorf("finished task feed: %s", names)
	}
	resumed := c.stream(request{method: "GET", path: feed, token: svc, header: map[string]string{"Last-Event-ID": firstID}, want: 200}, nil, nil)
	if names := frameNames(resumed); names != "task_updated task_updated task_done server_close" {
		t.Errorf("finished task feed resumed at %s: %s", firstID, names)
	}
	// Resumed at its terminal event: nothing left, 204; the alias task_id;
	// Accept: application/json alone, 406.
	c.do(request{method: "GET", path: feed, token: svc, header: map[string]string{"Last-Event-ID": resumed[len(resumed)-2].id}, want: 204})
	if names := frameNames(c.stream(request{method: "GET", path: "/events/background-task?task_id=" + id, token: svc, want: 200}, nil, nil)); names != "task_done server_close" {
		t.Errorf("finished task feed by task_id: %s", names)
	}
	c.do(request{method: "GET", path: feed, token: svc, header: map[string]string{"Accept": "application/json"}, want: 406})
	c.do(request{method: "POST", path: "/v1/tasks/" + id + "/progress", token: svc, body: map[string]any{"current_progress": 3}, want: 409})
	c.do(request{method: "POST", path: "/v1/tasks/" + id + "/progress", token: svc, body: map[string]any{"current_progress": 3, "percent": 9}, want: 400, invalid: true})
	c.do(request{method: "GET", path: "/events/background-task?taskId=00000000-0000-4000-8000-000000000000", token: svc, want: 404})
	c.do(request{method: "GET", path: "/events/background-task?taskId=nope", token: svc, want: 400})

	for _, end := range []string{"fail", "cancel"} {
		tk := decode[struct {
			TaskID string `json:"task_id"`
		}](t, c.do(request{method: "POST", path: "/v1/tasks", token: svc, want: 201}).body)
		c.do(request{method: "POST", path: "/v1/tasks/" + tk.TaskID + "/" + end, token: svc, body: map[string]any{"message": nil}, want: 200})
		c.stream(request{method: "GET", path: "/events/background-task?taskId=" + tk.TaskID, token: svc, want: 200}, nil, nil)
	}
}

func frameNames(fs []frame) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, " ")
}

func openAPISessions(t *testing.T, c *docChecker, k openAPIKeys) {
	t.Helper()
	svc := k.service.Token
	report := func(event string, extra map[string]any, want int) answer {
		body := map[string]any{"sessionId": "s1", "ownerAccessKey": k.user.AccessKey, "group": oaGroup, "event": event}
		for n, v := range extra {
			body[n] = v
		}
		return c.do(request{method: "POST", path: "/v1/sessions/events", token: svc, body: body, want: want})
	}
	first := decode[struct {
		ID string `json:"id"`
	}](t, report("session_enqueued", nil, 201).body)
	c.do(request{method: "POST", path: "/v1/sessions/events", token: svc,
		body: map[string]any{"sessionId": "s1", "ownerAccessKey": k.user.AccessKey, "group": oaGroup, "event": "session_started", "colour": "red"},
		want: 400, invalid: true})
	c.do(request{method: "POST", path: "/v1/sessions/events", token: svc,
		body: map[string]any{"sessionId": "s1", "ownerAccessKey": k.user.AccessKey, "group": oaGroup}, want: 400, invalid: true})

	// Live: the user's feed while the producer reports.
	steps := []string{"session_preparing", "session_creating", "session_started", "session_terminated"}
	live := c.stream(request{method: "GET", path: "/events/session?sessionId=s1&group=" + oaGroup, token: k.user.Token, want: 200},
		func() {
			for _, s := range steps {
				var extra map[string]any
				if s == "session_terminated" {
					extra = map[string]any{"result": "SUCCESS", "reason": "finished"}
				}
				report(s, extra, 201)
			}
		},
		func(f frame) bool { return f.name == "session_terminated" })
	if names := frameNames(live); names != strings.Join(steps, " ") {
		t.Errorf("live session feed: %s", names)
	}
	report("session_started", nil, 409)
	// Resumed from the first report's id: the rest of the history.
	resumed := c.stream(request{method: "GET", path: "/events/session", token: k.admin.Token, header: map[string]string{"Last-Event-ID": first.ID}, want: 200},
		nil, func(f frame) bool { return f.name == "session_terminated" })
	if len(resumed) != len(steps) {
		t.Errorf("resumed session feed: %s", frameNames(resumed))
	}
	c.do(request{method: "GET", path: "/events/session?sessionId=bad*id", token: k.user.Token, want: 400, invalid: true})
	c.do(request{method: "GET", path: "/events/session?ownerAccessKey=" + k.admin.AccessKey, token: k.user.Token, want: 403})
	c.do(request{method: "GET", path: "/events/session?group=nosuch", token: k.user.Token, want: 404})
	c.do(request{method: "GET", path: "/events/session", token: k.user.Token, header: map[string]string{"Accept": "application/json"}, want: 406})
	c.do(request{method: "GET", path: "/v1/sessions?group=" + oaGroup + "&state=terminated", token: k.admin.Token, want: 200})
	c.do(request{method: "GET", path: "/v1/sessions?state=asleep", token: k.admin.Token, want: 400, invalid: true})
	c.do(request{method: "GET", path: "/v1/sessions/" + k.user.AccessKey + "/s1", token: k.user.Token, want: 200})
	c.do(request{method: "GET", path: "/v1/sessions/" + k.user.AccessKey + "/nosuch", token: k.user.Token, want: 404})
}

func openAPIJobs(t *testing.T, c *docChecker, k openAPIKeys) {
	t.Helper()
	svc, node := k.service.Token, k.node.Token
	p := "/organizations/" + oaDomain + "/pushy"
	nodeP := p + "/nodes/" + oaNode
	c.do(request{method: "POST", path: nodeP + "/heartbeat", token: node, body: map[string]any{"incarnation": "inc-1"}, want: 200})
	c.do(request{method: "POST", path: nodeP + "/heartbeat", token: node, body: map[string]any{"incarnation": "inc-1", "pulse": 1}, want: 400, invalid: true})
	c.do(request{method: "POST", path: p + "/nodes/other/heartbeat", token: node, body: map[string]any{"incarnation": "inc-1"}, want: 403})
	c.do(request{method: "GET", path: p + "/node_states", token: k.user.Token, want: 200})
	c.do(request{method: "GET", path: p + "/node_states/" + oaNode, token: k.user.Token, want: 200})
	c.do(request{method: "GET", path: p + "/node_states/ghost", token: k.user.Token, want: 404})
	c.do(request{method: "GET", path: p + "/_status", token: k.user.Token, want: 200})
	c.do(request{method: "GET", path: "/organizations/default/pushy/_status", token: k.user.Token, want: 404})

	// A job run by the node through its command feed: commit, vote, run,
	// report with output.
	var jobID, startEventID string
	commands := c.stream(request{method: "GET", path: nodeP + "/commands", token: node, want: 200},
		func() {
			a := c.do(request{method: "POST", path: p + "/jobs", token: svc, want: 201,
				body: map[string]any{"command": "greet", "nodes": []string{oaNode}, "capture_output": true, "env": map[string]string{"A": "1"}, "run_timeout": 60, "file": "raw:echo hi"}})
			uri := decode[struct {
				URI string `json:"uri"`
			}](t, a.body).URI
			jobID = uri[strings.LastIndex(uri, "/")+1:]
			startEventID = a.header.Get("Herald-Event-Id")
		},
		func(f frame) bool {
			msg := func(typ string, extra map[string]any) {
				body := map[string]any{"type": typ, "job_id": jobID}
				for n, v := range extra {
					body[n] = v
				}
				c.do(request{method: "POST", path: nodeP + "/messages", token: node, body: body, want: 200})
			}
			switch f.name {
			case "commit":
				msg("ack_commit", nil)
			case "run":
				msg("ack_run", nil)
				msg("succeeded", map[string]any{"stdout": "hello\n"})
				return true
			}
			return false
		})
	if names := frameNames(commands); names != "commit run" {
		t.Errorf("command feed: %s", names)
	}
	c.do(request{method: "POST", path: nodeP + "/messages", token: node, body: map[string]any{"type": "shrug", "job_id": jobID}, want: 400, invalid: true})
	c.do(request{method: "GET", path: p + "/jobs/" + jobID, token: k.user.Token, want: 200})
	if withFile := decode[map[string]any](t, c.do(request{method: "GET", path: p + "/jobs/" + jobID + "?include_file=true", token: k.user.Token, want: 200}).body); withFile["file"] != "raw:echo hi" {
		t.Errorf("include_file=true: %v", withFile)
	}
	c.do(request{method: "GET", path: p + "/jobs/" + jobID + "?include_file=maybe", token: k.user.Token, want: 400, invalid: true})
	c.do(request{method: "GET", path: p + "/jobs/" + jobID + "/output/" + oaNode + "/stdout", token: k.user.Token, want: 200})
	c.do(request{method: "GET", path: p + "/jobs/" + jobID + "/output/" + oaNode + "/stderr", token: k.user.Token, want: 404})
	c.do(request{method: "POST", path: p + "/jobs/" + jobID + "/abort", token: svc, want: 409})

	// The finished job's feed: within the linger its whole history; the
	// events after its start; 204 at its end; after the linger a summary.
	if names := frameNames(c.stream(request{method: "GET", path: p + "/job_status_feed/" + jobID, token: k.user.Token, want: 200}, nil, nil)); names != "start quorum_vote quorum_succeeded run_start run_complete job_complete" {
		t.Errorf("job feed just after the end: %s", names)
	}
	after := c.stream(request{method: "GET", path: p + "/job_status_feed/" + jobID, token: k.user.Token,
		header: map[string]string{"Last-Event-ID": startEventID}, want: 200}, nil, nil)
	if names := frameNames(after); names != "quorum_vote quorum_succeeded run_start run_complete job_complete" {
		t.Errorf("job feed after start: %s", names)
	}
	c.do(request{method: "GET", path: p + "/job_status_feed/" + jobID, token: k.user.Token,
		header: map[string]string{"Last-Event-ID": after[len(after)-1].id}, want: 204})
	time.Sleep(oaJobFeedLinger)
	for _, feed := range []string{"/job_status_feed/", "/jobs_status_feed/"} {
		if names := frameNames(c.stream(request{method: "GET", path: p + feed + jobID, token: k.user.Token, want: 200}, nil, nil)); names != "summary" {
			t.Errorf("finished job feed %s: %s", feed, names)
		}
	}
	c.do(request{method: "GET", path: p + "/job_status_feed/" + jobID, token: k.user.Token, header: map[string]string{"Accept": "application/json"}, want: 406})
	c.do(request{method: "GET", path: "/organizations/default/pushy/job_status_feed/" + jobID, token: k.user.Token, want: 404})

	// A second job the node never answers, aborted while its feed is open.
	second := decode[struct {
		URI string `json:"uri"`
	}](t, c.do(request{method: "POST", path: p + "/jobs", token: svc, body: map[string]any{"command": "nap", "nodes": []string{oaNode}}, want: 201}).body).URI
	second = second[strings.LastIndex(second, "/")+1:]
	running := c.stream(request{method: "GET", path: p + "/job_status_feed/" + second, token: k.admin.Token, want: 200}, nil,
		func(f frame) bool {
			if f.name == "start" {
				c.do(request{method: "POST", path: p + "/jobs/" + second + "/abort", token: svc, want: 202})
			}
			return false
		})
	if names := frameNames(running); !strings.HasPrefix(names, "start") || !strings.HasSuffix(names, "job_complete") {
		t.Errorf("running job feed: %s", names)
	}
	c.do(request{method: "POST", path: p + "/jobs", token: svc, body: map[string]any{"command": "greet", "nodes": []string{oaNode}, "when": "now"}, want: 400, invalid: true})
	c.do(request{method: "POST", path: p + "/jobs", token: svc, body: map[string]any{"nodes": []string{oaNode}}, want: 400, invalid: true})
	c.do(request{method: "POST", path: p + "/jobs", token: k.user.Token, body: map[string]any{"command": "greet", "nodes": []string{oaNode}}, want: 403})
	list := c.do(request{method: "GET", path: p + "/jobs?limit=1", token: k.user.Token, want: 200})
	if !strings.Contains(list.header.Get("Link"), `rel="next"`) {
		t.Errorf("job list of 1 with 2 jobs: Link %q", list.header.Get("Link"))
	}
	c.do(request{method: "GET", path: p + "/jobs?limit=0", token: k.user.Token, want: 400, invalid: true})

	// The organization feed from an unrecognized id: the whole history.
	for _, feed := range []string{"/job_status_feed", "/jobs_status_feed"} {
		n := 0
		org := c.stream(request{method: "GET", path: p + feed, token: k.user.Token, header: map[string]string{"Last-Event-ID": "unknown-1"}, want: 200}, nil,
			func(f frame) bool {
				if f.name == "job_complete" {
					n++
				}
				return n == 2
			})
		if names := frameNames(org); names != "start_of_history start job_complete start job_complete" {
			t.Errorf("organization feed %s: %s", feed, names)
		}
	}
}
