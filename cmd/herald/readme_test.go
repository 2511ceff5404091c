package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock returns the first ```sh block after heading in README.md.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, heading)
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	end := strings.Index(s[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatalf("no sh block under %q", heading)
	}
	return s[start+6 : start+6+end]
}

// loopbackAddr matches the loopback addresses a README block listens on
// and calls.
var loopbackAddr = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// freeLoopbackPorts moves every 127.0.0.1:PORT of block to one free port,
// so the block runs whatever else listens on the machine. It returns the
// new block and the ports it replaced.
func freeLoopbackPorts(t *testing.T, block string) (string, []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String()
	ln.Close()
	return loopbackAddr.ReplaceAllString(block, free), loopbackAddr.FindAllString(block, -1)
}

// TestReadmePushJobs runs the README's "Push jobs in 2 minutes" block as a
// newcomer would paste it, from the repository root, on a free port: the
// port the README names is held busy meanwhile, so a block that still
// used it would fail.
func TestReadmePushJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds herald and runs a server and two agents")
	}
	block, named := freeLoopbackPorts(t, readmeBlock(t, "## Push jobs in 2 minutes"))
	for _, a := range named {
		if ln, err := net.Listen("tcp", a); err == nil {
			defer ln.Close()
		}
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = filepath.Join("..", "..")
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("the README block did not finish in 3 minutes:\n%s", out)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything it left behind
	if err != nil {
		t.Fatalf("the README block failed: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"quorum_succeeded", "run_complete node-1 success", "run_complete node-2 success",
		"job_complete complete", "hello from node-2"} {
		if !strings.Contains(s, want) {
			t.Fatalf("README block output lacks %q:\n%s", want, s)
		}
	}
}
