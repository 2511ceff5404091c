package agent

import (
	"errors"
	"fmt"
	"os/user"
	"regexp"
	"slices"
	"strings"
)

// DefaultJobPath is the PATH a job runs with unless the agent is told
// otherwise (--job-path); never the job's nor the agent's own.
const DefaultJobPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// EnvPrefix is put before the name of a job `env` entry the agent does not
// let through as is (what Chef's push client does).
const EnvPrefix = "CHEF_PUSH_ENV_"

// Variables the agent sets for every job (the names Chef's push client uses).
const (
	envNodeName = "CHEF_PUSH_NODE_NAME"
	envJobID    = "CHEF_PUSH_JOB_ID"
	envJobFile  = "CHEF_PUSH_JOB_FILE"
)

// inheritedEnv are the agent's own variables a job gets (when set): locale,
// time zone and temporary directory, nothing that carries a secret or a hook.
var inheritedEnv = []string{"LANG", "LANGUAGE", "TZ", "TMPDIR"}

// validEnvName is the shape of a name a shell can hold.
var validEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// forbiddenEnv are names no job may set as is, --allow-env or not: loader,
// shell and interpreter hooks that run code before or around the
// whitelisted command, and the variables the agent sets itself.
var forbiddenEnv = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true,
	"BASH_ENV": true, "ENV": true, "SHELLOPTS": true, "BASHOPTS": true, "PS1": true, "PS2": true,
	"PS3": true, "PS4": true, "PROMPT_COMMAND": true, "IFS": true, "CDPATH": true, "GLOBIGNORE": true,
	"BASH_XTRACEFD": true, "INPUTRC": true, "ZDOTDIR": true, "HISTFILE": true,
	"GCONV_PATH": true, "HOSTALIASES": true, "LOCALDOMAIN": true, "RES_OPTIONS": true, "LOCPATH": true,
	"NLSPATH": true, "GLIBC_TUNABLES": true, "TMPPREFIX": true,
	"PERL5OPT": true, "PERL5LIB": true, "PERLLIB": true, "PERL5DB": true,
	"RUBYOPT": true, "RUBYLIB": true, "GEM_HOME": true, "GEM_PATH": true, "BUNDLE_GEMFILE": true,
	"NODE_OPTIONS": true, "NODE_PATH": true, "CLASSPATH": true,
	"JAVA_TOOL_OPTIONS": true, "_JAVA_OPTIONS": true, "JDK_JAVA_OPTIONS": true,
	"PHPRC": true, "PHP_INI_SCAN_DIR": true, "TCLLIBPATH": true, "GOFLAGS": true,
	"OPENSSL_CONF": true, "OPENSSL_ENGINES": true, "OPENSSL_MODULES": true,
	"EDITOR": true, "VISUAL": true, "PAGER": true, "BROWSER": true,
	"SSH_ASKPASS": true, "SUDO_ASKPASS": true, "XDG_CONFIG_HOME": true, "XDG_DATA_HOME": true,
}

// forbiddenPrefixes and forbiddenSuffixes extend forbiddenEnv to families:
// the dynamic loader (LD_, DYLD_), exported bash functions (BASH_FUNC_),
// malloc tuning, interpreters' own variables, git's hooks, the agent's own
// names (CHEF_PUSH_, HERALD_), option variables (…OPT, …OPTS, …OPTIONS)
// and search paths (…PATH, …LIB).
var (
	forbiddenPrefixes = []string{"LD_", "DYLD_", "BASH_FUNC_", "MALLOC_", "PYTHON", "PERL", "RUBY", "LUA_",
		"GIT_", "GCONV_", "CHEF_PUSH_", "HERALD_"}
	forbiddenSuffixes = []string{"OPT", "OPTS", "OPTIONS", "PATH", "LIB"}
)

// errForbiddenEnv is why a name can never be let through.
var errForbiddenEnv = errors.New("a loader, shell or interpreter hook (or a name the agent sets itself) is never passed to a job as is")

// CheckAllowEnv refuses --allow-env names a job must never set as is.
func CheckAllowEnv(names []string) error {
	for _, n := range names {
		if !validEnvName.MatchString(n) {
			return fmt.Errorf("--allow-env %q: not a variable name ([A-Za-z_][A-Za-z0-9_]*)", n)
		}
		if forbidden(n) {
			return fmt.Errorf("--allow-env %s: %w", n, errForbiddenEnv)
		}
	}
	return nil
}

// forbidden reports whether a job may never set name as is (compared
// upper-cased: conservative for names that differ only in case).
func forbidden(name string) bool {
	u := strings.ToUpper(name)
	if forbiddenEnv[u] {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	for _, s := range forbiddenSuffixes {
		if strings.HasSuffix(u, s) {
			return true
		}
	}
	return false
}

// EnvPolicy decides what a job's environment holds. The zero value is the
// safe default: DefaultJobPath, nothing inherited, every job variable
// prefixed with EnvPrefix.
type EnvPolicy struct {
	// Path is the jobs' PATH (DefaultJobPath when empty).
	Path string
	// Allow lists the job `env` names passed as is (checked with CheckAllowEnv).
	Allow []string
	// Inherit is what jobs take from the agent's environment (see
	// NewEnvPolicy): locale, time zone, TMPDIR.
	Inherit []string
}

// NewEnvPolicy checks allow and keeps from agentEnv (os.Environ()) only
// LANG, LANGUAGE, LC_*, TZ and TMPDIR.
func NewEnvPolicy(path string, allow, agentEnv []string) (EnvPolicy, error) {
	if err := CheckAllowEnv(allow); err != nil {
		return EnvPolicy{}, err
	}
	if strings.ContainsRune(path, 0) {
		return EnvPolicy{}, errors.New("--job-path: contains a NUL byte")
	}
	p := EnvPolicy{Path: path, Allow: slices.Clone(allow)}
	for _, kv := range agentEnv {
		name, _, ok := strings.Cut(kv, "=")
		if ok && (slices.Contains(inheritedEnv, name) || (strings.HasPrefix(name, "LC_") && validEnvName.MatchString(name))) {
			p.Inherit = append(p.Inherit, kv)
		}
	}
	return p, nil
}

// checkJobEnv refuses a job `env` that no shell could hold: a name that is
// not a variable name, a NUL in a value. The agent nacks such a commit.
func checkJobEnv(env map[string]string) error {
	for name, v := range env {
		if !validEnvName.MatchString(name) {
			return fmt.Errorf("env name %q is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", truncate(name, 64))
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("env %s: the value holds a NUL byte", name)
		}
	}
	return nil
}

// identity is who a job runs as: its HOME, USER and LOGNAME.
type identity struct{ home, name string }

func identityOf(u *user.User) identity { return identity{home: u.HomeDir, name: u.Username} }

// jobEnv builds one run's environment, sorted: the allowlist, the
// CHEF_PUSH_* variables (file is the job file's path, or ""), and the job's
// `env` — as is for allowed names, else as CHEF_PUSH_ENV_<NAME>.
func (p EnvPolicy) jobEnv(job Job, node string, who identity, file string) ([]string, error) {
	if err := checkJobEnv(job.Env); err != nil {
		return nil, err
	}
	path := p.Path
	if path == "" {
		path = DefaultJobPath
	}
	env := map[string]string{"PATH": path, envNodeName: node, envJobID: job.ID}
	for _, kv := range p.Inherit {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if who.home != "" {
		env["HOME"] = who.home
	}
	if who.name != "" {
		env["USER"], env["LOGNAME"] = who.name, who.name
	}
	if file != "" {
		env[envJobFile] = file
	}
	for k, v := range job.Env {
		if slices.Contains(p.Allow, k) && !forbidden(k) { // forbidden again: a policy built by hand
			env[k] = v
		} else {
			env[EnvPrefix+k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
