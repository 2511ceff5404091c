package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScript runs test.sh on the fixture package: the log ends with one
// "N passed, N failed" line counting vet, the three tests (the fuzz
// target runs its seeds as a test too) and the fuzz run,
// a failure makes the exit status non-zero, and passing tests' output is
// left out.
func TestScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs test.sh (go vet, go test -race, a fuzz target)")
	}
	for _, tc := range []struct {
		fail    string
		summary string
		ok      bool
	}{
		{"0", "5 passed, 0 failed", true},
		{"1", "4 passed, 1 failed", false},
	} {
		cmd := exec.Command("bash", filepath.Join("..", "..", "test.sh"))
		cmd.Env = append(os.Environ(), "TEST_PKGS=./internal/testsum/testdata/fixture", "FUZZTIME=1s",
			"HERALD_FIXTURE_FAIL="+tc.fail)
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		last := lines[len(lines)-1]
		if last != tc.summary || (err == nil) != tc.ok {
			t.Fatalf("HERALD_FIXTURE_FAIL=%s: last line %q, err %v; want %q\n%s", tc.fail, last, err, tc.summary, out)
		}
		if strings.Contains(string(out), "a passing test's log") || strings.Contains(string(out), "=== RUN   TestPass") {
			t.Fatalf("the log shows a passing test's output:\n%s", out)
		}
		if !tc.ok && !strings.Contains(string(out), "failing as asked") {
			t.Fatalf("the log lacks the failed test's output:\n%s", out)
		}
	}
}
