package main

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/client"
)

// TestAgentRunTimeoutIsTimedOut (issue 15 §3): a command outliving the
// job's run_timeout under herald's own agent ends the job as timed_out,
// the node timed_out — the server's timer decides; the agent stops the
// command when the server sends abort (it used to kill it at the same
// instant and report failed first). Three runs, as the report.
func TestAgentRunTimeoutIsTimedOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald and an agent")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken,
		"--heartbeat-interval", "300ms", "--voting-timeout", "5s")
	token := nodeKey(t, p.url, "web-1")
	wl := writeFile(t, "whitelist.json", `{"nap": "sleep 30"}`, 0o600)
	a := startAgent(t, p, token, "web-1", wl)
	for i := range 3 {
		waitNodes(t, p, "web-1")
		j := runJob(t, p.url, client.JobSpec{Command: "nap", Nodes: []string{"web-1"}, RunTimeout: 1})
		if j.Status != "timed_out" || len(j.Nodes["timed_out"]) != 1 {
			t.Fatalf("run %d: want timed_out, got %+v\n%s", i+1, j, a.logs())
		}
	}
}

// serverTakesReason reports whether the server accepts the optional
// "reason" of a node message (a server that does not answers 400 naming
// the field, before looking at the job).
func serverTakesReason(t *testing.T, url, nodeToken, node string) bool {
	t.Helper()
	var ce *client.Error
	cl := &client.Client{Server: url, Token: nodeToken, HTTP: &http.Client{Timeout: 10 * time.Second}, Retries: -1}
	_, err := cl.SendNodeMessage(context.Background(), "acme", node,
		client.NodeMessage{Type: "nack_commit", JobID: strings.Repeat("0", 32), Reason: "probe"}, "")
	return !(errors.As(err, &ce) && ce.Status == http.StatusBadRequest && ce.Field == "reason")
}

// TestAgentRefusesAtCommit (issue 15 §3): a job the agent could not run —
// an unknown run-as user, a missing dir, a file it cannot write, a command
// not in its whitelist — is refused at commit time (nack_commit), so the
// node does not count toward the quorum: quorum_failed, not a run that
// fails later. A command that runs and fails carries its exit status. With
// a server that takes a reason (api, issue 15), `herald job start` prints
// each reason.
func TestAgentRefusesAtCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald and two agents")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken,
		"--heartbeat-interval", "300ms", "--voting-timeout", "5s")
	wl := writeFile(t, "whitelist.json", `{"ok": "true", "bad": "exit 2"}`, 0o600)
	t1, t2 := nodeKey(t, p.url, "web-1"), nodeKey(t, p.url, "web-2")
	startAgent(t, p, t1, "web-1", wl)
	// web-2 cannot write files: its temporary directory does not exist.
	startAgentWith(t, []string{"TMPDIR=" + filepath.Join(t.TempDir(), "gone")}, "--server", p.url, "--token", t2,
		"--org", "acme", "--node", "web-2", "--whitelist", wl)
	waitNodes(t, p, "web-1", "web-2")
	reasons := serverTakesReason(t, p.url, t1, "web-1")
	if !reasons {
		t.Log("this server refuses a node message's reason: the agent sends its messages without; reasons not checked")
	}
	missing := filepath.Join(t.TempDir(), "missing")
	jobFile := writeFile(t, "job-file", "data", 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want []string // lines of `herald job start`
		why  []string // reasons, when the server keeps them
	}{
		{"unknown user", []string{"--user", "no-such-user-h15", "ok", "web-1", "web-2"},
			[]string{"quorum_vote web-1 failure", "quorum_vote web-2 failure", "job_complete quorum_failed"},
			[]string{"web-1 failure: user no-such-user-h15 does not exist"}},
		{"missing dir", []string{"--dir", missing, "--quorum", "1", "ok", "web-1"},
			[]string{"quorum_vote web-1 failure", "job_complete quorum_failed"},
			[]string{"web-1 failure: dir " + missing + " does not exist"}},
		{"file not writable", []string{"--file", jobFile, "--quorum", "2", "ok", "web-1", "web-2"},
			[]string{"quorum_vote web-1 success", "quorum_vote web-2 failure", "job_complete quorum_failed"},
			[]string{"web-2 failure: cannot write the job file"}},
		{"not whitelisted", []string{"rm-everything", "web-1"},
			[]string{"quorum_vote web-1 failure", "job_complete quorum_failed"},
			[]string{"web-1 failure: command not in whitelist"}},
		{"exit status", []string{"bad", "web-1"},
			[]string{"run_complete web-1 failure", "job_complete complete"},
			[]string{"run_complete web-1 failure: exit status 2"}},
	} {
		waitNodes(t, p, "web-1", "web-2")
		out, code := heraldCmd(t, p, append([]string{"job", "start", "--org", "acme"}, tc.args...)...)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", tc.name, code)
		}
		want := tc.want
		if reasons {
			want = append(want, tc.why...)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
	}
}
