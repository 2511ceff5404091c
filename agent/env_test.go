package agent

import (
	"slices"
	"strings"
	"testing"
)

func TestCheckAllowEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"FOO", true}, {"DEPLOY_TARGET", true}, {"LANG", true}, {"TZ", true}, {"TMPDIR", true}, {"_x1", true},
		{"LD_PRELOAD", false}, {"LD_LIBRARY_PATH", false}, {"ld_preload", false}, {"DYLD_INSERT_LIBRARIES", false},
		{"BASH_ENV", false}, {"ENV", false}, {"BASH_FUNC_x", false}, {"BASH_FUNC_x%%", false},
		{"SHELLOPTS", false}, {"BASHOPTS", false}, {"PS4", false}, {"PROMPT_COMMAND", false}, {"IFS", false},
		{"CDPATH", false}, {"GLOBIGNORE", false}, {"PATH", false}, {"HOME", false}, {"USER", false},
		{"PYTHONSTARTUP", false}, {"PYTHONPATH", false}, {"PYTHONHOME", false},
		{"PERL5OPT", false}, {"PERL5LIB", false}, {"PERLLIB", false}, {"RUBYOPT", false}, {"RUBYLIB", false},
		{"NODE_OPTIONS", false}, {"JAVA_TOOL_OPTIONS", false}, {"_JAVA_OPTIONS", false}, {"GCONV_PATH", false},
		{"HOSTALIASES", false}, {"MALLOC_CHECK_", false}, {"GLIBC_TUNABLES", false}, {"GIT_SSH_COMMAND", false},
		{"MYTOOL_OPTS", false}, {"SOMEOPT", false}, {"OPENSSL_CONF", false},
		{"CHEF_PUSH_JOB_ID", false}, {"CHEF_PUSH_NODE_NAME", false}, {"HERALD_TOKEN", false},
		{"", false}, {"1X", false}, {"A-B", false}, {"A=B", false}, {"A B", false},
	} {
		err := CheckAllowEnv([]string{tc.name})
		if (err == nil) != tc.ok {
			t.Errorf("CheckAllowEnv(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestCheckJobEnv(t *testing.T) {
	for _, tc := range []struct {
		env map[string]string
		ok  bool
	}{
		{map[string]string{"FOO": "bar", "LD_PRELOAD": "/x.so", "BASH_ENV": "$X"}, true}, // prefixed, so harmless
		{map[string]string{"BASH_FUNC_echo%%": "() { id; }"}, false},
		{map[string]string{"A=B": "c"}, false},
		{map[string]string{"": "c"}, false},
		{map[string]string{"FOO": "a\x00b"}, false},
	} {
		if err := checkJobEnv(tc.env); (err == nil) != tc.ok {
			t.Errorf("checkJobEnv(%q) = %v, want ok=%v", tc.env, err, tc.ok)
		}
	}
}

// TestJobEnv: a job's environment is the allowlist, the CHEF_PUSH_*
// variables and its own entries (prefixed unless allowed) — nothing of the
// agent's own environment but locale, time zone and TMPDIR.
func TestJobEnv(t *testing.T) {
	agentEnv := []string{"HERALD_TOKEN=hrld_secret", "SECRET_X=s3cret", "PATH=/agent/bin", "HOME=/root",
		"LD_PRELOAD=/agent.so", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "TMPDIR=/var/tmp", "BASH_ENV=/x"}
	p, err := NewEnvPolicy("", []string{"DEPLOY_TARGET", "LANG"}, agentEnv)
	if err != nil {
		t.Fatal(err)
	}
	job := Job{ID: "j1", Env: map[string]string{"DEPLOY_TARGET": "prod", "FOO": "bar", "LD_PRELOAD": "/x.so",
		"BASH_ENV": "$CHEF_PUSH_JOB_FILE", "PATH": "/evil", "LANG": "de_DE.UTF-8", "HERALD_TOKEN": "x"}}
	got, err := p.jobEnv(job, "web-1", identity{home: "/nonexistent", name: "nobody"}, "/tmp/f")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CHEF_PUSH_ENV_BASH_ENV=$CHEF_PUSH_JOB_FILE", "CHEF_PUSH_ENV_FOO=bar", "CHEF_PUSH_ENV_HERALD_TOKEN=x",
		"CHEF_PUSH_ENV_LD_PRELOAD=/x.so", "CHEF_PUSH_ENV_PATH=/evil", "CHEF_PUSH_JOB_FILE=/tmp/f",
		"CHEF_PUSH_JOB_ID=j1", "CHEF_PUSH_NODE_NAME=web-1", "DEPLOY_TARGET=prod", "HOME=/nonexistent",
		"LANG=de_DE.UTF-8", "LC_ALL=C", "LOGNAME=nobody", "PATH=" + DefaultJobPath, "TMPDIR=/var/tmp", "TZ=UTC",
		"USER=nobody",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("job env\n got %q\nwant %q", got, want)
	}

	// The zero policy: nothing inherited, nothing allowed, no file.
	got, err = EnvPolicy{}.jobEnv(Job{ID: "j2", Env: map[string]string{"FOO": "bar"}}, "n", identity{}, "")
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"CHEF_PUSH_ENV_FOO=bar", "CHEF_PUSH_JOB_ID=j2", "CHEF_PUSH_NODE_NAME=n", "PATH=" + DefaultJobPath}
	if !slices.Equal(got, want) {
		t.Fatalf("zero policy\n got %q\nwant %q", got, want)
	}

	// A policy built by hand with a forbidden name still prefixes it.
	got, _ = EnvPolicy{Allow: []string{"LD_PRELOAD"}}.jobEnv(Job{ID: "j3", Env: map[string]string{"LD_PRELOAD": "/x.so"}}, "n", identity{}, "")
	if slices.ContainsFunc(got, func(kv string) bool { return strings.HasPrefix(kv, "LD_PRELOAD=") }) {
		t.Fatalf("LD_PRELOAD let through: %q", got)
	}

	if _, err := NewEnvPolicy("", []string{"FOO", "LD_PRELOAD"}, nil); err == nil || !strings.Contains(err.Error(), "LD_PRELOAD") {
		t.Fatalf("--allow-env LD_PRELOAD: %v", err)
	}
}
