package agent_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/agent"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/internal/testutil"
)

// switchProxy forwards loopback TCP; Cut closes every connection and
// refuses new ones until Restore: a network cut.
type switchProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *switchProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *switchProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestAgentCutOffLongerThanRunTimeout: the network between an agent and
// the server is cut while it runs a job, for longer than the job's run
// timeout. The server ends the job without the node; the agent finishes
// its run once, never runs the job again, and when the network is back it
// reports, answers the server's rehab and is available again.
func TestAgentCutOffLongerThanRunTimeout(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) {
		c.HeartbeatInterval = 200 * time.Millisecond
		c.VotingTimeout = 5 * time.Second
	}))
	ctx := context.Background()
	nodeKey := s.CreateKey(t, "node", "default", nil, "n1")
	proxy := newSwitchProxy(t, strings.TrimPrefix(s.URL, "http://"))
	ran := filepath.Join(t.TempDir(), "ran")
	a := agent.New(agent.Config{
		Client:    &client.Client{Server: "http://" + proxy.ln.Addr().String(), Token: nodeKey.Token},
		Org:       "default",
		Node:      "n1",
		Whitelist: agent.Whitelist{"work": "echo ran >> " + ran + "; sleep 1"},
	})
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { stop(); <-done }()

	admin := s.Admin()
	available := func() bool {
		states, err := admin.NodeStates(ctx, "default")
		return err == nil && len(states) == 1 && states[0].Status == "online" && states[0].Availability == "available"
	}
	waitFor(t, "the node to be available", 10*time.Second, available)

	id, err := admin.StartJob(ctx, "default", client.JobSpec{Command: "work", Nodes: []string{"n1"}, RunTimeout: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run to start", 10*time.Second, func() bool {
		_, err := os.Stat(ran)
		return err == nil
	})
	proxy.Cut() // for 3 s: longer than the run timeout (1 s) and 3 heartbeats
	waitFor(t, "the server to end the job", 10*time.Second, func() bool {
		j, err := admin.GetJob(ctx, "default", id)
		return err == nil && j.Status != "running" && j.Status != "voting"
	})
	time.Sleep(2 * time.Second)
	if a.Pending() == 0 {
		t.Fatal("the agent has no report waiting for the network")
	}
	proxy.Restore()
	// The late report reaches the server, which sends the node to rehab;
	// the agent answers "aborted" and the node is available again.
	waitFor(t, "the agent's late report to be delivered", 15*time.Second, func() bool { return a.Pending() == 0 })
	waitFor(t, "the node to be available again", 15*time.Second, available)
	time.Sleep(time.Second) // a wrong agent would run the job again now

	b, _ := os.ReadFile(ran)
	if n := strings.Count(string(b), "ran"); n != 1 {
		t.Fatalf("the job ran %d times", n)
	}
	j, err := admin.GetJob(ctx, "default", id)
	if err != nil {
		t.Fatal(err)
	}
	// The server decided without the node: it timed out or died while
	// running; the late report does not change that.
	if !(j.Status == "timed_out" && len(j.Nodes["timed_out"]) == 1) && !(j.Status == "complete" && len(j.Nodes["crashed"]) == 1) {
		t.Fatalf("job after the cut: %+v", j)
	}
	// Exactly one job_complete in the job's history.
	n := 0
	f := s.OpenFeed(t, "/organizations/default/pushy/job_status_feed/"+id, s.Token,
		map[string]string{"Last-Event-ID": herald0(s)})
	for {
		e, err := f.Next()
		if err != nil {
			break
		}
		if e.Type == "job_complete" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d job_complete events", n)
	}
}

// herald0 is an id of this store before anything else: resuming after it
// replays a job's whole history.
func herald0(s *testutil.Server) string { return s.Store.Epoch() + "-1" }
