package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/clock"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/store"
)

// TestKeepaliveAndRetry: a quiet stream gets ":keepalive" comments at the
// configured period, and "retry:" once at the start when configured.
// Both ways a stream is written are checked (see streamModes).
func TestKeepaliveAndRetry(t *testing.T) { streamModes(t, testKeepaliveAndRetry) }

func testKeepaliveAndRetry(t *testing.T, mode testutil.Option) {
	s := testutil.Start(t, mode, testutil.WithConfig(func(c *api.Config) {
		c.Keepalive = 100 * time.Millisecond
		c.SSERetry = 2500 * time.Millisecond
	}))
	f := s.OpenFeed(t, "/events/session?sessionId=*", s.Token, nil)
	comments := make(chan string, 10)
	f.R.OnComment = func(text string) { comments <- text }
	go func() { _, _ = f.Next() }()
	start := time.Now()
	for i := 0; i < 3; i++ {
		select {
		case c := <-comments:
			if c != "keepalive" {
				t.Fatalf("comment %q", c)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no keepalive")
		}
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("3 keepalives in %v: faster than the period", el)
	}
	if f.R.Retry() != 2500 {
		t.Fatalf("retry %d, want 2500", f.R.Retry())
	}
}

// TestShutdownEndsStreamsCleanly: on shutdown every open stream ends at an
// event boundary (the client sees EOF, not a torn frame), promptly.
func TestShutdownEndsStreamsCleanly(t *testing.T) { streamModes(t, testShutdownEndsStreamsCleanly) }

func testShutdownEndsStreamsCleanly(t *testing.T, mode testutil.Option) {
	s := testutil.Start(t, mode)
	ctx := context.Background()
	id, err := s.Admin().CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	task := s.OpenFeed(t, feedPath(id), s.Token, nil)
	sess := s.OpenFeed(t, "/events/session?sessionId=*", s.Token, nil)
	if e, err := task.Next(); err != nil || e.Type != "task_updated" {
		t.Fatalf("%v %v", e, err)
	}
	done := make(chan struct{})
	start := time.Now()
	go func() { s.Close(); close(done) }()
	for _, f := range []*testutil.Feed{task, sess} {
		if _, err := f.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("want clean EOF, got %v", err)
		}
	}
	<-done
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("shutdown took %v", el)
	}
}

// TestRevokeEndsStreams: revoking a key ends its open streams and its
// token stops working; other keys' streams go on.
func TestRevokeEndsStreams(t *testing.T) { streamModes(t, testRevokeEndsStreams) }

func testRevokeEndsStreams(t *testing.T, mode testutil.Option) {
	s := testutil.Start(t, mode)
	ctx := context.Background()
	s.CreateGroup(t, "default", "g")
	u := s.CreateKey(t, "user", "default", []string{"g"}, "")
	other := s.CreateKey(t, "user", "default", []string{"g"}, "")
	f := s.OpenFeed(t, "/events/session?sessionId=*", u.Token, nil)
	g := s.OpenFeed(t, "/events/session?sessionId=*", other.Token, nil)
	if err := s.Admin().Do(ctx, "DELETE", "/v1/admin/keys/"+u.AccessKey, nil, nil, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("revoked stream: %v", err)
	}
	resp := s.Get(t, ctx, "/events/session?sessionId=*", u.Token, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}
	resp.Body.Close()
	if _, err := s.Admin().ReportSession(ctx, sessionReport("x", other.AccessKey, "g", "session_enqueued"), ""); err != nil {
		t.Fatal(err)
	}
	if e, err := g.Next(); err != nil || e.Type != "session_enqueued" {
		t.Fatalf("other key's stream: %v %v", e, err)
	}
	// The last superadmin cannot be revoked.
	keys := []struct {
		AccessKey string `json:"accessKey"`
		Role      string `json:"role"`
	}{}
	if err := s.Admin().Do(ctx, "GET", "/v1/admin/keys", nil, &keys, ""); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Role == "superadmin" {
			err := s.Admin().Do(ctx, "DELETE", "/v1/admin/keys/"+k.AccessKey, nil, nil, "")
			if ce, ok := err.(*client.Error); !ok || ce.Status != 409 {
				t.Fatalf("revoking the last superadmin: %v", err)
			}
		}
	}
}

// TestLoginCookieAndCORS: POST /v1/login sets an HttpOnly SameSite=Strict
// cookie that authorizes GETs (EventSource) but not writes; logout ends
// it; CORS answers only the exact configured origins, with credentials.
func TestLoginCookieAndCORS(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.CORSOrigins = []string{"https://console.example"} }))
	ctx := context.Background()
	req, _ := http.NewRequest("POST", s.URL+"/v1/login", strings.NewReader(`{"token":"`+s.Token+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("login: %v %v", err, resp.Status)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.CookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value == "" {
		t.Fatalf("cookie %+v", cookie)
	}
	withCookie := func(method, path, body string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := withCookie("GET", "/v1/admin/domains", ""); r.StatusCode != 200 {
		t.Fatalf("GET with cookie: %d", r.StatusCode)
	}
	f := withCookie("GET", "/events/session?sessionId=*", "")
	if f.StatusCode != 200 || f.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("feed with cookie: %d", f.StatusCode)
	}
	f.Body.Close()
	if r := withCookie("POST", "/v1/tasks", "{}"); r.StatusCode != 401 {
		t.Fatalf("write with only a cookie: %d, want 401", r.StatusCode)
	}
	if r := withCookie("POST", "/v1/logout", ""); r.StatusCode != 204 {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r := withCookie("GET", "/v1/admin/domains", ""); r.StatusCode != 401 {
		t.Fatalf("GET after logout: %d", r.StatusCode)
	}
	// A bad token does not log in.
	req, _ = http.NewRequest("POST", s.URL+"/v1/login", nil)
	req.Header.Set("Authorization", "Bearer hrld_wrong")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("login with a wrong token: %d", resp.StatusCode)
	}

	// CORS: the configured origin gets credentials; any other none.
	for _, tc := range []struct {
		origin string
		allow  bool
	}{{"https://console.example", true}, {"https://evil.example", false}, {"https://console.example.evil", false}} {
		req, _ := http.NewRequest("OPTIONS", s.URL+"/events/session", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if tc.allow != (got == tc.origin) || (tc.allow && resp.Header.Get("Access-Control-Allow-Credentials") != "true") {
			t.Fatalf("origin %s: allow-origin %q", tc.origin, got)
		}
		if !tc.allow && got != "" {
			t.Fatalf("origin %s got CORS headers", tc.origin)
		}
	}
}

func sessionReport(sid, owner, group, event string) client.SessionReport {
	return client.SessionReport{SessionID: sid, OwnerAccessKey: owner, Group: group, Event: event}
}

// TestMetricsExposed: /metrics has the Prometheus series SPEC §8 names.
func TestMetricsExposed(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	if _, err := s.Admin().CreateTask(ctx, 0, nil, ""); err != nil {
		t.Fatal(err)
	}
	resp := s.Get(t, ctx, "/metrics", "", nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"herald_sse_connections", "herald_events_appended_total 1",
		"herald_events_delivered_total", "herald_subscribers_ended_slow_total",
		`herald_stream_disconnects_total{reason="slow"}`, `herald_stream_disconnects_total{reason="client_gone"}`, "herald_store_append_seconds_bucket",
		"herald_write_seconds_bucket", "herald_write_held_seconds_bucket", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := s.Get(t, ctx, p, "", nil); r.StatusCode != 200 {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
	}
}

// TestRetentionExpiresFinishedTasks: a task finished longer ago than the
// retention is 404 and its history is purged; a running one is kept.
func TestRetentionExpiresFinishedTasks(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.Retention = 300 * time.Millisecond }))
	ctx := context.Background()
	c := s.Admin()
	done, _ := c.CreateTask(ctx, 0, nil, "")
	running, _ := c.CreateTask(ctx, 0, nil, "")
	if _, err := c.FinishTask(ctx, done, "done", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	for _, tc := range []struct {
		id   string
		want int
	}{{done, 404}, {running, 200}} {
		resp := s.Get(t, ctx, "/v1/tasks/"+tc.id, s.Token, nil)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("task %s: %d, want %d", tc.id, resp.StatusCode, tc.want)
		}
		if tc.want == 404 {
			f := s.Get(t, ctx, feedPath(tc.id), s.Token, nil)
			if f.StatusCode != 404 {
				t.Fatalf("feed of an expired task: %d", f.StatusCode)
			}
			testutil.Problem(t, f)
		}
	}
	// The janitor purged the expired task's history from the store; the
	// running task's history is kept.
	if _, err := s.Store.Last(ctx, store.Subject("task", "default", done)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired task's history still stored: %v", err)
	}
	if _, err := s.Store.Last(ctx, store.Subject("task", "default", running)); err != nil {
		t.Fatalf("running task's history: %v", err)
	}
}

// TestKeepaliveOnTheClock: keepalives follow the API's clock, so a fake
// clock drives them with no sleeping: a stream quiet for less than the
// period gets none (the next thing on it is an event), one quiet for the
// period gets one. Both ways a stream is written are checked.
func TestKeepaliveOnTheClock(t *testing.T) { streamModes(t, testKeepaliveOnTheClock) }

func testKeepaliveOnTheClock(t *testing.T, mode testutil.Option) {
	const period = 15 * time.Second
	fc := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := testutil.Start(t, mode, testutil.WithConfig(func(c *api.Config) {
		c.Keepalive = period
		c.Clock = fc
	}))
	s.CreateGroup(t, "default", "g")
	u := s.CreateKey(t, "user", "default", []string{"g"}, "")
	conn, _, br := rawFeed(t, s, "/events/session?sessionId=*", s.Token)
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // only if the server fails
	// next returns the next event type or comment on the stream.
	next := func() string {
		t.Helper()
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if strings.HasPrefix(line, ":") || strings.HasPrefix(line, "event: ") {
				return strings.TrimSpace(line)
			}
		}
	}
	// The wheel's ticker must be armed before the clock moves, or the
	// Advance fires nothing (a loaded box may start the wheel late).
	fc.WaitArmed(1)
	fc.Advance(period - time.Second)
	if _, err := s.Admin().ReportSession(context.Background(), sessionReport("s1", u.AccessKey, "g", "session_enqueued"), ""); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "event: session_enqueued" {
		t.Fatalf("after %v of quiet: %q, want the event (no keepalive yet)", period-time.Second, got)
	}
	fc.Advance(period)
	if got := next(); got != ":keepalive" {
		t.Fatalf("after %v of quiet: %q, want a keepalive", period, got)
	}
}
