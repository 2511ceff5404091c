package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testToken is the superadmin token every herald node of a test cluster
// is bootstrapped with.
const testToken = "hrld_cluster-test-token-0123456789abcdefghijklmnopq"

// Bounds of the harness's waits.
const (
	startTimeout = 30 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// heraldBinEnv names a herald binary to test instead of building this
// tree's (to show a test fails on an older commit).
const heraldBinEnv = "CLUSTERTEST_HERALD_BIN"

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// needPrograms skips a test in -short mode and builds nats-server (from
// the module in go.mod) and herald once per run. A build that cannot run
// (no go command) is a skip, or a failure under CI=true.
func needPrograms(t *testing.T) (natsServer, herald string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 3-node NATS cluster and herald processes")
	}
	binOnce.Do(func() {
		if _, err := exec.LookPath("go"); err != nil {
			binErr = fmt.Errorf("the go command is needed to build nats-server and herald: %w", err)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "herald-cluster-bin"); binErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{
			{"nats-server", "github.com/nats-io/nats-server/v2"},
			{"herald", "github.com/herald-sse/herald/cmd/herald"},
		} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg).CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if binErr != nil {
		missing(t, binErr.Error())
	}
	herald = filepath.Join(binDir, "herald")
	if old := os.Getenv(heraldBinEnv); old != "" {
		herald = old // another build, e.g. of an older commit, to compare
	}
	return filepath.Join(binDir, "nats-server"), herald
}

// missing fails the test under CI=true and skips it elsewhere.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// freePort returns a loopback port that was free a moment ago, for a
// nats-server to bind later. It lies below the kernel's ephemeral ports
// (32768 and up by default): a port the kernel handed out for ":0" may be
// taken again at any moment as the source port of another test's
// outgoing connection, and a nats-server that lost its route port that
// way left the cluster a server short (herald then could not place 3
// replicas).
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		p := 10000 + rand.IntN(22000) // 10000 … 31999
		if _, dup := handedOut.LoadOrStore(p, true); dup {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		return p
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// handedOut holds the ports freePort returned in this test binary, so
// no two servers are given the same one.
var handedOut sync.Map

// process is a child process whose output goes to a file (shown when a
// test fails).
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProcess(t *testing.T, name, logFile string, bin string, args ...string) *process {
	t.Helper()
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// cleanEnv is the environment without HERALD_ settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			env = append(env, kv)
		}
	}
	return env
}

// kill ends the process with SIGKILL (as a crash) and waits for it.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// alive reports whether the process is still running.
func (p *process) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// output returns what the process wrote so far.
func (p *process) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// natsNode is one nats-server of the test cluster.
type natsNode struct {
	*process
	url     string
	monitor string // the HTTP monitoring endpoint
}

// heraldClients returns how many herald processes are connected to n
// (its /connz, by connection name).
func (n *natsNode) heraldClients() (int, error) {
	resp, err := http.Get(n.monitor + "/connz")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var cz struct {
		Conns []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cz); err != nil {
		return 0, err
	}
	k := 0
	for _, c := range cz.Conns {
		if c.Name == "herald" {
			k++
		}
	}
	return k, nil
}

// heraldNode is one `herald serve --nats` process.
type heraldNode struct {
	*process
	url string
}

// cluster is a 3-node JetStream cluster with herald nodes in front.
type cluster struct {
	t      *testing.T
	herald string // the herald binary
	nats   []*natsNode
	nodes  []*heraldNode
	dir    string
}

// clusterOpts tune startCluster.
type clusterOpts struct {
	heralds    int      // herald nodes (default 2)
	heraldArgs []string // extra flags for every herald node
}

// startCluster starts 3 nats-server processes clustered with JetStream on
// loopback, waits until the cluster has a JetStream meta leader, then
// starts the herald nodes one after the other (the first creates the
// stream at R3, waiting, if need be, for the servers to finish meeting one
// another) and waits for their /readyz.
func startCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	natsBin, heraldBin := needPrograms(t)
	if o.heralds == 0 {
		o.heralds = 2
	}
	c := &cluster{t: t, herald: heraldBin, dir: t.TempDir()}
	const size = 3
	clientPorts, routePorts, monitorPorts := make([]int, size), make([]int, size), make([]int, size)
	for i := range size {
		clientPorts[i], routePorts[i], monitorPorts[i] = freePort(t), freePort(t), freePort(t)
	}
	for i := range size {
		var routes []string
		for j := range size {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[j]))
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		p := startProcess(t, name, filepath.Join(c.dir, name+".log"), natsBin,
			"--name", name, "--addr", "127.0.0.1", "--port", strconv.Itoa(clientPorts[i]),
			"--http_port", strconv.Itoa(monitorPorts[i]),
			"--jetstream", "--store_dir", filepath.Join(c.dir, name),
			"--cluster_name", "herald-test", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]),
			"--routes", strings.Join(routes, ","))
		c.nats = append(c.nats, &natsNode{process: p, url: fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]),
			monitor: fmt.Sprintf("http://127.0.0.1:%d", monitorPorts[i])})
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.dumpLogs()
		}
	})
	c.waitJetStream()
	for range o.heralds {
		c.startHerald(o.heraldArgs...)
	}
	return c
}

// natsURLs is the --nats value naming every server of the cluster.
func (c *cluster) natsURLs() string {
	var u []string
	for _, n := range c.nats {
		u = append(u, n.url)
	}
	return strings.Join(u, ",")
}

// waitJetStream waits until the cluster has a JetStream meta leader (the
// account info answers).
func (c *cluster) waitJetStream() {
	c.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := func() error {
			nc, err := nats.Connect(c.natsURLs(), nats.Timeout(time.Second))
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err = js.AccountInfo(ctx)
			return err
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the NATS cluster has no JetStream after %s: %v", startTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startHerald starts one more herald node on the cluster.
func (c *cluster) startHerald(extra ...string) *heraldNode {
	c.t.Helper()
	i := len(c.nodes)
	name := fmt.Sprintf("herald%c", 'A'+i)
	args := []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json",
		"--nats", c.natsURLs(), "--data", filepath.Join(c.dir, name), "--bootstrap-token", testToken}
	if os.Getenv(heraldBinEnv) == "" { // older builds lack the flag; 3 is their default too
		args = append(args, "--replicas", "3")
	}
	args = append(args, extra...)
	p := startProcess(c.t, name, filepath.Join(c.dir, name+".log"), c.herald, args...)
	h := &heraldNode{process: p}
	deadline := time.Now().Add(startTimeout)
	for h.url == "" {
		if line, _, _ := strings.Cut(p.output(), "\n"); strings.Contains(p.output(), "\n") {
			var l struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if err := json.Unmarshal([]byte(line), &l); err != nil || l.Msg != "herald starting" {
				c.t.Fatalf("%s: first log line %q does not name the address", name, line)
			}
			h.url = l.URL
			break
		}
		if !p.alive() || time.Now().After(deadline) {
			c.t.Fatalf("%s did not start:\n%s", name, p.output())
		}
		time.Sleep(pollEvery)
	}
	for {
		resp, err := http.Get(h.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if !p.alive() || time.Now().After(deadline) {
			c.t.Fatalf("%s not ready in %s:\n%s", name, startTimeout, p.output())
		}
		time.Sleep(pollEvery)
	}
	c.nodes = append(c.nodes, h)
	return h
}

// streamLeader returns the nats node leading the HERALD stream and the
// stream's replica count.
func (c *cluster) streamLeader() (*natsNode, int) {
	c.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		leader, replicas, err := c.streamInfo()
		if err == nil && leader != "" {
			for _, n := range c.nats {
				// Right after a kill a surviving server may still name
				// the dead one until the election ends: wait for a live
				// leader.
				if n.name == leader && n.alive() {
					return n, replicas
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no leader for the HERALD stream: %q %v", leader, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// streamInfo asks the live servers of the cluster about the HERALD stream.
func (c *cluster) streamInfo() (leader string, replicas int, err error) {
	var urls []string
	for _, n := range c.nats {
		if n.alive() {
			urls = append(urls, n.url)
		}
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Timeout(time.Second))
	if err != nil {
		return "", 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "HERALD")
	if err != nil {
		return "", 0, err
	}
	info := s.CachedInfo()
	if info.Cluster == nil {
		return "", info.Config.Replicas, nil
	}
	return info.Cluster.Leader, info.Config.Replicas, nil
}

// dumpLogs shows the tail of every process's output.
func (c *cluster) dumpLogs() {
	var ps []*process
	for _, n := range c.nats {
		ps = append(ps, n.process)
	}
	for _, h := range c.nodes {
		ps = append(ps, h.process)
	}
	for _, p := range ps {
		out := p.output()
		if len(out) > 3000 && os.Getenv("CLUSTERTEST_FULL_LOGS") == "" {
			out = "…" + out[len(out)-3000:]
		}
		c.t.Logf("--- %s:\n%s", p.name, out)
	}
}
