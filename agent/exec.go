package agent

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxOutput is how much of stdout and of stderr is kept for a captured run.
const MaxOutput = 256 << 10

// DefaultTimeoutGrace is how long after a job's run_timeout the agent
// stops the command by itself when the server has not sent abort: the
// server's run timer decides that a job timed out, the agent's own is a
// backstop for a server it cannot reach.
const DefaultTimeoutGrace = 5 * time.Second

// Job is what a commit asks the agent to run.
type Job struct {
	ID            string            `json:"job_id"`
	Command       string            `json:"command"`
	RunTimeout    int               `json:"run_timeout"`
	User          string            `json:"user,omitempty"`
	Dir           string            `json:"dir,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	File          string            `json:"file,omitempty"`
	CaptureOutput bool              `json:"capture_output,omitempty"`
}

// Result is how a run ended.
type Result struct {
	Succeeded      bool
	Stdout, Stderr string // when captured
	Aborted        bool
	TimedOut       bool
	// Reason says shortly why a run did not succeed ("exit status 2").
	Reason string
}

// run is one running command: a process group that abort kills whole.
type run struct {
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	aborted bool
}

// cappedBuffer keeps the first MaxOutput bytes written to it.
type cappedBuffer struct {
	bytes.Buffer
	dropped bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := MaxOutput - c.Len(); room < len(p) {
		c.dropped = true
		if room > 0 {
			c.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

func (c *cappedBuffer) String() string {
	if c.dropped {
		return c.Buffer.String() + "\n[output truncated]\n"
	}
	return c.Buffer.String()
}

// start is startRun with DefaultTimeoutGrace.
func start(job Job, line string, p EnvPolicy, node string) (*run, func() Result, error) {
	return startRun(job, line, p, node, DefaultTimeoutGrace)
}

// startRun runs line for job in its own process group, with the job's dir,
// run-as user (only when the agent runs as root), file (written to a
// temporary file named by $CHEF_PUSH_JOB_FILE) and an environment built by
// p (see EnvPolicy.jobEnv): never the agent's own. The command is killed
// grace after the job's run timeout unless it ended or was aborted before.
func startRun(job Job, line string, p EnvPolicy, node string, grace time.Duration) (*run, func() Result, error) {
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir = job.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cred, who, err := runAs(job.User)
	if err != nil {
		return nil, nil, err
	}
	cmd.SysProcAttr.Credential = cred
	var cleanup func()
	var path string
	if job.File != "" {
		if path, err = writeJobFile(job, cred); err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.Remove(path) }
	}
	if cmd.Env, err = p.jobEnv(job, node, who, path); err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, nil, err
	}
	var stdout, stderr cappedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, nil, err
	}
	r := &run{cmd: cmd, done: make(chan struct{})}
	timeout := time.Duration(job.RunTimeout) * time.Second
	if timeout <= 0 {
		timeout = time.Hour
	}
	wait := func() Result {
		timer := time.AfterFunc(timeout+grace, func() { r.kill(false) })
		err := cmd.Wait()
		timedOut := !timer.Stop()
		close(r.done)
		if cleanup != nil {
			cleanup()
		}
		r.mu.Lock()
		aborted := r.aborted
		r.mu.Unlock()
		res := Result{Succeeded: err == nil, Aborted: aborted, TimedOut: timedOut && !aborted}
		switch {
		case res.Aborted:
			res.Reason = "aborted"
		case res.TimedOut:
			res.Reason = fmt.Sprintf("killed %v after the run timeout of %v", grace, timeout)
		case err != nil:
			res.Reason = err.Error() // "exit status 2", "signal: killed"
		}
		if job.CaptureOutput {
			res.Stdout, res.Stderr = stdout.String(), stderr.String()
		}
		if res.TimedOut && job.CaptureOutput {
			res.Stderr += "\n[" + res.Reason + "]\n"
		}
		return res
	}
	return r, wait, nil
}

// kill ends the whole process group: SIGTERM, then SIGKILL after 5 s.
func (r *run) kill(abort bool) {
	r.mu.Lock()
	if abort {
		r.aborted = true
	}
	r.mu.Unlock()
	pgid := r.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	go func() {
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
}

// runAs returns the credential to run a job as name ("": the agent's own
// user; nil: no change of user) and that user's identity.
func runAs(name string) (*syscall.Credential, identity, error) {
	if name == "" {
		u, err := user.Current()
		if err != nil { // a uid without a passwd entry: no HOME, USER or LOGNAME
			return nil, identity{}, nil
		}
		return nil, identityOf(u), nil
	}
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return nil, identity{}, fmt.Errorf("user %s does not exist", name)
	}
	if err != nil {
		return nil, identity{}, fmt.Errorf("run-as user %q: %w", name, err)
	}
	if strconv.Itoa(os.Getuid()) == u.Uid {
		return nil, identityOf(u), nil
	}
	if os.Getuid() != 0 {
		return nil, identity{}, fmt.Errorf("cannot run as user %s: the agent is not root, so it can only run as itself", name)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, identityOf(u), nil
}

// writeJobFile writes the job's file (mode 0600), owned by the run-as user
// when there is one, and returns its path.
func writeJobFile(job Job, cred *syscall.Credential) (string, error) {
	data, err := decodeJobFile(job.File)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "herald-job-"+job.ID+"-*")
	if err != nil {
		return "", fmt.Errorf("cannot write the job file: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	if cred != nil {
		if err := f.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			os.Remove(f.Name())
			return "", fmt.Errorf("job file: %w", err)
		}
	}
	return f.Name(), nil
}

// decodeJobFile returns the content of a job's file ("raw:…" or
// "base64:…").
func decodeJobFile(file string) ([]byte, error) {
	switch {
	case strings.HasPrefix(file, "raw:"):
		return []byte(strings.TrimPrefix(file, "raw:")), nil
	case strings.HasPrefix(file, "base64:"):
		data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(file, "base64:"))
		if err != nil {
			return nil, fmt.Errorf("job file: %w", err)
		}
		return data, nil
	}
	return nil, errors.New("job file: want a raw: or base64: prefix")
}

// errBusy and errNotWhitelisted explain a nack.
var (
	errBusy           = errors.New("busy with another job")
	errNotWhitelisted = errors.New("command not in whitelist")
)
