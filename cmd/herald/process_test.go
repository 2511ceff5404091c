package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// heraldBinary builds the herald command once per test run.
func heraldBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "herald-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "herald")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// insecureClient trusts the tests' self-signed certificates (and speaks
// HTTP/2 to them).
var insecureClient = &http.Client{Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	ForceAttemptHTTP2: true,
}}

// proc is a herald serve process.
type proc struct {
	cmd    *exec.Cmd
	url    string
	logs   *strings.Builder
	stdout strings.Builder
	mu     sync.Mutex
	done   chan struct{}
}

// startServe runs `herald serve` with args, waits for its first log line
// (which names the address) and for /readyz.
func startServe(t testing.TB, args ...string) *proc {
	t.Helper()
	return startServeIn(t, "", args...)
}

// startServeIn is startServe with the process's working directory set.
func startServeIn(t testing.TB, dir string, args ...string) *proc {
	t.Helper()
	return launchServe(t, dir, os.Environ(), args...)
}

// startServeEnv is startServe with the server's environment given.
func startServeEnv(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	return launchServe(t, "", env, args...)
}

func launchServe(t testing.TB, dir string, env []string, args ...string) *proc {
	t.Helper()
	bin := heraldBinary(t)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(env, "HERALD_TOKEN=") // no stray environment
	return startProc(t, cmd).waitReady(t)
}

// startProc starts cmd (a herald serve logging JSON), collects its log
// and returns once its first line ("herald starting") named the address.
func startProc(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &strings.Builder{}, done: make(chan struct{})}
	cmd.Stdout = &p.stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for n := 0; sc.Scan(); n++ {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if n == 0 {
				first <- sc.Text()
			}
		}
		close(first)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	select {
	case line := <-first:
		var l struct {
			Msg string `json:"msg"`
			URL string `json:"url"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Msg != "herald starting" || l.URL == "" {
			t.Fatalf("first log line %q does not name the address", line)
		}
		p.url = l.URL
	case <-time.After(30 * time.Second):
		t.Fatal("herald serve printed nothing in 30s")
	}
	return p
}

// waitReady polls p's /readyz until it answers 200 (30 s at most).
func (p *proc) waitReady(t testing.TB) *proc {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := insecureClient.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in 30s; logs:\n%s", p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Logs returns what the process logged so far.
func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// call does an authenticated JSON request.
func call(ctx context.Context, method, url, token string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}
