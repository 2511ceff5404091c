package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// benchResult is the part of `herald bench … --json` the test reads.
type benchResult struct {
	Scenario   string `json:"scenario"`
	Peer       string `json:"peer"`
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	Metrics    []struct {
		Name  string  `json:"name"`
		Value float64 `json:"value"`
	} `json:"metrics"`
}

func (r benchResult) get(name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// runBench runs the built binary's bench subcommand, which starts its own
// `herald serve` (this same binary) on a free loopback port.
func runBench(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(heraldBinary(t), append([]string{"bench"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("herald bench %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("herald bench %s: still running after 2 minutes", strings.Join(args, " "))
	}
	return out.String(), errb.String()
}

func TestBenchCommandJSON(t *testing.T) {
	for _, c := range []struct {
		args    []string
		metrics []string
	}{
		{[]string{"fanout", "--subscribers", "3", "--events", "10"}, []string{"deliveries/s", "latency p99", "server CPU/delivery"}},
		{[]string{"idle", "--conns", "10", "--keepalive", "1s", "--hold", "1500ms", "--settle", "100ms"}, []string{"keepalives", "connections"}},
		{[]string{"ingest", "--writers", "2", "--duration", "300ms"}, []string{"writes/s", "latency p99"}},
		{[]string{"resume", "--clients", "2", "--backlog", "200", "--writers", "2"}, []string{"catch-up p50", "events/s all clients"}},
	} {
		t.Run(c.args[0], func(t *testing.T) {
			out, _ := runBench(t, append(c.args, "--json", "--quiet", "--sources", "2")...)
			var r benchResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("--json output: %v\n%s", err, out)
			}
			if r.Scenario != c.args[0] || r.Peer != "herald" || r.Lost != 0 || r.Duplicated != 0 {
				t.Fatalf("%+v", r)
			}
			for _, m := range c.metrics {
				v, ok := r.get(m)
				// /proc counts CPU in 10ms ticks: a run this small may
				// cost the server less than one, so a CPU figure may be 0.
				if !ok || v < 0 || (v == 0 && !strings.Contains(m, "CPU")) {
					t.Errorf("%s: %v %v", m, v, ok)
				}
			}
			if c.args[0] == "fanout" {
				if v, _ := r.get("deliveries"); v != 30 {
					t.Errorf("deliveries %v, want 30", v)
				}
			}
		})
	}
}

func TestBenchCommandTableAndProgress(t *testing.T) {
	out, errOut := runBench(t, "fanout", "--subscribers", "2", "--events", "5", "--sources", "2")
	for _, want := range []string{"deliveries/s", "latency p50 (ms)", "lost", "fanout · herald"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Not a terminal: progress is plain lines on stderr.
	if !strings.Contains(errOut, "herald bench: connecting subscribers") {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
}

func TestBenchHelp(t *testing.T) {
	for _, sub := range []string{"fanout", "idle", "ingest", "resume", "compare"} {
		out, err := exec.Command(heraldBinary(t), "bench", sub, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --help: %v\n%s", sub, err, out)
		}
		if !strings.Contains(string(out), "Examples:") || !strings.Contains(string(out), "herald bench "+sub) {
			t.Errorf("bench %s --help has no examples:\n%s", sub, out)
		}
	}
}
