package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startServeLimited is startServe with the server's open-files limit set
// to nofile (soft and hard) by prlimit(1), or sh's ulimit without it.
func startServeLimited(t *testing.T, nofile int, args ...string) *proc {
	t.Helper()
	bin := heraldBinary(t)
	serve := append([]string{bin, "serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	var cmd *exec.Cmd
	if pl, err := exec.LookPath("prlimit"); err == nil {
		cmd = exec.Command(pl, append([]string{fmt.Sprintf("--nofile=%d:%d", nofile, nofile), "--"}, serve...)...)
	} else {
		cmd = exec.Command("sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, nofile), "sh"}, serve...)...)
	}
	cmd.Env = append(os.Environ(), "HERALD_TOKEN=")
	return runServeCmd(t, cmd)
}

// runServeCmd starts cmd (a herald serve) and waits for its address and
// /readyz, as launchServe does.
func runServeCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	return startProc(t, cmd).waitReady(t)
}

// rawConn is one keep-alive HTTP/1.1 connection driven by hand, so a test
// knows exactly which connection each request uses.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, base string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, br: bufio.NewReader(c)}
}

// do sends one request and reads its whole answer (not for streams).
func (rc *rawConn) do(method, path, token string, body any) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://herald"+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	_ = rc.c.SetDeadline(time.Now().Add(15 * time.Second))
	defer rc.c.SetDeadline(time.Time{})
	if err := req.Write(rc.c); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(rc.br, req)
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, data, err
}

// metric reads one sample of /metrics over rc (0 when absent, and false).
func (rc *rawConn) metric(t testing.TB, name string) (float64, bool) {
	t.Helper()
	resp, data, err := rc.do("GET", "/metrics", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %v %v", resp, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f, true
		}
	}
	return 0, false
}

// benchKeys makes a group, a user key in it and a service key, as herald
// bench does: the service key reports the user's sessions.
type benchKeys struct {
	group, owner, userToken, serviceToken string
}

func makeKeys(t testing.TB, base string) benchKeys {
	t.Helper()
	ctx := context.Background()
	k := benchKeys{group: "limits"}
	if st, err := call(ctx, "POST", base+"/v1/admin/domains/default/groups", testToken, map[string]string{"name": k.group}, nil); err != nil || st != 201 {
		t.Fatalf("create group: %d %v", st, err)
	}
	var user, service struct {
		AccessKey string `json:"accessKey"`
		Token     string `json:"token"`
	}
	if st, err := call(ctx, "POST", base+"/v1/admin/keys", testToken,
		map[string]any{"role": "user", "domain": "default", "groups": []string{k.group}}, &user); err != nil || st != 201 {
		t.Fatalf("create user key: %d %v", st, err)
	}
	if st, err := call(ctx, "POST", base+"/v1/admin/keys", testToken,
		map[string]any{"role": "service", "domain": "default"}, &service); err != nil || st != 201 {
		t.Fatalf("create service key: %d %v", st, err)
	}
	k.owner, k.userToken, k.serviceToken = user.AccessKey, user.Token, service.Token
	return k
}

// sessionEvent is a session_enqueued report of session sid of k's user.
func (k benchKeys) sessionEvent(sid string) map[string]any {
	return map[string]any{"sessionId": sid, "ownerAccessKey": k.owner, "group": k.group, "event": "session_enqueued"}
}

// openRawStream opens GET path as an SSE stream on a new connection and
// returns it after the response head; status is the answer's.
func openRawStream(base, path, token string) (c net.Conn, br *bufio.Reader, resp *http.Response, err error) {
	c, err = net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		return nil, nil, nil, err
	}
	req, _ := http.NewRequest("GET", "http://herald"+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if err = req.Write(c); err == nil {
		br = bufio.NewReader(c)
		resp, err = http.ReadResponse(br, req)
	}
	_ = c.SetDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	return c, br, resp, nil
}

// problemOf decodes a problem+json body.
func problemOf(t testing.TB, resp *http.Response, data []byte) (typ, detail string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(data, &p); err != nil || p.Status != resp.StatusCode {
		t.Errorf("problem body %q: %v", data, err)
	}
	return p.Type, p.Detail
}
