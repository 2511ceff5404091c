package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/testutil"
)

// streamModes runs a stream test both ways a stream is written: handed to
// the hub's writers (HTTP/1.1, the default) and on its handler goroutine
// (TLS and HTTP/2 streams; Config.HandlerWrites).
func streamModes(t *testing.T, test func(t *testing.T, mode testutil.Option)) {
	t.Run("served", func(t *testing.T) {
		test(t, testutil.WithConfig(func(c *api.Config) { c.HandlerWrites = false }))
	})
	t.Run("handler", func(t *testing.T) {
		test(t, testutil.WithConfig(func(c *api.Config) { c.HandlerWrites = true }))
	})
}

// rawFeed opens an SSE feed on a bare TCP connection (no client goroutine)
// and reads the response head; it returns the connection, the head and a
// reader positioned at the body.
func rawFeed(t *testing.T, s *testutil.Server, path, token string) (net.Conn, *http.Response, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer %s\r\nOrigin: https://console.example\r\n\r\n", path, token)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return conn, resp, br
}

// TestServedStreamsHoldNoGoroutine: an idle HTTP/1.1 stream is handed to
// the hub's writers and holds no goroutine; on its handler (the other
// mode) each holds one — which shows the count measures what it says.
func TestServedStreamsHoldNoGoroutine(t *testing.T) {
	const streams = 200
	for _, handler := range []bool{false, true} {
		s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.HandlerWrites = handler }))
		settle := func() int {
			time.Sleep(200 * time.Millisecond)
			return runtime.NumGoroutine()
		}
		before := settle()
		conns := make([]net.Conn, streams)
		for i := range conns {
			conns[i], _, _ = rawFeed(t, s, "/events/session?sessionId=*", s.Token)
		}
		grown := settle() - before
		t.Logf("handler=%v: %d goroutines more for %d streams", handler, grown, streams)
		if !handler && grown > streams/10 {
			t.Fatalf("served streams: %d goroutines more for %d streams", grown, streams)
		}
		if handler && grown < streams {
			t.Fatalf("handler streams: only %d goroutines more for %d streams", grown, streams)
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestServedStreamHead: a served stream's response head carries what
// net/http's would (type, no-cache, CORS) and says the body ends with the
// connection; events and keepalives follow on it.
func TestServedStreamHead(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) {
		c.CORSOrigins = []string{"https://console.example"}
		c.Keepalive = 100 * time.Millisecond
	}))
	s.CreateGroup(t, "default", "g")
	u := s.CreateKey(t, "user", "default", []string{"g"}, "")
	conn, resp, br := rawFeed(t, s, "/events/session?sessionId=*", s.Token)
	defer conn.Close()
	for k, want := range map[string]string{
		"Content-Type":                     "text/event-stream; charset=utf-8",
		"Cache-Control":                    "no-cache",
		"Access-Control-Allow-Origin":      "https://console.example",
		"Access-Control-Allow-Credentials": "true",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if resp.ContentLength != -1 || len(resp.TransferEncoding) != 0 || !resp.Close {
		t.Fatalf("length %d, encoding %v, close %v: want a body ending with the connection", resp.ContentLength, resp.TransferEncoding, resp.Close)
	}
	if _, err := s.Admin().ReportSession(context.Background(), sessionReport("s1", u.AccessKey, "g", "session_enqueued"), ""); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var lines []string
	for len(lines) < 8 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimSpace(line))
		if line == ":keepalive\n" && strings.Contains(strings.Join(lines, "\n"), "event: session_enqueued") {
			return
		}
	}
	t.Fatalf("no event then keepalive in %q", lines)
}

// TestServedStreamNoticesGoneClient: a served stream whose client closed
// the connection is ended within about a keepalive period, though no
// goroutine reads it.
func TestServedStreamNoticesGoneClient(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.Keepalive = 200 * time.Millisecond }))
	stats := s.API.Hub().Stats()
	base := stats.Subscribers.Load()
	conn, _, br := rawFeed(t, s, "/events/session?sessionId=*", s.Token)
	if n := stats.Subscribers.Load(); n != base+1 {
		t.Fatalf("%d subscribers, want %d", n, base+1)
	}
	go func() { _, _ = io.Copy(io.Discard, br) }()
	conn.Close()
	deadline := time.Now().Add(3 * time.Second)
	for stats.Subscribers.Load() != base {
		if time.Now().After(deadline) {
			t.Fatal("the stream of a gone client is still open after 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDepartedClientsUnregistered: with keepalives off (--keepalive 0),
// 20 clients that close their connections are all unregistered within a
// second, on both paths; they are counted as client_gone.
func TestDepartedClientsUnregistered(t *testing.T) { streamModes(t, testDepartedClientsUnregistered) }

func testDepartedClientsUnregistered(t *testing.T, mode testutil.Option) {
	s := testutil.Start(t, mode, testutil.WithConfig(func(c *api.Config) { c.Keepalive = 0 }))
	stats := s.API.Hub().Stats()
	base := stats.Subscribers.Load()
	const clients = 20
	conns := make([]net.Conn, clients)
	for i := range conns {
		conns[i], _, _ = rawFeed(t, s, "/events/session?sessionId=*", s.Token)
	}
	if n := stats.Subscribers.Load(); n != base+clients {
		t.Fatalf("%d subscribers, want %d", n, base+clients)
	}
	closed := time.Now()
	for _, c := range conns {
		c.Close()
	}
	for stats.Subscribers.Load() != base {
		if time.Since(closed) > time.Second {
			t.Fatalf("%d of %d departed clients still registered after 1s", stats.Subscribers.Load()-base, clients)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("all %d unregistered within %v", clients, time.Since(closed).Round(time.Millisecond))
	if n := stats.EndedBy(hub.EndClientGone); n != clients {
		t.Fatalf("%d ended as client_gone, want %d", n, clients)
	}
}
