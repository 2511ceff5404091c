package lifecycle

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	herald "github.com/herald-sse/herald"
)

// Limits and defaults of a job request (SPEC §5.1).
const (
	DefaultRunTimeout  = 3600            // seconds
	MaxRunTimeout      = 365 * 24 * 3600 // seconds: a year
	MaxJobNodes        = 10000           // nodes in one job
	MaxJobFileBytes    = 100000          // decoded size of file
	MaxJobEnvEntries   = 100             // entries in env
	MaxJobEnvBytes     = 16 << 10        // env names and values together
	MaxJobEnvName      = 128             // bytes of one env name
	MaxJobCommand      = 1024            // bytes of command
	MaxJobUser         = 256             // bytes of user
	MaxJobDir          = 4096            // bytes of dir (PATH_MAX)
	envNameDescription = "[A-Za-z_][A-Za-z0-9_]{0,127}"
	filePrefixRaw      = "raw:"    // file: the content as is
	filePrefixBase64   = "base64:" // file: standard base64, padded
	slugDescription    = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
)

// ValidateJobSpec checks a job request and applies its defaults: run_timeout
// 3600 when absent, quorum = the number of nodes when absent. A refusal is an
// EInvalid *herald.Error whose Field is the JSON key of the request body at
// fault (command, nodes, run_timeout, quorum, env, user, dir, file); spec is
// left unchanged then.
func ValidateJobSpec(spec *JobSpec) error {
	if spec == nil {
		return herald.FieldErrorf("command", "no job request")
	}
	if strings.TrimSpace(spec.Command) == "" {
		return herald.FieldErrorf("command", "command is required")
	}
	if len(spec.Nodes) == 0 {
		return herald.FieldErrorf("nodes", "nodes must be a non-empty array of node names")
	}
	if len(spec.Nodes) > MaxJobNodes {
		return herald.FieldErrorf("nodes", "%d nodes; at most %d", len(spec.Nodes), MaxJobNodes)
	}
	seen := make(map[string]bool, len(spec.Nodes))
	for i, n := range spec.Nodes {
		if !herald.ValidSlug(n) {
			return herald.FieldErrorf("nodes", "nodes[%d] %q is not a node name %s", i, n, slugDescription)
		}
		if seen[n] {
			return herald.FieldErrorf("nodes", "node %q is listed twice", n)
		}
		seen[n] = true
	}
	runTimeout := DefaultRunTimeout
	if spec.RunTimeoutSet || spec.RunTimeout != 0 {
		runTimeout = spec.RunTimeout
		if runTimeout <= 0 || runTimeout > MaxRunTimeout {
			return herald.FieldErrorf("run_timeout", "run_timeout %d is not between 1 and %d seconds", runTimeout, MaxRunTimeout)
		}
	}
	quorum := len(spec.Nodes)
	if spec.QuorumSet || spec.Quorum != 0 {
		quorum = spec.Quorum
		if quorum <= 0 || quorum > len(spec.Nodes) {
			return herald.FieldErrorf("quorum", "quorum %d is not between 1 and the number of nodes (%d)", quorum, len(spec.Nodes))
		}
	}
	if err := validateJobEnv(spec.Env); err != nil {
		return err
	}
	if len(spec.Command) > MaxJobCommand {
		return herald.FieldErrorf("command", "command is %d bytes; at most %d", len(spec.Command), MaxJobCommand)
	}
	if strings.ContainsRune(spec.User, 0) {
		return herald.FieldErrorf("user", "user contains NUL")
	}
	if len(spec.User) > MaxJobUser {
		return herald.FieldErrorf("user", "user is %d bytes; at most %d", len(spec.User), MaxJobUser)
	}
	if strings.ContainsRune(spec.Dir, 0) {
		return herald.FieldErrorf("dir", "dir contains NUL")
	}
	if len(spec.Dir) > MaxJobDir {
		return herald.FieldErrorf("dir", "dir is %d bytes; at most %d", len(spec.Dir), MaxJobDir)
	}
	if err := validateJobFile(spec.File); err != nil {
		return err
	}
	spec.RunTimeout = runTimeout
	spec.Quorum = quorum
	return nil
}

// validateJobEnv checks env: at most MaxJobEnvEntries entries of
// MaxJobEnvBytes together, names that are shell identifiers of at most
// MaxJobEnvName bytes, values without NUL.
func validateJobEnv(env map[string]string) error {
	if len(env) > MaxJobEnvEntries {
		return herald.FieldErrorf("env", "env has %d entries; at most %d", len(env), MaxJobEnvEntries)
	}
	total := 0
	for k, v := range env {
		if !validEnvName(k) {
			return herald.FieldErrorf("env", "env name %q is not %s", truncateName(k), envNameDescription)
		}
		if strings.ContainsRune(v, 0) {
			return herald.FieldErrorf("env", "env %s: the value contains NUL", k)
		}
		total += len(k) + len(v)
	}
	if total > MaxJobEnvBytes {
		return herald.FieldErrorf("env", "env names and values are %d bytes together; at most %d", total, MaxJobEnvBytes)
	}
	return nil
}

// validEnvName reports whether s matches [A-Za-z_][A-Za-z0-9_]{0,127}.
func validEnvName(s string) bool {
	if s == "" || len(s) > MaxJobEnvName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// truncateName shortens a refused name for an error message.
func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// validateJobFile checks the file key: "" (absent), "raw:…" or "base64:…",
// at most MaxJobFileBytes once decoded.
func validateJobFile(file string) error {
	if file == "" {
		return nil
	}
	var n int
	switch {
	case strings.HasPrefix(file, filePrefixRaw):
		n = len(file) - len(filePrefixRaw)
	case strings.HasPrefix(file, filePrefixBase64):
		b, err := base64.StdEncoding.DecodeString(file[len(filePrefixBase64):])
		if err != nil {
			return herald.FieldErrorf("file", "file is not valid base64: %v", err)
		}
		n = len(b)
	default:
		return herald.FieldErrorf("file", `file must start with "raw:" or "base64:"`)
	}
	if n > MaxJobFileBytes {
		return herald.FieldErrorf("file", "file is %d bytes decoded; at most %d", n, MaxJobFileBytes)
	}
	return nil
}

// HasFile reports whether the job was given a file (kept or dropped).
func (s JobSpec) HasFile() bool { return s.File != "" || s.FileDigest != "" }

// DropFile replaces File by its digest (FileDigest): a job's file is
// needed only for its commit commands, which its start record holds, so
// memory and later records need not carry up to 133 kB per job.
func (s *JobSpec) DropFile() {
	if s.File == "" {
		return
	}
	s.FileDigest = FileDigest(s.File)
	s.File = ""
}

// FileDigest is the FileDigest of a file: hex SHA-256 of the "raw:…" or
// "base64:…" text.
func FileDigest(file string) string {
	sum := sha256.Sum256([]byte(file))
	return hex.EncodeToString(sum[:])
}
