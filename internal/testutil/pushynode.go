package testutil

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/herald-sse/herald/client"
	"github.com/herald-sse/herald/sse"
)

// Behavior is how a scripted node answers commands: the message types it
// sends, in order, for a commit and for a run. An abort is always answered
// aborted. Nil slices send nothing (a silent node).
type Behavior struct {
	OnCommit []string
	OnRun    []string
	// RunDelay is how long the node waits before answering a run (so a
	// test can open a job's feed while the job still runs).
	RunDelay time.Duration
}

// Obedient acks every commit and run and succeeds.
var Obedient = Behavior{OnCommit: []string{"ack_commit"}, OnRun: []string{"ack_run", "succeeded"}}

// PushyNode is a scripted push node: a real HTTP client of the node
// protocol (SPEC §5.5). It heartbeats, follows its command feed (resuming
// with Last-Event-ID), and answers commands as its Behavior says, every
// message with an Idempotency-Key and retried until the server answers.
type PushyNode struct {
	Org, Name, Token string
	// Servers are herald base URLs. Heartbeats, the command feed and
	// messages use Servers[0] and fail over to the next one while it does
	// not answer (as behind a load balancer); messages go to every server
	// at once when Both is set (the same Idempotency-Key: the store applies
	// one).
	Servers []string
	Both    bool
	Do      Behavior
	// Output, when set, is sent as stdout with succeeded/failed.
	Output string

	incarnation string
	mu          sync.Mutex
	job         string      // the job it runs, reported in heartbeats
	cur         int         // index of the server in use
	received    []sse.Event // every command received
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	hc          *http.Client
}

// StartPushyNode starts a scripted node; it stops with the test.
func StartPushyNode(n *PushyNode) *PushyNode {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.incarnation = randomHex(8)
	n.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	first := make(chan struct{})
	n.wg.Add(2)
	go n.heartbeats(ctx, first)
	go func() {
		defer n.wg.Done()
		select {
		case <-first: // heartbeat before the command feed: owed commands are ours
		case <-ctx.Done():
			return
		}
		n.follow(ctx)
	}()
	return n
}

// Stop ends the node (as a killed agent: no more heartbeats).
func (n *PushyNode) Stop() {
	n.cancel()
	n.wg.Wait()
	n.hc.CloseIdleConnections()
}

// Received returns the commands received so far.
func (n *PushyNode) Received() []sse.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]sse.Event(nil), n.received...)
}

func (n *PushyNode) client(server string) *client.Client {
	// Retries: -1: the node retries itself, failing over to the next server.
	return &client.Client{Server: server, Token: n.Token, HTTP: n.hc, Retries: -1}
}

func (n *PushyNode) heartbeats(ctx context.Context, first chan struct{}) {
	defer n.wg.Done()
	interval := 100 * time.Millisecond
	once := false
	for {
		n.mu.Lock()
		job := n.job
		n.mu.Unlock()
		d, err := n.client(n.server()).Heartbeat(ctx, n.Org, n.Name, n.incarnation, job)
		if err != nil {
			n.failover()
		} else {
			interval = d
			if !once {
				once = true
				close(first)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// follow reads the command feed until ctx ends, reconnecting with the last
// id it saw.
func (n *PushyNode) follow(ctx context.Context) {
	last := ""
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", n.server()+client.CommandsPath(n.Org, n.Name), nil)
		req.Header.Set("Authorization", "Bearer "+n.Token)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := n.hc.Do(req)
		if err == nil && resp.StatusCode == http.StatusOK {
			r := sse.NewReader(bufio.NewReader(resp.Body))
			for {
				e, err := r.Next()
				if err != nil {
					break
				}
				if e.ID != "" {
					last = e.ID
				}
				n.mu.Lock()
				n.received = append(n.received, e)
				n.mu.Unlock()
				n.answer(ctx, e)
			}
		}
		if resp != nil {
			resp.Body.Close()
		} else {
			n.failover()
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *PushyNode) answer(ctx context.Context, e sse.Event) {
	var d struct {
		JobID string `json:"job_id"`
	}
	if json.Unmarshal([]byte(e.Data), &d) != nil {
		return
	}
	var msgs []string
	switch e.Type {
	case "commit":
		msgs = n.Do.OnCommit
	case "run":
		msgs = n.Do.OnRun
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.Do.RunDelay):
		}
	case "abort":
		msgs = []string{"aborted"}
	}
	for _, t := range msgs {
		switch t {
		case "ack_run":
			n.setJob(d.JobID)
		case "succeeded", "failed", "nack_run", "aborted":
			n.setJob("")
		}
		m := client.NodeMessage{Type: t, JobID: d.JobID}
		if n.Output != "" && (t == "succeeded" || t == "failed") {
			out := n.Output
			m.Stdout = &out
		}
		n.Send(ctx, m)
	}
}

// server is the server in use.
func (n *PushyNode) server() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.Servers[n.cur%len(n.Servers)]
}

// failover moves to the next server.
func (n *PushyNode) failover() {
	n.mu.Lock()
	n.cur++
	n.mu.Unlock()
}

func (n *PushyNode) setJob(id string) {
	n.mu.Lock()
	n.job = id
	n.mu.Unlock()
}

// Send sends one message (to every server at once when Both is set),
// retrying until a server answers anything but a server error.
func (n *PushyNode) Send(ctx context.Context, m client.NodeMessage) {
	key := randomHex(16)
	servers := []string{""} // the one in use
	if n.Both {
		servers = n.Servers
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				target := s
				if target == "" {
					target = n.server()
				}
				_, err := n.client(target).SendNodeMessage(ctx, n.Org, n.Name, m, key)
				var ce *client.Error
				if err == nil || errors.As(err, &ce) && ce.Status < 500 {
					return
				}
				if s == "" {
					n.failover()
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	wg.Wait()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
