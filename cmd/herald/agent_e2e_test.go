package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agentProc is a running `herald agent`.
type agentProc struct {
	cmd  *exec.Cmd
	log  string // its stdout and stderr
	done chan struct{}
	err  error // how it ended, once done is closed
}

func startAgent(t *testing.T, p *proc, token, node, whitelist string) *agentProc {
	t.Helper()
	return startAgentWith(t, nil, "--server", p.url, "--token", token, "--org", "acme",
		"--node", node, "--whitelist", whitelist, "--log-level", "debug")
}

// startAgentWith runs `herald agent args…` with env added to a clean
// environment (PATH and HOME only: no stray HERALD_ variable).
func startAgentWith(t *testing.T, env []string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(heraldBinary(t), append([]string{"agent"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { a.err = cmd.Wait(); logf.Close(); close(a.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-a.done })
	return a
}

func (a *agentProc) kill() { _ = a.cmd.Process.Signal(syscall.SIGKILL); <-a.done }

// logs returns what the agent printed so far.
func (a *agentProc) logs() string {
	b, _ := os.ReadFile(a.log)
	return string(b)
}

// exited reports whether the agent has ended.
func (a *agentProc) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// waitNodes waits until every node is online (and available).
func waitNodes(t *testing.T, p *proc, nodes ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var states []struct {
			Node         string `json:"node_name"`
			Status       string `json:"status"`
			Availability string `json:"availability"`
		}
		_, _ = call(context.Background(), "GET", p.url+"/organizations/acme/pushy/node_states", testToken, nil, &states)
		ready := 0
		for _, s := range states {
			for _, n := range nodes {
				if s.Node == n && s.Status == "online" && s.Availability == "available" {
					ready++
				}
			}
		}
		if ready == len(nodes) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes %v not online and available: %+v", nodes, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heraldCmd runs the herald CLI with the superadmin token; it returns
// stdout and the exit status.
func heraldCmd(t *testing.T, p *proc, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(heraldBinary(t), append(args, "--server", p.url, "--token", testToken)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	t.Logf("herald %s → %d\n%s%s", strings.Join(args, " "), code, out, stderr.String())
	return string(out), code
}

// TestAgentsRunJobs: a server, three real agents and `herald job start`.
func TestAgentsRunJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald and three agents")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken,
		"--heartbeat-interval", "300ms", "--voting-timeout", "5s")
	ctx := context.Background()
	if code, err := call(ctx, "POST", p.url+"/v1/admin/domains", testToken, map[string]string{"name": "acme"}, nil); err != nil || code != 201 {
		t.Fatalf("domain: %d %v", code, err)
	}
	wl := filepath.Join(t.TempDir(), "whitelist.json")
	_ = os.WriteFile(wl, []byte(`{"hello": "echo hello from $CHEF_PUSH_NODE_NAME", "nap": "sleep 3; echo rested"}`), 0o600)
	nodes := []string{"web-1", "web-2", "web-3"}
	tokens := map[string]string{}
	agents := map[string]*agentProc{}
	for _, n := range nodes {
		var k struct {
			Token string `json:"token"`
		}
		if code, err := call(ctx, "POST", p.url+"/v1/admin/keys", testToken, map[string]string{"role": "node", "domain": "acme", "node": n}, &k); err != nil || code != 201 {
			t.Fatalf("node key: %d %v", code, err)
		}
		tokens[n] = k.Token
		agents[n] = startAgent(t, p, k.Token, n, wl)
	}
	waitNodes(t, p, nodes...)

	// A whitelisted command on every node: complete, output captured, exit 0.
	out, code := heraldCmd(t, p, append([]string{"job", "start", "--org", "acme", "--capture", "hello"}, nodes...)...)
	if code != 0 || !strings.Contains(out, "job_complete complete") || strings.Count(out, "run_complete") != 3 {
		t.Fatalf("hello job: exit %d\n%s", code, out)
	}
	list, _ := heraldCmd(t, p, "job", "list", "--org", "acme")
	var jobs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(list), &jobs); err != nil || len(jobs) != 1 {
		t.Fatalf("job list: %v %s", err, list)
	}
	if o, code := heraldCmd(t, p, "job", "output", "--org", "acme", jobs[0].ID, "web-2"); code != 0 || o != "hello from web-2\n" {
		t.Fatalf("captured output %q (exit %d)", o, code)
	}

	// A command no whitelist has: failure votes, quorum_failed, exit 1.
	out, code = heraldCmd(t, p, "job", "start", "--org", "acme", "rm-everything", "web-1", "web-2")
	if code != 1 || !strings.Contains(out, "quorum_vote web-1 failure") || !strings.Contains(out, "job_complete quorum_failed") {
		t.Fatalf("non-whitelisted job: exit %d\n%s", code, out)
	}
	waitNodes(t, p, nodes...)

	// An agent killed mid-run: client_died_while_running; one that restarts
	// at once: crashed. The job still completes.
	type result struct {
		out  string
		code int
	}
	res := make(chan result, 1)
	go func() {
		o, c := heraldCmd(t, p, append([]string{"job", "start", "--org", "acme", "--quorum", "2", "nap"}, nodes...)...)
		res <- result{o, c}
	}()
	time.Sleep(1500 * time.Millisecond) // the nodes are running `sleep 3`
	agents["web-3"].kill()
	agents["web-2"].kill()
	agents["web-2"] = startAgent(t, p, tokens["web-2"], "web-2", wl) // a new incarnation
	r := <-res
	if r.code != 1 || !strings.Contains(r.out, "run_complete web-3 client_died_while_running") ||
		!strings.Contains(r.out, "run_complete web-2 crashed") || !strings.Contains(r.out, "run_complete web-1 success") ||
		!strings.Contains(r.out, "job_complete complete") {
		t.Fatalf("job with dying agents: exit %d\n%s", r.code, r.out)
	}
}
