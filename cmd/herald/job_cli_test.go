package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// heraldRun runs the herald CLI against p with the superadmin token and
// returns stdout, stderr and the exit status.
func heraldRun(t *testing.T, p *proc, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(heraldBinary(t), append(args, "--server", p.url, "--token", testToken)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	t.Logf("herald %s → %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), code
}

// TestJobStartHelpDocumentsExitStatus: `herald job start --help` says
// what a --quorum below all nodes means for the exit status.
func TestJobStartHelpDocumentsExitStatus(t *testing.T) {
	root := newRoot()
	start, _, err := root.Find([]string{"job", "start"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Exit status:", "--quorum 50%", "still exits 1", "3  the job's feed could not be followed"} {
		if !strings.Contains(start.Long, want) {
			t.Errorf("job start --help lacks %q:\n%s", want, start.Long)
		}
	}
}

// TestJobCLIForNewcomers (issue 15 §4): a job naming a node no key has
// is warned about before it starts, and with --quorum 50% it runs on the
// other node yet exits 1 (as --help says); `herald job output` of a job
// started without --capture says so in a sentence, not a problem body.
func TestJobCLIForNewcomers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald and an agent")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken,
		"--heartbeat-interval", "300ms", "--voting-timeout", "5s")
	wl := writeFile(t, "whitelist.json", `{"ok": "echo fine"}`, 0o600)
	startAgent(t, p, nodeKey(t, p.url, "web-1"), "web-1", wl)
	waitNodes(t, p, "web-1")

	out, errOut, code := heraldRun(t, p, "job", "start", "--org", "acme", "--quorum", "50%", "ok", "web-1", "ghost-9")
	if code != 1 || !strings.Contains(out, "run_complete web-1 success") || !strings.Contains(out, "job_complete complete") {
		t.Fatalf("quorum 50%% job: exit %d\n%s", code, out)
	}
	if !strings.Contains(errOut, `herald: warning: organization "acme" has no node "ghost-9"`) || strings.Contains(errOut, `"web-1"`) {
		t.Fatalf("no warning (only) about the unknown node:\n%s", errOut)
	}

	list, _, _ := heraldRun(t, p, "job", "list", "--org", "acme", "--limit", "1")
	var jobs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(list), &jobs); err != nil || len(jobs) != 1 {
		t.Fatalf("job list: %v %s", err, list)
	}
	out, errOut, code = heraldRun(t, p, "job", "output", "--org", "acme", jobs[0].ID, "web-1")
	want := "herald: job " + jobs[0].ID + " was started without --capture, so no output was kept; start it again with `herald job start --capture …`\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("output of an uncaptured job: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	// Captured, but no such node: the server's sentence, not its JSON.
	_, _, _ = heraldRun(t, p, "job", "start", "--org", "acme", "--capture", "ok", "web-1")
	list, _, _ = heraldRun(t, p, "job", "list", "--org", "acme", "--limit", "1")
	_ = json.Unmarshal([]byte(list), &jobs)
	_, errOut, code = heraldRun(t, p, "job", "output", "--org", "acme", jobs[0].ID, "web-7")
	if code != 1 || strings.Contains(errOut, "{") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "web-7") {
		t.Fatalf("output of an unknown node: exit %d, stderr %q", code, errOut)
	}
}
