package clustertest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the repository root, from this package's directory.
const repoRoot = "../.."

// docsBlock returns the first ```sh block after heading in file.
func docsBlock(t *testing.T, file, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, heading)
	if i < 0 {
		t.Fatalf("%s has no %q", file, heading)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	if start < 0 {
		t.Fatalf("no sh block under %q", heading)
	}
	end := strings.Index(s[start+6:], "```")
	if end < 0 {
		t.Fatalf("unterminated sh block under %q", heading)
	}
	return s[start+6 : start+6+end]
}

// clusterPorts is how many ports above CLUSTER_PORT up.sh uses.
const clusterPorts = 33

// freePortBase returns a port p such that p … p+clusterPorts-1 were all
// free a moment ago. The range lies below the kernel's ephemeral ports
// (32768 and up by default), which other tests' outgoing connections take
// at any moment: a route port in there was once taken between this check
// and nats-server's bind.
func freePortBase(t *testing.T) int {
	t.Helper()
	for range 50 {
		base := 10000 + rand.IntN(220)*100 // 10000 … 31900 (+ clusterPorts)
		free := true
		for p := base; p < base+clusterPorts && free; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free range of ports")
	return 0
}

// TestDocsClusterBlock runs docs/cluster.md's "Try it locally" block as a
// reader would paste it, from the repository root: scripts/cluster/up.sh
// starts 3 nats servers, 2 herald nodes and nginx; a task is written
// through nginx, herald node A is killed, the task is finished and read
// through nginx (node B); down.sh stops everything by PID.
func TestDocsClusterBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nats-server and herald and starts a cluster with nginx")
	}
	for _, prog := range []string{"go", "nginx", "curl"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing(t, prog+" is needed to run docs/cluster.md's commands: "+err.Error())
		}
	}
	block := docsBlock(t, "docs/cluster.md", "## Try it locally")
	var out []byte
	var err error
	var dir string
	// A port of the range may be taken between freePortBase's check and
	// the server's bind (up.sh then names the process that exited on
	// "address already in use"): only that is tried again, on other ports.
	for try := 1; ; try++ {
		dir = t.TempDir()
		out, err = runBlock(t, block, dir, freePortBase(t))
		if err == nil || try == 3 || !strings.Contains(string(out), "address already in use") {
			break
		}
		t.Logf("try %d: a port was taken before a server bound it; again on other ports:\n%s", try, upLines(out))
	}
	if err != nil {
		// The whole output first; the failure's message last and short, so
		// that a log cut to its end still says what went wrong.
		t.Logf("the block's output:\n%s", out)
		t.Fatalf("the block failed: %v; up.sh said:\n%s", err, upLines(out))
	}
	s := string(out)
	t.Logf("the block's output:\n%s", s)
	for _, want := range []string{"nginx up", `"current_progress":1`, "event: task_done", "event: server_close",
		"stopped herald-b", "stopped nats-3", "stopped nginx"} {
		if !strings.Contains(s, want) {
			t.Fatalf("the block's output lacks %q:\n%s", want, s)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid")); len(files) > 0 {
		t.Fatalf("down.sh left PID files: %v", files)
	}
}

// runBlock runs block with bash from the repository root, its cluster in
// dir on ports from base, and stops whatever it leaves running by its PID
// files when the test ends.
func runBlock(t *testing.T, block, dir string, base int) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", block)
	cmd.Dir = repoRoot
	cmd.Env = append(cleanEnv(), "CLUSTER_DIR="+dir, fmt.Sprintf("CLUSTER_PORT=%d", base))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t.Cleanup(func() {
		files, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Logf("killed %s (pid %d) left running", filepath.Base(f), pid)
			}
		}
	})
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("the block did not finish in 3 minutes:\n%s\nup.sh said:\n%s", out, upLines(out))
	}
	return out, err
}

// upLines is what up.sh said (its lines of out).
func upLines(out []byte) string {
	var said []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "up.sh:") {
			said = append(said, l)
		}
	}
	return strings.Join(said, "\n")
}
