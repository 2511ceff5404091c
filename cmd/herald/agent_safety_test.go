package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/agent"
	"github.com/herald-sse/herald/client"
)

// nodeKey creates the domain acme (if needed) and a node key for node.
func nodeKey(t *testing.T, url, node string) string {
	t.Helper()
	ctx := context.Background()
	if code, err := call(ctx, "POST", url+"/v1/admin/domains", testToken, map[string]string{"name": "acme"}, nil); err != nil || (code != 201 && code != 409) {
		t.Fatalf("domain: %d %v", code, err)
	}
	var k struct {
		Token string `json:"token"`
	}
	if code, err := call(ctx, "POST", url+"/v1/admin/keys", testToken, map[string]string{"role": "node", "domain": "acme", "node": node}, &k); err != nil || code != 201 {
		t.Fatalf("node key: %d %v", code, err)
	}
	return k.Token
}

// runJob starts a job on acme and waits for it to end; it returns the
// job's summary.
func runJob(t *testing.T, url string, spec client.JobSpec) client.JobSummary {
	t.Helper()
	ctx := context.Background()
	cl := &client.Client{Server: url, Token: testToken, HTTP: &http.Client{Timeout: 10 * time.Second}}
	id, err := cl.StartJob(ctx, "acme", spec, "")
	if err != nil {
		t.Fatalf("start %+v: %v", spec, err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		j, err := cl.GetJob(ctx, "acme", id)
		if err == nil && j.Status != "new" && j.Status != "voting" && j.Status != "running" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not end: %+v %v", id, j, err)
		}
	}
}

// jobOutput returns a node's captured stdout of a job.
func jobOutput(t *testing.T, url, id, node string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/organizations/acme/pushy/jobs/"+id+"/output/"+node+"/stdout", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("output of %s on %s: %d %s", id, node, resp.StatusCode, b)
	}
	return string(b)
}

func writeFile(t *testing.T, name, data string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAgentJobEnvIsSafe (issue 12, done-when 2): through a real server and
// a real agent whose token is in its environment, as the README starts
// it, a job sees neither that token nor any other variable of the agent's,
// gets CHEF_PUSH_NODE_NAME, CHEF_PUSH_JOB_ID, CHEF_PUSH_JOB_FILE and its
// env as CHEF_PUSH_ENV_<NAME> (or as is with --allow-env), and cannot get
// a loader or shell hook through its env: the BASH_ENV attack
// leaves no marker, an exported bash function is nacked.
func TestAgentJobEnvIsSafe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald and an agent")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken,
		"--heartbeat-interval", "300ms", "--voting-timeout", "5s")
	token := nodeKey(t, p.url, "web-1")
	wl := writeFile(t, "whitelist.json", `{"env": "env; cat \"$CHEF_PUSH_JOB_FILE\"", "deploy": "bash -c 'echo deployed'"}`, 0o600)
	startAgentWith(t, []string{"HERALD_TOKEN=" + token, "SECRET_X=s3cret-agent-value"},
		"--server", p.url, "--org", "acme", "--node", "web-1", "--whitelist", wl, "--allow-env", "DEPLOY_TARGET")
	waitNodes(t, p, "web-1")

	users := []string{""}
	if os.Getuid() == 0 {
		users = append(users, "nobody") // run-as: the agent's env must not follow either
	}
	for _, u := range users {
		j := runJob(t, p.url, client.JobSpec{Command: "env", Nodes: []string{"web-1"}, User: u, CaptureOutput: true,
			File: "raw:the job's file", Env: map[string]string{"DEPLOY_TARGET": "prod", "FOO": "bar"}})
		if j.Status != "complete" || len(j.Nodes["succeeded"]) != 1 {
			t.Fatalf("env job as %q: %+v", u, j)
		}
		out := jobOutput(t, p.url, j.ID, "web-1")
		for _, bad := range []string{token, "HERALD_TOKEN", "SECRET_X", "s3cret-agent-value"} {
			if strings.Contains(out, bad) {
				t.Errorf("run as %q: the job saw %q:\n%s", u, bad, out)
			}
		}
		for _, want := range []string{"CHEF_PUSH_NODE_NAME=web-1\n", "CHEF_PUSH_JOB_ID=" + j.ID + "\n", "CHEF_PUSH_JOB_FILE=/",
			"CHEF_PUSH_ENV_FOO=bar\n", "DEPLOY_TARGET=prod\n", "PATH=" + agent.DefaultJobPath + "\n", "the job's file"} {
			if !strings.Contains(out, want) {
				t.Errorf("run as %q: the job lacks %q:\n%s", u, want, out)
			}
		}
	}

	marker := filepath.Join(t.TempDir(), "pwned")
	// The attack: BASH_ENV pointing at the job's own file.
	j := runJob(t, p.url, client.JobSpec{Command: "deploy", Nodes: []string{"web-1"}, CaptureOutput: true,
		Env: map[string]string{"BASH_ENV": "$CHEF_PUSH_JOB_FILE"}, File: "raw:touch " + marker + "\n"})
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("BASH_ENV ran the job's file before the whitelisted command")
	}
	if j.Status != "complete" || len(j.Nodes["succeeded"]) != 1 || jobOutput(t, p.url, j.ID, "web-1") != "deployed\n" {
		t.Fatalf("BASH_ENV job: %+v", j)
	}
	// An exported bash function (not a variable name): the server refuses
	// it with 400 naming env (a NUL too); the agent's own nack of such a
	// commit, for a server that let one through, is checked in package agent
	// (TestCheckJobEnv).
	for _, env := range []map[string]string{{"BASH_FUNC_echo%%": "() { touch " + marker + "; }"}, {"x.y": "1"}} {
		cl := &client.Client{Server: p.url, Token: testToken, HTTP: &http.Client{Timeout: 10 * time.Second}}
		_, err := cl.StartJob(context.Background(), "acme", client.JobSpec{Command: "deploy", Nodes: []string{"web-1"}, Env: env}, "")
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "env") {
			t.Fatalf("env %q: want 400 naming env, got %v", env, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("env %q ran planted code", env)
		}
	}
}

// TestAgentAllowEnvRefusesHooks: --allow-env naming a loader or shell hook
// is refused at start, with a message naming it.
func TestAgentAllowEnvRefusesHooks(t *testing.T) {
	wl := writeFile(t, "whitelist.json", `{"x": "true"}`, 0o600)
	for _, name := range []string{"LD_PRELOAD", "BASH_ENV", "PATH", "NODE_OPTIONS", "FOO,BASH_FUNC_x"} {
		a := startAgentWith(t, nil, "--server", "http://127.0.0.1:1", "--token", "x", "--org", "acme", "--node", "n",
			"--whitelist", wl, "--allow-env", name)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("--allow-env %s: the agent did not refuse to start", name)
		}
		last := name[strings.LastIndexByte(name, ',')+1:]
		if a.err == nil || !strings.Contains(a.logs(), "--allow-env "+last) || !strings.Contains(a.logs(), "never passed") {
			t.Fatalf("--allow-env %s: %v\n%s", name, a.err, a.logs())
		}
	}
}

// TestTokenFile: --token-file and HERALD_TOKEN_FILE give a command its
// token from a file (whitespace trimmed); --token with --token-file is an
// error; a file open to others works with a warning; an empty one fails.
func TestTokenFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	bin := heraldBinary(t)
	run := func(env []string, args ...string) (string, string, error) {
		cmd := exec.Command(bin, append(args, "--server", p.url)...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	good := writeFile(t, "token", "\n  "+testToken+"  \n", 0o600)
	loose := writeFile(t, "token", testToken+"\n", 0o644)
	empty := writeFile(t, "token", " \n", 0o600)
	for _, tc := range []struct {
		name      string
		env, args []string
		ok        bool
		stderr    string
	}{
		{"flag", nil, []string{"--token-file", good}, true, ""},
		{"env", []string{"HERALD_TOKEN_FILE=" + good}, nil, true, ""},
		{"loose mode", nil, []string{"--token-file", loose}, true, "open to group or others (mode 0644)"},
		{"both", []string{"HERALD_TOKEN=" + testToken}, []string{"--token-file", good}, false, "not both"},
		{"empty", nil, []string{"--token-file", empty}, false, "empty"},
		{"missing", nil, []string{"--token-file", good + ".nope"}, false, "no such file"},
		{"wrong token", nil, []string{"--token-file", writeFile(t, "token", "hrld_wrong\n", 0o600)}, false, "401"},
	} {
		out, errOut, err := run(tc.env, append([]string{"admin", "domains", "list"}, tc.args...)...)
		if (err == nil) != tc.ok || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("%s: err %v, stdout %q, stderr %q", tc.name, err, out, errOut)
		}
		if tc.ok && !strings.Contains(out, "default") {
			t.Errorf("%s: no domain list: %q", tc.name, out)
		}
	}
}

// TestAgentSurvivesServerRestart (issue 13): a real `herald serve` is
// killed while an agent runs; for 3 s a server that does not know the
// node yet answers on its port (401 on heartbeats and the command feed,
// as a restarting server may); then herald starts again on its data
// directory and port. The agent never exits; the report of a job that
// ended meanwhile reaches the restarted server (it is retried, not dropped
// at the first 401); the node is available again and runs a job.
func TestAgentSurvivesServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald three times and an agent")
	}
	data, port := t.TempDir(), freePort(t)
	serve := func(dir string) *proc {
		return startServe(t, "--listen", "127.0.0.1:"+port, "--data", dir, "--bootstrap-token", testToken,
			"--heartbeat-interval", "300ms", "--voting-timeout", "5s")
	}
	p := serve(data)
	tokenFile := writeFile(t, "node.token", nodeKey(t, p.url, "web-1")+"\n", 0o600)
	wl := writeFile(t, "whitelist.json", `{"hello": "echo hello from $CHEF_PUSH_NODE_NAME", "nap": "sleep 2; echo rested"}`, 0o600)
	a := startAgentWith(t, nil, "--server", p.url, "--token-file", tokenFile, "--org", "acme", "--node", "web-1",
		"--whitelist", wl, "--log-level", "debug")
	waitNodes(t, p, "web-1")
	ctx := context.Background()
	admin := &client.Client{Server: p.url, Token: testToken, HTTP: &http.Client{Timeout: 10 * time.Second}}
	napID, err := admin.StartJob(ctx, "acme", client.JobSpec{Command: "nap", Nodes: []string{"web-1"}, CaptureOutput: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if j, err := admin.GetJob(ctx, "acme", napID); err == nil && j.Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the nap job did not start")
		}
	}

	// The server goes; the nap ends while no server knows the node
	// (connection refused for 1 s, then 401 from the stranger).
	p.kill()
	time.Sleep(time.Second)
	stranger := serve(t.TempDir())
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(a.logs(), "refuses the command feed") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(deadline))
	stranger.kill()
	if a.exited() {
		t.Fatalf("the agent exited while the server restarted: %v\n%s", a.err, a.logs())
	}
	p = serve(data)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		j, err := admin.GetJob(ctx, "acme", napID)
		if err == nil && j.Status == "complete" && len(j.Nodes["succeeded"]) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nap job's report was lost: %+v %v\n%s", j, err, a.logs())
		}
	}
	if out := jobOutput(t, p.url, napID, "web-1"); out != "rested\n" {
		t.Fatalf("nap output %q", out)
	}
	waitNodes(t, p, "web-1")
	j := runJob(t, p.url, client.JobSpec{Command: "hello", Nodes: []string{"web-1"}, CaptureOutput: true})
	if j.Status != "complete" || jobOutput(t, p.url, j.ID, "web-1") != "hello from web-1\n" {
		t.Fatalf("job after the restart: %+v", j)
	}
	if a.exited() {
		t.Fatalf("the agent exited: %v\n%s", a.err, a.logs())
	}
	for _, want := range []string{"heartbeat failed; retrying", "refuses the command feed", "heartbeat accepted again"} {
		if !strings.Contains(a.logs(), want) {
			t.Errorf("the agent's log lacks %q:\n%s", want, a.logs())
		}
	}
}

// TestAgentGivesUpOnPersistentRefusal: a server that refuses the node
// (a wrong key) for longer than --give-up-after ends the agent with exit
// status 1 and a message saying what to check — not at the first 401.
func TestAgentGivesUpOnPersistentRefusal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald and an agent")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken, "--heartbeat-interval", "300ms")
	nodeKey(t, p.url, "web-1")
	wl := writeFile(t, "whitelist.json", `{"x": "true"}`, 0o600)
	started := time.Now()
	a := startAgentWith(t, []string{"HERALD_TOKEN=hrld_not-a-key"}, "--server", p.url, "--org", "acme", "--node", "web-1",
		"--whitelist", wl, "--give-up-after", "2s")
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not give up:\n%s", a.logs())
	}
	took := time.Since(started)
	if a.err == nil || a.cmd.ProcessState.ExitCode() != 1 || took < 2*time.Second ||
		!strings.Contains(a.logs(), "refused this node for") || !strings.Contains(a.logs(), "401") {
		t.Fatalf("after %v: %v\n%s", took, a.err, a.logs())
	}
}
