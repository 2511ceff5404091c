package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needProgram finds an outside program: a clearly logged skip normally, a
// failure under CI=true (where .ci/run must have installed it).
func needProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", name, err)
		}
		t.Skipf("SKIP: %s not installed (%v)", name, err)
	}
	return p
}

// driveTask creates a task and reports 10 steps of progress, then ends it
// with how (done, fail, cancel), in the background.
func driveTask(t *testing.T, url string, how string, delay time.Duration) string {
	t.Helper()
	ctx := context.Background()
	var out struct {
		ID string `json:"task_id"`
	}
	if code, err := call(ctx, "POST", url+"/v1/tasks", testToken, map[string]any{"total_progress": 10, "message": "warming"}, &out); err != nil || code != 201 {
		t.Fatalf("create: %d %v", code, err)
	}
	go func() {
		time.Sleep(delay)
		for v := 1; v <= 10; v++ {
			_, _ = call(ctx, "POST", url+"/v1/tasks/"+out.ID+"/progress", testToken, map[string]any{"current_progress": v}, nil)
			time.Sleep(30 * time.Millisecond)
		}
		_, _ = call(ctx, "POST", url+"/v1/tasks/"+out.ID+"/"+how, testToken, map[string]any{"message": "end"}, nil)
	}()
	return out.ID
}

func watchArgs(p *proc, args ...string) []string {
	return append(args, "--server", p.url, "--token", testToken)
}

// TestWatchTask: a progress bar in a terminal, plain lines when piped, one
// JSON object per line with --json, and exit statuses that follow the
// task's outcome.
func TestWatchTask(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	script := needProgram(t, "script")
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	bin := heraldBinary(t)

	t.Run("terminal", func(t *testing.T) {
		id := driveTask(t, p.url, "done", 300*time.Millisecond)
		// A pty made by script from a process without a terminal has no
		// size: give it one, as a terminal window would.
		cmdline := "stty cols 100 rows 30; " + strings.Join(append([]string{bin}, watchArgs(p, "watch", "task", id)...), " ")
		cmd := exec.Command(script, "-qefc", cmdline, "/dev/null")
		cmd.Env = append(os.Environ(), "TERM=xterm", "COLUMNS=100", "LINES=30")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("watch under a pty: %v\n%s", err, out)
		}
		s := string(out)
		// mpb draws a bar like "[====>---]" with counters and a percentage,
		// redrawn in place with carriage returns / cursor moves.
		if !strings.Contains(s, "10/10") || !strings.Contains(s, "100 %") || !strings.Contains(s, "task_done") ||
			!strings.ContainsAny(s, "\r\x1b") || !strings.Contains(s, "[") {
			t.Fatalf("no progress bar in the terminal output:\n%q", s)
		}
	})
	t.Run("piped", func(t *testing.T) {
		id := driveTask(t, p.url, "done", 300*time.Millisecond)
		out, err := exec.Command(bin, watchArgs(p, "watch", "task", id)...).Output()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 12 || !strings.Contains(lines[0], "task_updated 0/10 warming") ||
			!strings.Contains(lines[11], "task_done 10/10 end") || strings.ContainsAny(string(out), "\r\x1b") {
			t.Fatalf("plain lines expected, got:\n%s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		id := driveTask(t, p.url, "done", 0)
		out, err := exec.Command(bin, watchArgs(p, "watch", "task", id, "--json")...).Output()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		var names []string
		for sc.Scan() {
			var e struct {
				Event string          `json:"event"`
				ID    string          `json:"id"`
				Data  json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Event == "" || len(e.Data) == 0 {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			names = append(names, e.Event)
		}
		if len(names) < 3 || names[len(names)-2] != "task_done" || names[len(names)-1] != "server_close" {
			t.Fatalf("events %v", names)
		}
	})
	for _, tc := range []struct {
		how  string
		code int
	}{{"fail", 1}, {"cancel", 2}} {
		t.Run("exit status "+tc.how, func(t *testing.T) {
			id := driveTask(t, p.url, tc.how, 0)
			err := exec.Command(bin, watchArgs(p, "watch", "task", id)...).Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != tc.code {
				t.Fatalf("want exit status %d, got %v", tc.code, err)
			}
		})
	}
	t.Run("unknown task", func(t *testing.T) {
		cmd := exec.Command(bin, watchArgs(p, "watch", "task", "00000000-0000-0000-0000-000000000000")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), "404") {
			t.Fatalf("want exit 3 with the 404, got %v: %s", err, stderr.String())
		}
	})
}
