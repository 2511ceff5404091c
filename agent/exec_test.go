package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunCapturesOutputEnvDirFile(t *testing.T) {
	dir := t.TempDir()
	job := Job{ID: "j1", RunTimeout: 10, Dir: dir, Env: map[string]string{"GREETING": "hi"},
		File: "raw:file body", CaptureOutput: true}
	_, wait, err := start(job, `echo "$CHEF_PUSH_ENV_GREETING from $(pwd)"; cat "$CHEF_PUSH_JOB_FILE"; echo oops >&2`, EnvPolicy{}, "n1")
	if err != nil {
		t.Fatal(err)
	}
	res := wait()
	real, _ := filepath.EvalSymlinks(dir)
	if !res.Succeeded || res.Stdout != "hi from "+real+"\nfile body" || res.Stderr != "oops\n" {
		t.Fatalf("%+v", res)
	}
}

func TestRunFailsTimesOutAndAborts(t *testing.T) {
	_, wait, _ := start(Job{ID: "f", RunTimeout: 10}, "exit 3", EnvPolicy{}, "n1")
	if res := wait(); res.Succeeded || res.Reason != "exit status 3" {
		t.Fatalf("exit 3: %+v", res)
	}
	// The run timeout, plus the grace the server has to send abort, kills
	// the whole process group, children included — not before.
	marker := filepath.Join(t.TempDir(), "child-alive")
	startAt := time.Now()
	const grace = 1500 * time.Millisecond
	_, wait, _ = startRun(Job{ID: "t", RunTimeout: 1, CaptureOutput: true}, "(sleep 4; touch "+marker+") & sleep 30", EnvPolicy{}, "n1", grace)
	res := wait()
	took := time.Since(startAt)
	if res.Succeeded || !res.TimedOut || took < time.Second+grace || took > 8*time.Second ||
		!strings.Contains(res.Stderr, "run timeout") || res.Reason != "killed 1.5s after the run timeout of 1s" {
		t.Fatalf("timeout: %+v after %v", res, took)
	}
	time.Sleep(time.Until(startAt.Add(5 * time.Second)))
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a child of the timed-out command survived")
	}
	r, wait, _ := start(Job{ID: "a", RunTimeout: 60}, "sleep 30", EnvPolicy{}, "n1")
	time.AfterFunc(100*time.Millisecond, func() { r.kill(true) })
	if res := wait(); !res.Aborted || res.Succeeded {
		t.Fatalf("abort: %+v", res)
	}
}

func TestRunAsOtherUserNeedsRoot(t *testing.T) {
	if os.Getuid() == 0 {
		_, wait, err := start(Job{ID: "u", RunTimeout: 5, User: "nobody", CaptureOutput: true}, "id -un", EnvPolicy{}, "n1")
		if err != nil {
			t.Fatal(err)
		}
		if res := wait(); !res.Succeeded || strings.TrimSpace(res.Stdout) != "nobody" {
			t.Fatalf("%+v", res)
		}
		return
	}
	if _, _, err := start(Job{ID: "u", RunTimeout: 5, User: "root"}, "true", EnvPolicy{}, "n1"); err == nil {
		t.Fatal("a non-root agent ran a command as root")
	}
}
