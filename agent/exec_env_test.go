package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hookAttack is a job `env` that would run planted code, the whitelisted
// line it targets and the run-as user it needs.
type hookAttack struct {
	name, line, user string
	env              map[string]string
}

// hookAttacks are job `env` entries that, passed as is, run the job's file
// (or other planted code) before the whitelisted command. Each plants code
// that creates a marker file; setup prepares what the attack needs in dir.
func hookAttacks(t *testing.T, dir, marker string) []hookAttack {
	t.Helper()
	evilBin := filepath.Join(dir, "bin")
	_ = os.Mkdir(evilBin, 0o755)
	_ = os.WriteFile(filepath.Join(evilBin, "bash"), []byte("#!/bin/sh\n/usr/bin/touch "+marker+"\n"), 0o755)
	perlLib := filepath.Join(dir, "perl")
	_ = os.Mkdir(perlLib, 0o755)
	_ = os.WriteFile(filepath.Join(perlLib, "Pwn.pm"), []byte("package Pwn; open(my $f, '>', '"+marker+"'); 1;\n"), 0o644)
	pyLib := filepath.Join(dir, "py")
	_ = os.Mkdir(pyLib, 0o755)
	_ = os.WriteFile(filepath.Join(pyLib, "sitecustomize.py"), []byte("open('"+marker+"', 'w')\n"), 0o644)
	// bash takes PS4 from the environment only when not root: that one
	// runs as nobody where it can.
	asNobody := ""
	if os.Getuid() == 0 {
		asNobody = "nobody"
	}
	attacks := []hookAttack{
		{"BASH_ENV", "bash -c 'echo deployed'", "", map[string]string{"BASH_ENV": "$CHEF_PUSH_JOB_FILE"}},
		{"PATH", "bash -c 'echo deployed'", "", map[string]string{"PATH": evilBin}},
		{"SHELLOPTS+PS4", "bash -c 'echo deployed'", asNobody, map[string]string{"SHELLOPTS": "xtrace", "PS4": "$(touch " + marker + ")"}},
		{"PERL5OPT", "perl -e 'print qq(deployed\\n)'", "", map[string]string{"PERL5OPT": "-MPwn", "PERL5LIB": perlLib}},
		{"PYTHONPATH", "python3 -c 'print(\"deployed\")'", "", map[string]string{"PYTHONPATH": pyLib}},
	}
	if cc, err := exec.LookPath("cc"); err == nil {
		src := filepath.Join(dir, "pwn.c")
		so := filepath.Join(dir, "pwn.so")
		_ = os.WriteFile(src, []byte(`#include <stdio.h>
__attribute__((constructor)) static void pwn(void) { FILE *f = fopen("`+marker+`", "w"); if (f) fclose(f); }
`), 0o644)
		if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, src).CombinedOutput(); err == nil {
			attacks = append(attacks, hookAttack{"LD_PRELOAD", "bash -c 'echo deployed'", "", map[string]string{"LD_PRELOAD": so}})
		} else {
			t.Logf("no LD_PRELOAD case: cc: %v\n%s", err, out)
		}
	}
	return attacks
}

// TestJobEnvHooksDoNotRun: no job `env` entry runs code before the
// whitelisted command; the command still runs and its output is intact.
func TestJobEnvHooksDoNotRun(t *testing.T) {
	dir := worldDir(t)
	marker := filepath.Join(dir, "pwned")
	for _, a := range hookAttacks(t, dir, marker) {
		t.Run(a.name, func(t *testing.T) {
			_, wait, err := start(Job{ID: "j-" + strings.ReplaceAll(a.name, "+", "-"), RunTimeout: 20, Env: a.env, User: a.user,
				File: "raw:touch " + marker + "\n", CaptureOutput: true}, a.line, EnvPolicy{}, "n1")
			if err != nil {
				t.Fatal(err)
			}
			res := wait()
			if _, err := os.Stat(marker); err == nil {
				os.Remove(marker)
				t.Fatalf("the job's env ran planted code (%+v)", res)
			}
			if !res.Succeeded || res.Stdout != "deployed\n" {
				t.Fatalf("the whitelisted command did not run as it should: %+v", res)
			}
		})
	}
	// An exported bash function (not a variable name) is refused outright.
	if _, _, err := start(Job{ID: "f", RunTimeout: 5, Env: map[string]string{"BASH_FUNC_echo%%": "() { touch " + marker + "; }"}},
		"bash -c 'echo deployed'", EnvPolicy{}, "n1"); err == nil {
		t.Fatal("a BASH_FUNC_ entry was accepted")
	}
}

// TestJobSeesNoAgentEnv: the agent's environment (its token included)
// reaches no job, as itself or as another user; the job gets the
// CHEF_PUSH_* variables, its env prefixed, and --allow-env names as is.
func TestJobSeesNoAgentEnv(t *testing.T) {
	t.Setenv("HERALD_TOKEN", "hrld_agent-secret-token")
	t.Setenv("SECRET_X", "s3cret")
	p, err := NewEnvPolicy("", []string{"DEPLOY_TARGET"}, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	users := []string{""}
	if os.Getuid() == 0 {
		users = append(users, "nobody")
	}
	for _, u := range users {
		_, wait, err := start(Job{ID: "e" + u, RunTimeout: 10, User: u, File: "raw:data", CaptureOutput: true,
			Env: map[string]string{"DEPLOY_TARGET": "prod", "FOO": "bar"}}, `env; cat "$CHEF_PUSH_JOB_FILE"`, p, "web-1")
		if err != nil {
			t.Fatal(err)
		}
		res := wait()
		if !res.Succeeded {
			t.Fatalf("user %q: %+v", u, res)
		}
		for _, bad := range []string{"HERALD_TOKEN", "hrld_agent-secret-token", "SECRET_X", "s3cret"} {
			if strings.Contains(res.Stdout, bad) {
				t.Errorf("user %q: the job saw %s:\n%s", u, bad, res.Stdout)
			}
		}
		for _, want := range []string{"CHEF_PUSH_NODE_NAME=web-1\n", "CHEF_PUSH_JOB_ID=e" + u + "\n", "CHEF_PUSH_JOB_FILE=/",
			"CHEF_PUSH_ENV_FOO=bar\n", "DEPLOY_TARGET=prod\n", "PATH=" + DefaultJobPath + "\n", "data"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("user %q: the job lacks %q:\n%s", u, want, res.Stdout)
			}
		}
		if u == "nobody" && (!strings.Contains(res.Stdout, "USER=nobody\n") || !strings.Contains(res.Stdout, "LOGNAME=nobody\n")) {
			t.Errorf("run as nobody: not nobody's USER/LOGNAME:\n%s", res.Stdout)
		}
	}
}

// worldDir is a temporary directory any user may write (a job run as
// nobody plants its marker there).
func worldDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "herald-agent-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}
