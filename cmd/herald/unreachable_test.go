package main

import (
	"bufio"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
)

func TestServerURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://herald.example/", "https://herald.example"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"localhost:8080", "http://localhost:8080"},
		{" herald.example ", "http://herald.example"},
		{"ftp://x", ""},
		{"", ""},
		{"http://", ""},
	} {
		got, err := serverURL(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("serverURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "HERALD_SERVER") {
			t.Errorf("serverURL(%q): the error does not name HERALD_SERVER: %v", tc.in, err)
		}
	}
}

// TestUnreachableMessage: a refused connection is told in one line that
// names the server and --server / HERALD_SERVER; a server's own answer is
// not "unreachable".
func TestUnreachableMessage(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	c := &client.Client{Server: "http://" + addr, Retries: -1}
	err := c.Do(context.Background(), "GET", "/v1/admin/domains", nil, nil, "")
	msg, ok := unreachable(err)
	want := "cannot reach the herald server at http://" + addr + " (connection refused): is it running? Point --server or HERALD_SERVER at it"
	if !ok || msg != want {
		t.Fatalf("%v → %q, %v; want %q", err, msg, ok, want)
	}
	if _, ok := unreachable(&client.Error{Status: 401, Title: "Unauthorized"}); ok {
		t.Fatal("a 401 counted as unreachable")
	}
}

// TestCLIUnreachableServer (issue 15 §4): a command whose server is not
// there prints one line naming it and HERALD_SERVER (and takes a URL
// without a scheme); `herald watch` that never connects gives up after
// --give-up-after with exit status 3.
func TestCLIUnreachableServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald")
	}
	bin := heraldBinary(t)
	addr := "127.0.0.1:" + freePort(t)
	run := func(args ...string) (string, int, time.Duration) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HERALD_SERVER=" + addr, "HERALD_TOKEN=hrld_x"}
		started := time.Now()
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code, time.Since(started)
	}
	want := "herald: cannot reach the herald server at http://" + addr + " (connection refused): is it running? Point --server or HERALD_SERVER at it\n"
	if out, code, _ := run("admin", "domains", "list"); code != 1 || out != want {
		t.Fatalf("admin domains list: exit %d\n%s\nwant\n%s", code, out, want)
	}
	out, code, took := run("watch", "org", "acme", "--give-up-after", "1s")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 3 || took > 10*time.Second || lines[len(lines)-1] != "herald: gave up after 1s: "+strings.TrimSuffix(strings.TrimPrefix(want, "herald: "), "\n") {
		t.Fatalf("watch: exit %d after %v\n%s", code, took, out)
	}
}

// TestWatchResumesAfterConnecting: --give-up-after bounds only the first
// connection: a watch that connected follows the server through a restart
// longer than it.
func TestWatchResumesAfterConnecting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald twice and herald watch")
	}
	data, port := t.TempDir(), freePort(t)
	serve := func() *proc {
		return startServe(t, "--listen", "127.0.0.1:"+port, "--data", data, "--bootstrap-token", testToken, "--voting-timeout", "2s")
	}
	p := serve()
	cmd := exec.Command(heraldBinary(t), "watch", "org", "default", "--give-up-after", "1s", "--server", p.url, "--token", testToken)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	job := func(node string) {
		t.Helper()
		cl := &client.Client{Server: p.url, Token: testToken, HTTP: &http.Client{Timeout: 10 * time.Second}}
		var ids []string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			// The watch may not be connected yet: start jobs until one of
			// this phase shows.
			id, err := cl.StartJob(context.Background(), "default", client.JobSpec{Command: "x", Nodes: []string{node}}, "")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			timeout := time.After(500 * time.Millisecond)
		read:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatal("herald watch ended")
					}
					for _, id := range ids {
						if strings.Contains(l, " start ") && strings.Contains(l, id) {
							return
						}
					}
				case <-timeout:
					break read
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("the watch printed no start")
			}
		}
	}
	job("before")
	p.kill()
	time.Sleep(2500 * time.Millisecond) // longer than --give-up-after
	p = serve()
	job("after")
}
