package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// floodLimit is the open-files limit the flooded server runs under.
const floodLimit = 1024

// TestFDFloodKeepsStoreAndStreams floods a server that runs with 1,024
// descriptors with more connections than that, from eight source
// addresses (so the per-address cap is not what stops them): half send a
// login's headers and never its body, half send nothing. Past
// --max-connections (by default 1,024 less the store's reserve of 256)
// they are refused and counted; throughout, a connection opened before
// answers /healthz and /readyz (ready: the store does append) and writes, an open stream keeps delivering, and the
// store never runs out of descriptors. After the flood a new connection
// writes again (201).
func TestFDFloodKeepsStoreAndStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	p := startServeLimited(t, floodLimit, "--data", t.TempDir(), "--bootstrap-token", testToken, "--keepalive", "1s")
	keys := makeKeys(t, p.url)
	ctl := dialRaw(t, p.url)
	sc, sbr, resp, err := openRawStream(p.url, "/events/session?sessionId=*", keys.userToken)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open stream: %v %v", resp, err)
	}
	defer sc.Close()

	write := func(sid string) {
		t.Helper()
		r, body, err := ctl.do("POST", "/v1/sessions/events", keys.serviceToken, keys.sessionEvent(sid))
		if err != nil || r.StatusCode != 201 {
			t.Fatalf("write %s during the flood: %v %v %s\nlogs:\n%s", sid, r, err, body, tail(p.Logs(), 20))
		}
	}
	health := func() {
		t.Helper()
		for _, path := range []string{"/healthz", "/readyz"} {
			r, _, err := ctl.do("GET", path, "", nil)
			if err != nil || r.StatusCode != 200 {
				t.Fatalf("%s during the flood: %v %v", path, r, err)
			}
		}
	}

	const attempts = floodLimit + 200
	host := strings.TrimPrefix(p.url, "http://")
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	dialFailed := 0
	for i := range attempts {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%8))}}
		c, err := d.Dial("tcp", host)
		if err != nil {
			dialFailed++
			continue
		}
		flood = append(flood, c)
		if i%2 == 0 {
			_, _ = io.WriteString(c, "POST /v1/login HTTP/1.1\r\nHost: herald\r\nContent-Length: 100000\r\n\r\n")
		}
		if i%100 == 99 {
			health()
			write(fmt.Sprintf("flood-%d", i))
		}
	}
	time.Sleep(500 * time.Millisecond) // the server accepts the last ones
	health()
	write("after-flood")
	if !streamSees(sc, sbr, "after-flood", 5*time.Second) {
		t.Error("the stream opened before the flood did not deliver a write made after it")
	}
	refused, ok := ctl.metric(t, `herald_connections_refused_total{reason="max_connections"}`)
	if !ok || refused == 0 {
		t.Errorf("no connection counted as refused by --max-connections (metric present: %v) after %d attempts, %d dials failed",
			ok, attempts, dialFailed)
	}
	open, _ := ctl.metric(t, "herald_connections_open")
	if open > floodLimit-256 {
		t.Errorf("%v connections open, over the cap of %d", open, floodLimit-256)
	}
	t.Logf("%d attempts: %d dials failed, %v refused by the cap, %v open", attempts, dialFailed, refused, open)

	// A refused connection was told so, or closed at once.
	c := flood[len(flood)-1]
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	head := make([]byte, 12)
	if n, err := io.ReadFull(c, head); err == nil && string(head[:n]) != "HTTP/1.1 503" {
		t.Errorf("the last flood connection read %q, want a 503 or a close", head[:n])
	}

	for _, c := range flood {
		c.Close()
	}
	flood = nil
	// New connections are admitted again: a write on one answers 201.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := call(t.Context(), "POST", p.url+"/v1/sessions/events", keys.serviceToken, keys.sessionEvent("new-conn"), nil)
		if err == nil && st == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a write on a new connection after the flood: %d %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if logs := p.Logs(); strings.Contains(logs, "too many open files") {
		t.Errorf("the server ran out of descriptors:\n%s", tail(logs, 30))
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestAcceptOutOfFDsIsLogged: with --max-connections set above what the
// open-files limit allows, accept itself fails; herald says so at warn
// level, at most once a second, and counts it.
func TestAcceptOutOfFDsIsLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	const limit = 256
	p := startServeLimited(t, limit, "--data", t.TempDir(), "--bootstrap-token", testToken, "--max-connections", "100000")
	if !strings.Contains(p.Logs(), "leaves the store less than its reserve") {
		t.Error("no warning that --max-connections eats the store's reserve")
	}
	ctl := dialRaw(t, p.url)
	host := strings.TrimPrefix(p.url, "http://")
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	start := time.Now()
	for i := range limit + 100 {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%8))}}
		if c, err := d.Dial("tcp", host); err == nil {
			flood = append(flood, c)
		}
	}
	time.Sleep(2 * time.Second) // the server keeps retrying its accepts
	elapsed := time.Since(start)
	n := strings.Count(p.Logs(), "out of file descriptors")
	if n == 0 || float64(n) > elapsed.Seconds()+1 {
		t.Errorf("%d warnings about descriptors in %v, want 1 to one a second", n, elapsed.Round(time.Millisecond))
	}
	t.Logf("%d warnings about descriptors in %v", n, elapsed.Round(time.Millisecond))
	if v, ok := ctl.metric(t, `herald_connections_refused_total{reason="out_of_fds"}`); !ok || v == 0 {
		t.Errorf("failed accepts not counted: %v %v", v, ok)
	}
}
