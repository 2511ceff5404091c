package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCanRun: what would stop a job is found at commit time, with a short
// reason naming it.
func TestCanRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		job    Job
		tmpdir string
		want   string // "" = runnable
	}{
		{"plain", Job{ID: "j"}, "", ""},
		{"existing dir and file", Job{ID: "j", Dir: dir, File: "raw:x"}, "", ""},
		{"unknown user", Job{ID: "j", User: "no-such-user-h15"}, "", "user no-such-user-h15 does not exist"},
		{"missing dir", Job{ID: "j", Dir: filepath.Join(dir, "nope")}, "", "dir " + filepath.Join(dir, "nope") + " does not exist"},
		{"dir is a file", Job{ID: "j", Dir: file}, "", "dir " + file + " is not a directory"},
		{"bad file", Job{ID: "j", File: "zip:x"}, "", "want a raw: or base64: prefix"},
		{"bad base64", Job{ID: "j", File: "base64:!!"}, "", "job file: illegal base64"},
		{"file cannot be written", Job{ID: "j", File: "raw:x"}, filepath.Join(dir, "no-tmp"), "cannot write the job file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tmpdir != "" {
				t.Setenv("TMPDIR", tc.tmpdir)
			}
			err := canRun(tc.job)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if os.Getuid() != 0 {
		if err := canRun(Job{ID: "j", User: "root"}); err == nil || !strings.Contains(err.Error(), "cannot run as user root") {
			t.Fatalf("a non-root agent taking root: %v", err)
		}
	}
}

func TestShortReason(t *testing.T) {
	long := strings.Repeat("é", maxReason)
	got := shortReason(long)
	if len(got) > maxReason+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Fatalf("%q", got)
	}
	if shortReason("exit status 2") != "exit status 2" {
		t.Fatal("a short reason changed")
	}
}
