package lifecycle

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	herald "github.com/herald-sse/herald"
)

func TestValidateJobSpec(t *testing.T) {
	nodes := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("n%d", i)
		}
		return out
	}
	big := strings.Repeat("x", MaxJobFileBytes)
	cases := []struct {
		name  string
		spec  JobSpec
		field string // "" = accepted
		rt, q int    // after defaults, when accepted
	}{
		{"defaults", JobSpec{Command: "c", Nodes: nodes(3)}, "", 3600, 3},
		{"given", JobSpec{Command: "c", Nodes: nodes(3), RunTimeout: 5, Quorum: 2}, "", 5, 2},
		{"quorum all", JobSpec{Command: "c", Nodes: nodes(3), Quorum: 3, QuorumSet: true}, "", 3600, 3},
		{"no command", JobSpec{Nodes: nodes(1)}, "command", 0, 0},
		{"blank command", JobSpec{Command: " \t", Nodes: nodes(1)}, "command", 0, 0},
		{"no nodes", JobSpec{Command: "c"}, "nodes", 0, 0},
		{"empty node list", JobSpec{Command: "c", Nodes: []string{}}, "nodes", 0, 0},
		{"empty node name", JobSpec{Command: "c", Nodes: []string{""}}, "nodes", 0, 0},
		{"bad node name", JobSpec{Command: "c", Nodes: []string{"a", "b c"}}, "nodes", 0, 0},
		{"duplicate node", JobSpec{Command: "c", Nodes: []string{"a", "b", "a"}}, "nodes", 0, 0},
		{"too many nodes", JobSpec{Command: "c", Nodes: nodes(MaxJobNodes + 1)}, "nodes", 0, 0},
		{"quorum over nodes", JobSpec{Command: "c", Nodes: nodes(2), Quorum: 3}, "quorum", 0, 0},
		{"quorum zero given", JobSpec{Command: "c", Nodes: nodes(2), QuorumSet: true}, "quorum", 0, 0},
		{"quorum negative", JobSpec{Command: "c", Nodes: nodes(2), Quorum: -1}, "quorum", 0, 0},
		{"run_timeout zero given", JobSpec{Command: "c", Nodes: nodes(1), RunTimeoutSet: true}, "run_timeout", 0, 0},
		{"run_timeout negative", JobSpec{Command: "c", Nodes: nodes(1), RunTimeout: -5}, "run_timeout", 0, 0},
		{"run_timeout huge", JobSpec{Command: "c", Nodes: nodes(1), RunTimeout: MaxRunTimeout + 1}, "run_timeout", 0, 0},
		{"file raw", JobSpec{Command: "c", Nodes: nodes(1), File: "raw:" + big}, "", 3600, 1},
		{"file raw empty", JobSpec{Command: "c", Nodes: nodes(1), File: "raw:"}, "", 3600, 1},
		{"file raw too big", JobSpec{Command: "c", Nodes: nodes(1), File: "raw:" + big + "x"}, "file", 0, 0},
		{"file base64", JobSpec{Command: "c", Nodes: nodes(1), File: "base64:aGVsbG8="}, "", 3600, 1},
		{"file base64 too big", JobSpec{Command: "c", Nodes: nodes(1), File: "base64:" + b64(MaxJobFileBytes+1)}, "file", 0, 0},
		{"file base64 at the limit", JobSpec{Command: "c", Nodes: nodes(1), File: "base64:" + b64(MaxJobFileBytes)}, "", 3600, 1},
		{"file bad base64", JobSpec{Command: "c", Nodes: nodes(1), File: "base64:!!!"}, "file", 0, 0},
		{"file unpadded base64", JobSpec{Command: "c", Nodes: nodes(1), File: "base64:aGVsbG8"}, "file", 0, 0},
		{"file no prefix", JobSpec{Command: "c", Nodes: nodes(1), File: "hello"}, "file", 0, 0},
		{"env empty name", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{"": "v"}}, "env", 0, 0},
		{"env name with =", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{"A=B": "v"}}, "env", 0, 0},
		{"env value with NUL", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{"A": "\x00"}}, "env", 0, 0},
		{"env at the limits", JobSpec{Command: "c", Nodes: nodes(1), Env: env(MaxJobEnvEntries, MaxJobEnvBytes)}, "", 3600, 1},
		{"env too many entries", JobSpec{Command: "c", Nodes: nodes(1), Env: env(MaxJobEnvEntries+1, 0)}, "env", 0, 0},
		{"env too many bytes", JobSpec{Command: "c", Nodes: nodes(1), Env: env(2, MaxJobEnvBytes+1)}, "env", 0, 0},
		{"env name with a dash", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{"A-B": "v"}}, "env", 0, 0},
		{"env name starting with a digit", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{"1A": "v"}}, "env", 0, 0},
		{"env exported function", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{"BASH_FUNC_x%%": "() { id; }"}}, "env", 0, 0},
		{"env name at the limit", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{strings.Repeat("A", MaxJobEnvName): "v"}}, "", 3600, 1},
		{"env name too long", JobSpec{Command: "c", Nodes: nodes(1), Env: map[string]string{strings.Repeat("A", MaxJobEnvName+1): "v"}}, "env", 0, 0},
		{"command too long", JobSpec{Command: strings.Repeat("c", MaxJobCommand+1), Nodes: nodes(1)}, "command", 0, 0},
		{"user too long", JobSpec{Command: "c", Nodes: nodes(1), User: strings.Repeat("u", MaxJobUser+1)}, "user", 0, 0},
		{"dir too long", JobSpec{Command: "c", Nodes: nodes(1), Dir: "/" + strings.Repeat("d", MaxJobDir)}, "dir", 0, 0},
		{"user with NUL", JobSpec{Command: "c", Nodes: nodes(1), User: "a\x00"}, "user", 0, 0},
		{"dir with NUL", JobSpec{Command: "c", Nodes: nodes(1), Dir: "/\x00"}, "dir", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec
			err := ValidateJobSpec(&spec)
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if spec.RunTimeout != c.rt || spec.Quorum != c.q {
					t.Fatalf("run_timeout %d quorum %d, want %d %d", spec.RunTimeout, spec.Quorum, c.rt, c.q)
				}
				if err := ValidateJobSpec(&spec); err != nil {
					t.Fatalf("not idempotent: %v", err)
				}
				return
			}
			var he *herald.Error
			if !errors.As(err, &he) || he.Code != herald.EInvalid || he.Field != c.field {
				t.Fatalf("err %v, want EInvalid on %s", err, c.field)
			}
			if spec.RunTimeout != c.spec.RunTimeout || spec.Quorum != c.spec.Quorum {
				t.Fatal("a refused spec was modified")
			}
		})
	}
	if err := ValidateJobSpec(nil); herald.ErrorCode(err) != herald.EInvalid {
		t.Fatalf("nil: %v", err)
	}
}

// b64 returns the standard base64 of n bytes.
func b64(n int) string {
	// 3 zero bytes encode as "AAAA".
	s := strings.Repeat("AAAA", n/3)
	switch n % 3 {
	case 1:
		s += "AA=="
	case 2:
		s += "AAA="
	}
	return s
}

// env returns n entries whose names and values are total bytes together
// (or short values when total is 0).
func env(n, total int) map[string]string {
	out := make(map[string]string, n)
	used := 0
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("V%03d", i)
		val := "v"
		if total > 0 {
			share := (total - used) / (n - i)
			val = strings.Repeat("x", share-len(name))
		}
		used += len(name) + len(val)
		out[name] = val
	}
	return out
}
