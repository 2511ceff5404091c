package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// pushyCluster is two herald serve processes sharing one JetStream store:
// a runs the embedded store and exposes it, b connects to it with --nats.
type pushyCluster struct {
	t                              *testing.T
	dirA, dirB, nats, portA, portB string
	a, b                           *proc
}

var pushyTimerFlags = []string{"--voting-timeout", "2s", "--heartbeat-interval", "200ms", "--bootstrap-token", testToken}

func startPushyCluster(t *testing.T) *pushyCluster {
	c := &pushyCluster{t: t, dirA: t.TempDir(), dirB: t.TempDir(), nats: freePort(t), portA: freePort(t), portB: freePort(t)}
	c.start()
	return c
}

func (c *pushyCluster) start() {
	c.a = startServe(c.t, append([]string{"--listen", "127.0.0.1:" + c.portA, "--data", c.dirA,
		"--nats-listen", "127.0.0.1:" + c.nats}, pushyTimerFlags...)...)
	c.b = startServe(c.t, append([]string{"--listen", "127.0.0.1:" + c.portB, "--data", c.dirB,
		"--nats", "nats://127.0.0.1:" + c.nats, "--nats-credentials", filepath.Join(c.dirA, store.CredentialsFile)}, pushyTimerFlags...)...)
}

// restart kills both processes (SIGKILL) and starts them again on the same
// store and addresses.
func (c *pushyCluster) restart() {
	c.b.kill()
	c.a.kill()
	c.start()
}

func (c *pushyCluster) client(url, token string) *client.Client {
	return &client.Client{Server: url, Token: token, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// node starts a scripted node heartbeating to the first of servers and
// sending each message to every one of them at once.
func (c *pushyCluster) node(name string, do testutil.Behavior, servers ...string) *testutil.PushyNode {
	var k struct {
		Token string `json:"token"`
	}
	if st, err := call(context.Background(), "POST", c.a.url+"/v1/admin/keys", testToken,
		map[string]string{"role": "node", "domain": "default", "node": name}, &k); err != nil || st != 201 {
		c.t.Fatalf("node key: %d %v", st, err)
	}
	n := testutil.StartPushyNode(&testutil.PushyNode{Org: "default", Name: name, Token: k.Token, Servers: servers, Both: true, Do: do})
	c.t.Cleanup(n.Stop)
	return n
}

// waitJob polls a job until it has status; on a timeout it shows the
// job's history.
func (c *pushyCluster) waitJob(cl *client.Client, epoch, id, status string) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := cl.GetJob(context.Background(), "default", id)
		if err == nil && s.Status == status {
			return
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range jobHistory(c.t, cl.Server, epoch, id) {
				names = append(names, e.Type+" "+e.Data)
			}
			c.t.Fatalf("job %s: %s %v; want %s; history:\n%s", id, s.Status, err, status, strings.Join(names, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitAvailable(t *testing.T, cl *client.Client, names ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		states, _ := cl.NodeStates(context.Background(), "default")
		n := 0
		for _, s := range states {
			for _, name := range names {
				if s.NodeName == name && s.Availability == "available" {
					n++
				}
			}
		}
		if n == len(names) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes %v not available: %+v", names, states)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobHistory reads a job's whole feed from url (resuming from the store's
// first record, so a finished job replays its events) to its end.
func jobHistory(t *testing.T, url, epoch, id string) []sse.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/organizations/default/pushy/job_status_feed/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Last-Event-ID", epoch+"-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("job feed %s: %v %v", id, resp, err)
	}
	defer resp.Body.Close()
	r := sse.NewReader(bufio.NewReader(resp.Body))
	var evs []sse.Event
	for {
		e, err := r.Next()
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("job feed %s did not end: %d events", id, len(evs))
			}
			return evs
		}
		evs = append(evs, e)
	}
}

// epochOf reads the store's epoch from the id of a task's first event.
func epochOf(t *testing.T, url string) string {
	t.Helper()
	var st struct {
		ID string `json:"task_id"`
	}
	if code, err := call(context.Background(), "POST", url+"/v1/tasks", testToken, map[string]any{}, &st); err != nil || code != 201 {
		t.Fatalf("task: %d %v", code, err)
	}
	req, _ := http.NewRequest("GET", url+"/events/background-task?taskId="+st.ID, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	e, err := sse.NewReader(bufio.NewReader(resp.Body)).Next()
	if err != nil {
		t.Fatal(err)
	}
	return e.ID[:strings.LastIndexByte(e.ID, '-')]
}

// checkOnce checks that a job's history, as both processes serve it, is the
// same, has exactly one job_complete (last, with status) and that both
// processes report the same summary.
func (c *pushyCluster) checkOnce(epoch, id, status string) []sse.Event {
	c.t.Helper()
	ha, hb := jobHistory(c.t, c.a.url, epoch, id), jobHistory(c.t, c.b.url, epoch, id)
	if !reflect.DeepEqual(ha, hb) {
		c.t.Fatalf("job %s: the processes disagree:\n%v\n%v", id, ha, hb)
	}
	n := 0
	for _, e := range ha {
		if e.Type == "job_complete" {
			n++
		}
	}
	if n != 1 || ha[len(ha)-1].Type != "job_complete" || !strings.Contains(ha[len(ha)-1].Data, `"status":"`+status+`"`) {
		c.t.Fatalf("job %s: %d job_complete in %v", id, n, ha)
	}
	sa, err1 := c.client(c.a.url, testToken).GetJob(context.Background(), "default", id)
	sb, err2 := c.client(c.b.url, testToken).GetJob(context.Background(), "default", id)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(sa, sb) || sa.Status != status {
		c.t.Fatalf("job %s summaries: %+v %v / %+v %v", id, sa, err1, sb, err2)
	}
	return ha
}

func countEvents(evs []sse.Event, typ, contains string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ && strings.Contains(e.Data, contains) {
			n++
		}
	}
	return n
}

// TestPushyTwoProcesses: two `herald serve` processes share one JetStream
// store (the second with --nats, which steps its replicas down to what the
// store supports). Nodes send every message to both processes at once (same
// Idempotency-Key), jobs are started on either, and both arm the timers:
// every job still has exactly one job_complete and the same summary on
// both. Then both processes are killed during voting and during running
// and restarted: the timers fire after the restart.
func TestPushyTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	c := startPushyCluster(t)
	both := []string{c.a.url, c.b.url}
	rev := []string{c.b.url, c.a.url}
	obedient := []string{"n1", "n2", "n3", "n4"}
	for i, n := range obedient {
		if i%2 == 0 {
			c.node(n, testutil.Obedient, both...)
		} else {
			c.node(n, testutil.Obedient, rev...)
		}
	}
	c.node("mute", testutil.Behavior{}, both...)
	c.node("slow", testutil.Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"ack_run"}}, rev...)
	ca, cb := c.client(c.a.url, testToken), c.client(c.b.url, testToken)
	waitAvailable(t, ca, append(obedient, "mute", "slow")...)
	epoch := epochOf(t, c.a.url)
	ctx := context.Background()

	// Five jobs on the obedient nodes, started alternately on a and b.
	for i := 0; i < 5; i++ {
		cl := []*client.Client{ca, cb}[i%2]
		waitAvailable(t, cl, obedient...)
		id, err := cl.StartJob(ctx, "default", client.JobSpec{Command: "chef-client", Nodes: obedient}, "")
		if err != nil {
			t.Fatal(err)
		}
		c.waitJob(cl, epoch, id, "complete")
		evs := c.checkOnce(epoch, id, "complete")
		if len(evs) != 1+4+1+4+4+1 {
			t.Fatalf("job %d: %d events: %v", i, len(evs), evs)
		}
	}
	// Timers on both processes: a voting timeout and a run timeout fire once.
	vote, err := ca.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1", "mute"}, Quorum: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	run, err := cb.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"slow"}, RunTimeout: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.waitJob(ca, epoch, vote, "complete")
	c.waitJob(cb, epoch, run, "timed_out")
	if evs := c.checkOnce(epoch, vote, "complete"); countEvents(evs, "quorum_vote", `"voting_timeout"`) != 1 {
		t.Fatalf("voting timeout: %v", evs)
	}
	if evs := c.checkOnce(epoch, run, "timed_out"); countEvents(evs, "rehab", `"slow"`) != 1 {
		t.Fatalf("run timeout: %v", evs)
	}

	// Kill both during voting and during running; the timers fire after the
	// restart.
	waitAvailable(t, ca, "n1", "mute", "slow")
	vote, err = cb.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"n1", "mute"}, Quorum: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	run, err = ca.StartJob(ctx, "default", client.JobSpec{Command: "x", Nodes: []string{"slow"}, RunTimeout: 3}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.waitJob(ca, epoch, run, "running")
	if s, _ := ca.GetJob(ctx, "default", vote); s.Status != "voting" {
		t.Fatalf("before the restart: %+v", s)
	}
	c.restart()
	c.waitJob(cb, epoch, vote, "complete")
	c.waitJob(ca, epoch, run, "timed_out")
	if evs := c.checkOnce(epoch, vote, "complete"); countEvents(evs, "quorum_vote", `"voting_timeout"`) != 1 {
		t.Fatalf("voting timeout after restart: %v", evs)
	}
	c.checkOnce(epoch, run, "timed_out")
	if strings.Contains(c.a.Logs()+c.b.Logs(), `"level":"ERROR"`) {
		t.Fatalf("errors logged:\n%s\n%s", c.a.Logs(), c.b.Logs())
	}
}

// TestPushyExternalNATS: herald serve --nats against a single JetStream
// server (not a cluster) creates the stream: it asks for 3 replicas and
// steps down to 1. Push jobs work on it.
func TestPushyExternalNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the herald binary")
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	p := startServe(t, append([]string{"--nats", ns.ClientURL(), "--data", t.TempDir()}, pushyTimerFlags...)...)
	c := &pushyCluster{t: t, a: p}
	c.node("n1", testutil.Obedient, p.url)
	cl := c.client(p.url, testToken)
	waitAvailable(t, cl, "n1")
	id, err := cl.StartJob(context.Background(), "default", client.JobSpec{Command: "x", Nodes: []string{"n1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.waitJob(cl, epochOf(t, p.url), id, "complete")
	var replicas int
	if jsz, err := ns.Jsz(&server.JSzOptions{Streams: true, Config: true}); err == nil {
		for _, a := range jsz.AccountDetails {
			for _, s := range a.Streams {
				if s.Name == "HERALD" && s.Config != nil {
					replicas = s.Config.Replicas
				}
			}
		}
	}
	if replicas != 1 {
		t.Fatalf("stream replicas %d, want 1 (stepped down from 3)", replicas)
	}
}
