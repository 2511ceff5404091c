package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// readSlack is how late past --read-timeout a cut may come.
const readSlack = 3 * time.Second

// TestSlowBodiesAreCut: a request whose body never comes, or trickles, is
// cut within --read-timeout (default 10s) of its headers, while an SSE
// stream open all along is not.
func TestSlowBodiesAreCut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary; takes the 10s of the default read timeout")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	keys := makeKeys(t, p.url)
	sc, sbr, resp, err := openRawStream(p.url, "/events/session?sessionId=*", keys.userToken)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open stream: %v %v", resp, err)
	}
	defer sc.Close()

	const head = "POST /v1/login HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
	cases := []struct {
		name  string
		drip  bool // send a byte a second instead of nothing
		limit time.Duration
	}{
		{"body never comes", false, defaultReadTimeout + readSlack},
		{"body trickles", true, defaultReadTimeout + readSlack},
	}
	var wg sync.WaitGroup
	for _, tc := range cases {
		wg.Go(func() {
			c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			start := time.Now()
			if _, err := io.WriteString(c, head); err != nil {
				t.Error(err)
				return
			}
			stop := make(chan struct{})
			defer close(stop)
			if tc.drip {
				go func() {
					tick := time.NewTicker(time.Second)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							if _, err := c.Write([]byte(" ")); err != nil {
								return
							}
						}
					}
				}()
			}
			_ = c.SetReadDeadline(start.Add(3 * defaultReadTimeout))
			_, err = io.Copy(io.Discard, c) // until the server closes it
			held := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("%s: still open after %v", tc.name, held.Round(time.Millisecond))
				return
			}
			if held > tc.limit {
				t.Errorf("%s: cut after %v, want within %v", tc.name, held.Round(time.Millisecond), tc.limit)
			}
			t.Logf("%s: cut after %v", tc.name, held.Round(time.Millisecond))
		})
	}
	wg.Wait()

	// The stream, older than the read timeout, still delivers.
	rc := dialRaw(t, p.url)
	if r, body, err := rc.do("POST", "/v1/sessions/events", keys.serviceToken, keys.sessionEvent("after-cut")); err != nil || r.StatusCode != 201 {
		t.Fatalf("write: %v %v %s", r, err, body)
	}
	if !streamSees(sc, sbr, "after-cut", 5*time.Second) {
		t.Fatal("the stream open since before the cuts did not deliver the write")
	}
}

// streamSees reads the stream until it carries want (true) or until
// within passes.
func streamSees(c net.Conn, br *bufio.Reader, want string, within time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(within))
	defer c.SetReadDeadline(time.Time{})
	var seen []byte
	buf := make([]byte, 4096)
	for {
		n, err := br.Read(buf)
		seen = append(seen, buf[:n]...)
		if bytes.Contains(seen, []byte(want)) {
			return true
		}
		if err != nil {
			return false
		}
	}
}
