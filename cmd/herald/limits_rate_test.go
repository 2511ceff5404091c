package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
)

// check429 checks a refusal: 429, Retry-After in whole seconds, a problem
// body.
func check429(t *testing.T, what string, resp *http.Response, data []byte) {
	t.Helper()
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After %q, want whole seconds", what, resp.Header.Get("Retry-After"))
	}
	if typ, _ := problemOf(t, resp, data); typ != "urn:herald:problem:too-many-requests" {
		t.Errorf("%s: problem type %q", what, typ)
	}
}

// TestStreamsPerKeyCapped: one user key opens the default cap of streams;
// the next gets 429 with Retry-After before any 200. A stream that ends
// gives its place back (noticed at the next keepalive at the latest).
func TestStreamsPerKeyCapped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken, "--keepalive", "1s")
	keys := makeKeys(t, p.url)
	const path = "/events/session?sessionId=*"
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range api.DefaultMaxStreamsPerKey {
		c, _, resp, err := openRawStream(p.url, path, keys.userToken)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream %d: %v %v", i, resp, err)
		}
		conns = append(conns, c)
	}
	c, _, resp, err := openRawStream(p.url, path, keys.userToken)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 {
		c.Close()
		t.Fatalf("stream %d of one key: %d, want 429", api.DefaultMaxStreamsPerKey+1, resp.StatusCode)
	}
	data, _ := io.ReadAll(resp.Body)
	c.Close()
	check429(t, "stream over the cap", resp, data)

	// Another key is not affected.
	c2, _, resp, err := openRawStream(p.url, path, testToken)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("superadmin stream: %v %v", resp, err)
	}
	c2.Close()

	// One stream ends: its place comes back.
	conns[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, resp, err := openRawStream(p.url, path, keys.userToken)
		if err == nil {
			c.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("a stream's place did not come back 5s after it closed: %v %v", resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLoginFlood: logins from one address past the default rate (10/s,
// burst 20) get 429 with Retry-After.
func TestLoginFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	rc := dialRaw(t, p.url)
	const n = 3 * 2 * api.DefaultRateLogins
	ok, limited := 0, 0
	for range n {
		resp, data, err := rc.do("POST", "/v1/login", testToken, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch resp.StatusCode {
		case 204:
			ok++
		case 429:
			if limited == 0 {
				check429(t, "login", resp, data)
			}
			limited++
		default:
			t.Fatalf("login: %d %s", resp.StatusCode, data)
		}
	}
	if limited == 0 || ok < 2*api.DefaultRateLogins {
		t.Fatalf("%d logins in a row: %d accepted, %d refused; want the burst of %d accepted and the rest refused",
			n, ok, limited, 2*api.DefaultRateLogins)
	}
	t.Logf("%d logins: %d accepted, %d refused", n, ok, limited)
}

// TestAuthFailureFlood: failed authentications from one address past
// --rate-auth-failures get 429, and then so does a good token from that
// address until the bucket refills; other addresses are not affected.
// The rate is 1/s (burst 2), so the bucket refills in a second, not the
// default's 50 ms: a pause of the test on a busy machine must not refill
// it before the good token is sent.
func TestAuthFailureFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	const rate = 1
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken, "--rate-auth-failures", strconv.Itoa(rate))
	rc := dialRaw(t, p.url)
	const n = 3 * 2 * rate
	unauthorized, limited := 0, 0
	for i := range n {
		resp, data, err := rc.do("GET", "/v1/sessions", "hrld_guess-"+strconv.Itoa(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		switch resp.StatusCode {
		case 401:
			unauthorized++
		case 429:
			if limited == 0 {
				check429(t, "failed auth", resp, data)
			}
			limited++
		default:
			t.Fatalf("bad token: %d %s", resp.StatusCode, data)
		}
	}
	if limited == 0 {
		t.Fatalf("%d bad tokens in a row: all answered 401", n)
	}
	if resp, _, err := rc.do("GET", "/v1/sessions", testToken, nil); err != nil || resp.StatusCode != 429 {
		t.Errorf("a good token from the blocked address: %v %v, want 429", resp, err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	other := &rawConn{c: c, br: bufio.NewReader(c)}
	defer c.Close()
	if resp, _, err := other.do("GET", "/v1/sessions", testToken, nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("a good token from another address: %v %v, want 200", resp, err)
	}
	t.Logf("%d bad tokens: %d answered 401, %d refused", n, unauthorized, limited)
}

// TestWriteFlood: writes of one key past --rate-writes get 429 with
// Retry-After, and none of the refused writes is stored.
func TestWriteFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	const rate = 20 // burst 40
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken, "--rate-writes", strconv.Itoa(rate))
	keys := makeKeys(t, p.url)
	const writers, each = 8, 25
	status := make([][]int, writers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		rc := dialRaw(t, p.url)
		wg.Go(func() {
			for i := range each {
				resp, data, err := rc.do("POST", "/v1/sessions/events", keys.serviceToken, keys.sessionEvent(fmt.Sprintf("w%d-%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				if resp.StatusCode == 429 {
					check429(t, "write", resp, data)
				} else if resp.StatusCode != 201 {
					t.Errorf("write: %d %s", resp.StatusCode, data)
				}
				status[w] = append(status[w], resp.StatusCode)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	accepted, refused := 0, 0
	rc := dialRaw(t, p.url)
	for w := range writers {
		for i, st := range status[w] {
			resp, _, err := rc.do("GET", "/v1/sessions/"+keys.owner+"/"+fmt.Sprintf("w%d-%d", w, i), testToken, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case st == 201 && resp.StatusCode != 200:
				t.Errorf("accepted write w%d-%d: the session reads %d", w, i, resp.StatusCode)
			case st == 429 && resp.StatusCode != 404:
				t.Errorf("refused write w%d-%d: the session reads %d, want 404 (not stored)", w, i, resp.StatusCode)
			}
			if st == 201 {
				accepted++
			} else {
				refused++
			}
		}
	}
	if most := 2*rate + int(elapsed.Seconds()*rate) + 1; refused == 0 || accepted > most {
		t.Fatalf("%d writes in %v: %d accepted (at most %d allowed), %d refused", writers*each, elapsed, accepted, most, refused)
	}
	t.Logf("%d writes in %v: %d accepted, %d refused", writers*each, elapsed.Round(time.Millisecond), accepted, refused)
}

// TestUnauthenticatedConnsPerIP: one address holds at most
// --max-conns-per-ip connections that made no authenticated request; a
// connection that authenticates no longer counts, and other addresses
// are not affected.
func TestUnauthenticatedConnsPerIP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	const perIP = 4
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken, "--max-conns-per-ip", strconv.Itoa(perIP))
	host := strings.TrimPrefix(p.url, "http://")
	from := func(last byte) *rawConn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, last)}}
		c, err := d.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &rawConn{c: c, br: bufio.NewReader(c)}
	}
	// refused reports whether rc was refused: it reads a 503 or a close
	// at once instead of waiting.
	refused := func(rc *rawConn) bool {
		_ = rc.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		defer rc.c.SetReadDeadline(time.Time{})
		b := make([]byte, 12)
		n, err := io.ReadFull(rc.br, b)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		return n == 0 || string(b[:n]) == "HTTP/1.1 503"
	}
	var idle []*rawConn
	for range perIP {
		idle = append(idle, from(2))
	}
	for i, rc := range idle {
		if refused(rc) {
			t.Fatalf("idle connection %d of %d refused", i+1, perIP)
		}
	}
	if !refused(from(2)) {
		t.Fatalf("connection %d of one address without authentication was not refused", perIP+1)
	}
	if refused(from(3)) {
		t.Fatal("another address was refused")
	}
	// One of the idle connections authenticates: a place frees up.
	if resp, _, err := idle[0].do("GET", "/v1/sessions", testToken, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("authenticated request: %v %v", resp, err)
	}
	if refused(from(2)) {
		t.Fatal("a connection was refused although one of the address's connections authenticated")
	}
	if !refused(from(2)) {
		t.Fatalf("connection %d of one address without authentication was not refused", perIP+1)
	}
}
