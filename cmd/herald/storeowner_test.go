package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/herald-sse/herald/store"
)

// TestSecondServeOnSameDataRefused starts a second `herald serve` on the
// data directory of a running one: it exits at once, non-zero, naming the
// directory and the first one's PID, before it listens.
func TestSecondServeOnSameDataRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the herald binary")
	}
	dir := t.TempDir()
	p := startServe(t, "--data", dir, "--bootstrap-token", testToken)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, heraldBinary(t), "serve", "--data", dir, "--listen", "127.0.0.1:0",
		"--bootstrap-token", testToken).CombinedOutput()
	took := time.Since(start)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("second serve: %v, want a non-zero exit\n%s", err, out)
	}
	t.Logf("second serve, after %v: %s", took.Round(time.Millisecond), out)
	abs, _ := filepath.Abs(dir)
	pid := strconv.Itoa(p.cmd.Process.Pid)
	if !strings.Contains(string(out), abs) || !strings.Contains(string(out), pid) {
		t.Fatalf("second serve said %q; want the directory %s and pid %s", out, abs, pid)
	}
	if strings.Contains(string(out), "herald starting") || strings.Contains(string(out), "herald listening") {
		t.Fatalf("second serve listened before it gave up:\n%s", out)
	}
	if took > 5*time.Second {
		t.Fatalf("second serve took %v to give up", took)
	}
	// The first one is untouched.
	if st, err := call(ctx, "POST", p.url+"/v1/tasks", testToken, map[string]any{}, nil); err != nil || st != 201 {
		t.Fatalf("first server after the second was refused: %d %v", st, err)
	}
}

// natsURLOf reads the embedded NATS address from a server's log.
func natsURLOf(t *testing.T, p *proc) string {
	t.Helper()
	for _, line := range strings.Split(p.Logs(), "\n") {
		var l struct {
			Msg string `json:"msg"`
			URL string `json:"url"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "embedded NATS exposed" {
			return l.URL
		}
	}
	t.Fatalf("no \"embedded NATS exposed\" line in:\n%s", p.Logs())
	return ""
}

// TestNATSListenAuthenticated exposes the embedded store with
// --nats-listen: a raw client without the generated credentials is
// refused (so no forged record can be published), one with them works,
// and a second herald shares the store with --nats-credentials.
func TestNATSListenAuthenticated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the herald binary")
	}
	dir := t.TempDir()
	p := startServe(t, "--data", dir, "--bootstrap-token", testToken, "--nats-listen", "127.0.0.1:0")
	url := natsURLOf(t, p)
	credFile := filepath.Join(dir, store.CredentialsFile)
	fi, err := os.Stat(credFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v mode %v, want 0600", err, fi)
	}
	if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
		// A forged key record, as in issue 12: must never reach the store.
		perr := nc.Publish("herald.auth.key.X", []byte(`{"kind":"key"}`))
		ferr := nc.Flush()
		nc.Close()
		t.Fatalf("connected without credentials (publish %v, flush %v)", perr, ferr)
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("connect without credentials: %v, want an authorization violation", err)
	}
	if nc, err := nats.Connect(url, nats.UserInfo("herald", "wrong"), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("connected with a wrong password")
	}
	c, err := store.ReadCredentials(credFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, nats.UserInfo(c.User, c.Password))
	if err != nil {
		t.Fatalf("connect with the credentials: %v", err)
	}
	nc.Close()
	p2 := startServe(t, "--nats", url, "--nats-credentials", credFile)
	ctx := context.Background()
	var out struct {
		ID string `json:"task_id"`
	}
	if st, err := call(ctx, "POST", p2.url+"/v1/tasks", testToken, map[string]any{}, &out); err != nil || st != 201 {
		t.Fatalf("write through the second herald: %d %v", st, err)
	}
}

// TestNATSWithoutCredentialsExplains: a herald pointed at an exposed
// store without its credentials exits with a message that says so.
func TestNATSWithoutCredentialsExplains(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the herald binary")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken, "--nats-listen", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, heraldBinary(t), "serve", "--listen", "127.0.0.1:0", "--nats", natsURLOf(t, p)).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("serve without credentials: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Authorization Violation") || !strings.Contains(string(out), store.CredentialsFile) {
		t.Fatalf("serve without credentials said %q", out)
	}
}
