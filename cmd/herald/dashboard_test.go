package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// dashKeys creates group g1 in domain default and a user key in it.
func dashUser(t *testing.T, url string) (accessKey, token string) {
	t.Helper()
	ctx := context.Background()
	if code, err := call(ctx, "POST", url+"/v1/admin/domains/default/groups", testToken, map[string]string{"name": "g1"}, nil); err != nil || (code != 201 && code != 409) {
		t.Fatalf("group: %d %v", code, err)
	}
	var k struct {
		AccessKey string `json:"accessKey"`
		Token     string `json:"token"`
	}
	if code, err := call(ctx, "POST", url+"/v1/admin/keys", testToken, map[string]any{"role": "user", "domain": "default", "groups": []string{"g1"}}, &k); err != nil || code != 201 {
		t.Fatalf("user key: %d %v", code, err)
	}
	return k.AccessKey, k.Token
}

// reportSession reports one session event as the superadmin.
func reportSession(t *testing.T, url, owner, id, event string, extra map[string]any) {
	t.Helper()
	body := map[string]any{"sessionId": id, "ownerAccessKey": owner, "group": "g1", "event": event}
	for k, v := range extra {
		body[k] = v
	}
	if code, err := call(context.Background(), "POST", url+"/v1/sessions/events", testToken, body, nil); err != nil || code != 201 {
		t.Fatalf("session %s %s: %d %v", id, event, code, err)
	}
}

// TestDashboardTaskAndSession: signed in as the superadmin, the page
// follows a task by id from running to done (progress bar and message) and
// a session from enqueued to terminated with its result, live.
func TestDashboardTaskAndSession(t *testing.T) {
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	ctx := browser(t) // after the server: its failure screenshot is taken before the server stops
	owner, _ := dashUser(t, p.url)
	signIn(t, ctx, p.url, testToken)

	var task struct {
		ID string `json:"task_id"`
	}
	if code, err := call(context.Background(), "POST", p.url+"/v1/tasks", testToken, map[string]any{"total_progress": 4, "message": "warming up"}, &task); err != nil || code != 201 {
		t.Fatalf("task: %d %v", code, err)
	}
	goTo(t, ctx, "#tasks/"+task.ID)
	card := fmt.Sprintf(`document.querySelector('li[data-task=%q]')`, task.ID)
	waitPage(t, ctx, card+`?.dataset.status === "running" && `+card+`.innerText.includes("warming up")`, "task running")
	if code, err := call(context.Background(), "POST", p.url+"/v1/tasks/"+task.ID+"/progress", testToken, map[string]any{"current_progress": 3, "message": "three of four"}, nil); err != nil || code != 200 {
		t.Fatalf("progress: %d %v", code, err)
	}
	waitPage(t, ctx, card+`.querySelector("progress").value === 3 && `+card+`.innerText.includes("three of four")`, "progress 3 of 4")
	if code, err := call(context.Background(), "POST", p.url+"/v1/tasks/"+task.ID+"/done", testToken, map[string]any{"message": "all done"}, nil); err != nil || code != 200 {
		t.Fatalf("done: %d %v", code, err)
	}
	waitPage(t, ctx, card+`.dataset.status === "done" && `+card+`.innerText.includes("all done")`, "task done")
	if f := pageFeed(t, ctx, "task:"+task.ID); f.Received != 3 || f.Duplicates != 0 {
		t.Errorf("task feed counters %+v, want 3 events (created, progress, done) and no duplicate", f)
	}

	goTo(t, ctx, "#sessions")
	row := fmt.Sprintf(`document.querySelector('tr[data-key=%q]')`, owner+"/s1")
	steps := []string{"enqueued", "preparing", "creating", "started", "terminated"}
	for _, st := range steps {
		extra := map[string]any{}
		if st == "terminated" {
			extra["result"] = "SUCCESS"
		}
		reportSession(t, p.url, owner, "s1", "session_"+st, extra)
		waitPage(t, ctx, row+`?.dataset.state === "`+st+`" && `+row+`.querySelector(".chip").textContent === "`+st+`"`, "session "+st)
	}
	waitPage(t, ctx, row+`.innerText.includes("SUCCESS")`, "the terminated session shows its result")
	for _, f := range []struct {
		sel, value string
		shown      bool
	}{{"f-state", "started", false}, {"f-state", "terminated", true}, {"f-group", "g1", true}, {"f-state", "", true}} {
		js := fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event("change")); return !%s.hidden; })()`, f.sel, f.value, row)
		if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil || shown != f.shown {
			t.Errorf("filter %s=%q: row shown %v (%v), want %v", f.sel, f.value, shown, err, f.shown)
		}
	}
	if f := pageFeed(t, ctx, "sessions"); f.Received != len(steps) || f.Duplicates != 0 {
		t.Errorf("session feed counters %+v, want %d events and no duplicate", f, len(steps))
	}

	// Log out: the sign-in form is back and the cookie no longer reads.
	sctx, cancel := context.WithTimeout(ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("token"))); err != nil {
		t.Fatalf("log out: %v", err)
	}
	status, err := chromedp.Run(sctx, chromedp.Evaluate[int](`fetch("/v1/sessions", {credentials: "include"}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 401 {
		t.Errorf("a read after logout: %d %v, want 401", status, err)
	}
	waitPage(t, ctx, `document.getElementById("banner").dataset.state === "offline"`, "the banner says signed out")
}

// TestDashboardPushJob: the page starts a job on two real `herald agent`s
// from its form (a cookie write with Herald-CSRF), shows each node's cell
// reach succeeded, the event timeline and the captured output; the Nodes
// view shows both nodes online and available. With
// HERALD_DASHBOARD_SCREENSHOT=path it saves the job page there.
func TestDashboardPushJob(t *testing.T) {
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken,
		"--heartbeat-interval", "300ms", "--voting-timeout", "5s")
	ctx := browser(t)
	wl := filepath.Join(t.TempDir(), "whitelist.json")
	if err := os.WriteFile(wl, []byte(`{"hello": "echo hello from $CHEF_PUSH_NODE_NAME", "nap": "sleep 30"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := []string{"web-1", "web-2"}
	for _, n := range nodes {
		startAgent(t, p, nodeKey(t, p.url, n), n, wl)
	}
	waitNodes(t, p, nodes...)
	signIn(t, ctx, p.url, testToken)

	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const o = document.getElementById("org"); o.value = "acme"; o.dispatchEvent(new Event("change")); return o.value; })()`)); err != nil {
		t.Fatal(err)
	}
	goTo(t, ctx, "#nodes")
	for _, n := range nodes {
		waitPage(t, ctx, fmt.Sprintf(`document.querySelector('#nodes tr[data-node=%q]')?.innerText.includes("available")`, n), n+" available in the Nodes view")
	}
	goTo(t, ctx, "#jobs")
	sctx, cancel := context.WithTimeout(ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(sctx,
		chromedp.Click(chromedp.CSS("#start-box summary")),
		chromedp.SendKeys(chromedp.ID("s-command"), "hello"),
		chromedp.SendKeys(chromedp.ID("s-nodes"), strings.Join(nodes, ", ")),
		chromedp.Click(chromedp.ID("s-capture")),
		chromedp.Click(chromedp.CSS("#start-form button[type=submit]")),
	); err != nil {
		t.Fatalf("start form: %v", err)
	}
	waitPage(t, ctx, `location.hash.startsWith("#job/acme/")`, "the job page")
	for _, n := range nodes {
		waitPage(t, ctx, fmt.Sprintf(`document.querySelector('#grid li[data-node=%q]')?.dataset.state === "succeeded"`, n), n+"'s cell succeeded")
	}
	waitPage(t, ctx, `document.getElementById("job-status").textContent === "complete"`, "job complete")
	waitPage(t, ctx, `document.querySelector('#timeline li[data-event="job_complete"]')`, "job_complete in the timeline")
	for _, n := range nodes {
		waitPage(t, ctx, fmt.Sprintf(`document.querySelector('#outputs pre[data-node=%q][data-stream="stdout"]')?.textContent === "hello from %s\n"`, n, n), n+"'s captured output")
	}
	var events []string
	pageValue(t, ctx, `[...document.querySelectorAll("#timeline li")].map(li => li.dataset.event)`, &events)
	want := map[string]int{"start": 1, "quorum_vote": 2, "quorum_succeeded": 1, "run_start": 2, "run_complete": 2, "job_complete": 1}
	got := map[string]int{}
	for _, e := range events {
		got[e]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeline events %v, want %v", got, want)
	}
	if path := os.Getenv("HERALD_DASHBOARD_SCREENSHOT"); path != "" {
		saveScreenshot(t, ctx, path)
	}
	// The jobs list shows the job, complete, from the organization feed.
	goTo(t, ctx, "#jobs")
	waitPage(t, ctx, `document.querySelector('#jobs tbody tr')?.dataset.status === "complete"`, "the job listed as complete")

	// A long job aborted from its page: both cells end aborted.
	sctx2, cancel2 := context.WithTimeout(ctx, pageTimeout)
	defer cancel2()
	if err := chromedp.Do(sctx2,
		chromedp.SetValue(chromedp.ID("s-command"), "nap"),
		chromedp.Click(chromedp.ID("s-capture")),
		chromedp.Click(chromedp.CSS("#start-form button[type=submit]")),
	); err != nil {
		t.Fatalf("start form: %v", err)
	}
	waitPage(t, ctx, `location.hash.startsWith("#job/acme/")`, "the second job's page")
	for _, n := range nodes {
		waitPage(t, ctx, fmt.Sprintf(`document.querySelector('#grid li[data-node=%q]')?.dataset.state === "running"`, n), n+" running the nap")
	}
	if err := chromedp.Do(sctx2, chromedp.Click(chromedp.ID("abort"))); err != nil {
		t.Fatalf("abort: %v", err)
	}
	waitPage(t, ctx, `document.getElementById("job-status").textContent === "aborted"`, "job aborted")
	for _, n := range nodes {
		waitPage(t, ctx, fmt.Sprintf(`document.querySelector('#grid li[data-node=%q]')?.dataset.state === "aborted"`, n), n+"'s cell aborted")
	}
	waitPage(t, ctx, `document.getElementById("abort").hidden`, "no abort button on a finished job")
}

// TestDashboardResumesAfterKill: while a task's progress and new sessions
// stream into the page, the server is killed (SIGKILL) and restarted on the
// same port and data directory. The page's feeds resume (the browser's own
// Last-Event-ID, or ?lastEventId= after a refused reconnect) and its
// counters show every stored event exactly once: none lost, none doubled.
func TestDashboardResumesAfterKill(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--data", dir, "--bootstrap-token", testToken, "--rate-writes", "0"}
	p := startServe(t, args...)
	ctx := browser(t)
	owner, _ := dashUser(t, p.url)
	signIn(t, ctx, p.url, testToken)
	var task struct {
		ID string `json:"task_id"`
	}
	if code, err := call(context.Background(), "POST", p.url+"/v1/tasks", testToken, map[string]any{"total_progress": 60}, &task); err != nil || code != 201 {
		t.Fatalf("task: %d %v", code, err)
	}
	goTo(t, ctx, "#tasks/"+task.ID)
	card := fmt.Sprintf(`document.querySelector('li[data-task=%q]')`, task.ID)
	waitPage(t, ctx, card+`?.dataset.status === "running"`, "task running")

	const total, killAt, sessions = 60, 20, 20
	var acked atomic.Int64
	writerDone := make(chan struct{})
	url := p.url // the same address after the restart
	go func() {
		defer close(writerDone)
		for v := 1; v <= total; v++ {
			write := func(path string, body any) {
				for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					code, err := callIdem(url+path, body, fmt.Sprintf("%s-%d", path, v))
					if err == nil && code < 300 {
						return
					}
				}
				t.Errorf("write %s %d never acknowledged", path, v)
			}
			write("/v1/tasks/"+task.ID+"/progress", map[string]any{"current_progress": v})
			if v%(total/sessions) == 0 {
				write("/v1/sessions/events", map[string]any{"sessionId": fmt.Sprintf("r%d", v), "ownerAccessKey": owner, "group": "g1", "event": "session_enqueued"})
			}
			acked.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for acked.Load() < killAt {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	time.Sleep(300 * time.Millisecond) // the page sees the cut
	p2 := startServe(t, append(args, "--listen", strings.TrimPrefix(url, "http://"))...)
	if p2.url != url {
		t.Fatalf("restarted on %s, want %s", p2.url, url)
	}
	<-writerDone

	// The server's own count of the task's events so far: its feed from
	// the start, read up to progress 60.
	stored := countTaskEvents(t, url, task.ID, total)
	if code, err := call(context.Background(), "POST", url+"/v1/tasks/"+task.ID+"/done", testToken, map[string]any{}, nil); err != nil || code != 200 {
		t.Fatalf("done: %d %v", code, err)
	}
	waitPage(t, ctx, card+`.dataset.status === "done"`, "task done after the restart")
	waitPage(t, ctx, fmt.Sprintf(`window.heraldStats.feeds.sessions.received >= %d`, sessions), "every session event")
	time.Sleep(300 * time.Millisecond) // a late duplicate would show now
	tf, sf := pageFeed(t, ctx, "task:"+task.ID), pageFeed(t, ctx, "sessions")
	t.Logf("page counters after the restart: task %+v, sessions %+v", tf, sf)
	if tf.Received != stored+1 || tf.Duplicates != 0 {
		t.Errorf("task feed: the page received %d events (%d duplicates); the server stored %d", tf.Received, tf.Duplicates, stored+1)
	}
	if sf.Received != sessions || sf.Duplicates != 0 {
		t.Errorf("session feed: the page received %d events (%d duplicates), want %d once each", sf.Received, sf.Duplicates, sessions)
	}
	if tf.Opens < 2 || sf.Opens < 2 {
		t.Errorf("the feeds did not reconnect (task opened %d times, sessions %d)", tf.Opens, sf.Opens)
	}
	var rows int
	pageValue(t, ctx, `document.querySelectorAll('#sessions tbody tr').length`, &rows)
	if rows != sessions {
		t.Errorf("the sessions table has %d rows, want %d", rows, sessions)
	}
	waitPage(t, ctx, `document.getElementById("banner").dataset.state === "connected"`, "connected again")
	var log []string
	pageValue(t, ctx, `window.heraldStats.banner`, &log)
	if i := slices.Index(log, "reconnecting"); i < 0 || !slices.Contains(log[i:], "resumed") {
		t.Errorf("the banner went through %v, want reconnecting then resumed", log)
	}
}

// maxHandlerP99 bounds the page's handling of one session update (ms) at
// p99: three frames, room for a CI machine running other tests at once
// (measured: under 1 ms when idle, 5 ms under -race load).
const maxHandlerP99 = 50

// callIdem posts body with the superadmin token and an Idempotency-Key, so
// a retry of a write whose answer was lost is not applied twice.
func callIdem(url string, body any, key string) (int, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Idempotency-Key", key)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// countTaskEvents reads a running task's feed from its start until the
// event with current_progress last and returns how many events it holds.
func countTaskEvents(t *testing.T, url, id string, last int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events/background-task?taskId="+id, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "id:") {
			n++
		}
		if strings.HasPrefix(line, "data:") {
			var d struct {
				Current int `json:"current_progress"`
			}
			if json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &d) == nil && d.Current == last {
				return n
			}
		}
	}
	t.Fatalf("the task feed ended before progress %d: %v", last, sc.Err())
	return 0
}

// TestDashboardUserSeesOwn: signed in with a user key, the page shows that
// user's sessions and tasks only — at first paint and live — and a start
// of a job is refused (a user may not start jobs).
func TestDashboardUserSeesOwn(t *testing.T) {
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	ctx := browser(t)
	mine, token := dashUser(t, p.url)
	theirs, _ := dashUser(t, p.url)
	reportSession(t, p.url, mine, "before-mine", "session_enqueued", nil)
	reportSession(t, p.url, theirs, "before-theirs", "session_enqueued", nil)
	newTask := func(owner string) string {
		var task struct {
			ID string `json:"task_id"`
		}
		if code, err := call(context.Background(), "POST", p.url+"/v1/tasks", testToken, map[string]any{"ownerAccessKey": owner, "message": "owned by " + owner}, &task); err != nil || code != 201 {
			t.Fatalf("task: %d %v", code, err)
		}
		return task.ID
	}
	myTask, theirTask := newTask(mine), newTask(theirs)

	signIn(t, ctx, p.url, token)
	reportSession(t, p.url, theirs, "live-theirs", "session_enqueued", nil)
	reportSession(t, p.url, mine, "live-mine", "session_enqueued", nil)
	waitPage(t, ctx, fmt.Sprintf(`document.querySelector('tr[data-key=%q]') && document.querySelector('tr[data-key=%q]')`, mine+"/live-mine", mine+"/before-mine"), "the user's sessions")
	var keys []string
	pageValue(t, ctx, `[...document.querySelectorAll('#sessions tbody tr')].map(tr => tr.dataset.key).sort()`, &keys)
	if want := []string{mine + "/before-mine", mine + "/live-mine"}; fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("the user's page lists sessions %v, want %v", keys, want)
	}

	goTo(t, ctx, "#tasks/"+myTask+","+theirTask)
	waitPage(t, ctx, fmt.Sprintf(`document.querySelector('li[data-task=%q]')?.dataset.status === "running"`, myTask), "the user's own task")
	waitPage(t, ctx, fmt.Sprintf(`document.querySelector('li[data-task=%q]')?.innerText.includes("No such task visible")`, theirTask), "another user's task refused")
	var text string
	pageValue(t, ctx, fmt.Sprintf(`document.querySelector('li[data-task=%q]').innerText`, theirTask), &text)
	if strings.Contains(text, "owned by") {
		t.Errorf("another user's task shows its message: %q", text)
	}

	goTo(t, ctx, "#jobs")
	sctx, cancel := context.WithTimeout(ctx, pageTimeout)
	defer cancel()
	if err := chromedp.Do(sctx,
		chromedp.Click(chromedp.CSS("#start-box summary")),
		chromedp.SendKeys(chromedp.ID("s-command"), "hello"),
		chromedp.SendKeys(chromedp.ID("s-nodes"), "web-1"),
		chromedp.Click(chromedp.CSS("#start-form button[type=submit]")),
	); err != nil {
		t.Fatalf("start form: %v", err)
	}
	waitPage(t, ctx, `document.getElementById("start-error").textContent.includes("may not start jobs")`, "the start refused for a user")

	// The key revoked: its streams end, the feeds' reconnects are refused
	// (401) and the page asks to sign in again.
	if code, err := call(context.Background(), "DELETE", p.url+"/v1/admin/keys/"+mine, testToken, nil, nil); err != nil || code != 204 {
		t.Fatalf("revoke: %d %v", code, err)
	}
	waitPage(t, ctx, `!document.getElementById("login").hidden && document.getElementById("login-error").textContent.includes("login ended")`, "the sign-in form after the key was revoked")
}

// TestDashboardThousandSessions measures the page with 1,000 sessions
// under 20 session updates a second: the time the page spends handling
// each event (performance.now() around the handler, DOM update included)
// and the frame intervals meanwhile. It fails when an update's handling
// takes more than maxHandlerP99 at the 99th percentile.
func TestDashboardThousandSessions(t *testing.T) {
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken, "--rate-writes", "0")
	ctx := browser(t)
	owner, _ := dashUser(t, p.url)
	const n, rate, updates = 1000, 20, 100
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 { // t.Fatal is for the test's goroutine: report with t.Error
				body := map[string]any{"sessionId": fmt.Sprintf("s%04d", i), "ownerAccessKey": owner, "group": "g1", "event": "session_enqueued"}
				if code, err := call(context.Background(), "POST", p.url+"/v1/sessions/events", testToken, body, nil); err != nil || code != 201 {
					t.Errorf("session s%04d: %d %v", i, code, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	signIn(t, ctx, p.url, testToken)
	waitPage(t, ctx, fmt.Sprintf(`document.querySelectorAll('#sessions tbody tr').length === %d`, n), "1,000 sessions painted")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		window.heraldStats.handler = { count: 0, totalMs: 0, maxMs: 0, samples: [] };
		const f = window.heraldFrames = { deltas: [], last: performance.now(), on: true };
		const loop = (now) => { f.deltas.push(now - f.last); f.last = now; if (f.on) requestAnimationFrame(loop); };
		requestAnimationFrame(loop);
		return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	before := pageFeed(t, ctx, "sessions").Received
	tick := time.NewTicker(time.Second / rate)
	for i := 0; i < updates; i++ {
		<-tick.C
		reportSession(t, p.url, owner, fmt.Sprintf("s%04d", i*(n/updates)), "session_preparing", nil)
	}
	tick.Stop()
	waitPage(t, ctx, fmt.Sprintf(`window.heraldStats.feeds.sessions.received >= %d`, before+updates), "every update")
	var fig struct {
		Count                     int
		Mean, P50, P99, Max       float64
		Frames                    int
		FrameP50, FrameP99, FrMax float64
	}
	pageValue(t, ctx, `(() => {
		window.heraldFrames.on = false;
		const h = window.heraldStats.handler, s = [...h.samples].sort((a, b) => a - b);
		const d = window.heraldFrames.deltas.slice(1).sort((a, b) => a - b);
		const q = (a, p) => a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : 0;
		return { Count: h.count, Mean: h.totalMs / Math.max(1, h.count), P50: q(s, 0.5), P99: q(s, 0.99), Max: h.maxMs,
			Frames: d.length, FrameP50: q(d, 0.5), FrameP99: q(d, 0.99), FrMax: d.length ? d[d.length - 1] : 0 };
	})()`, &fig)
	t.Logf("1,000 sessions, %d updates at %d/s: handler per update mean %.3f ms, p50 %.3f ms, p99 %.3f ms, max %.3f ms (%d events); frames %d, interval p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		updates, rate, fig.Mean, fig.P50, fig.P99, fig.Max, fig.Count, fig.Frames, fig.FrameP50, fig.FrameP99, fig.FrMax)
	if fig.Count < updates {
		t.Errorf("the handler ran %d times, want %d", fig.Count, updates)
	}
	if fig.P99 > maxHandlerP99 {
		t.Errorf("handling an update takes %.1f ms at p99, more than %d ms", fig.P99, maxHandlerP99)
	}
	var preparing int
	pageValue(t, ctx, `document.querySelectorAll('#sessions tbody tr[data-state="preparing"]').length`, &preparing)
	if preparing != updates {
		t.Errorf("%d rows show preparing, want %d", preparing, updates)
	}
}
