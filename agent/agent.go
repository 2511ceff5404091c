package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald/client"
)

// Config configures an Agent.
type Config struct {
	Client    *client.Client // server and the node key's token
	Org, Node string
	Whitelist Whitelist
	Log       *slog.Logger
}

// Agent is one push-jobs node.
type Agent struct {
	cfg         Config
	log         *slog.Logger
	incarnation string
	base        string // /organizations/{org}/pushy/nodes/{node}

	mu        sync.Mutex
	committed *Job   // voted for, not yet run
	running   *run   // the running command, if any
	runID     string // its job
	voted     map[string]bool
	finished  map[string]bool // jobs this incarnation ran: never run twice
	interval  time.Duration

	outbox  chan message
	pending atomic.Int64 // messages queued or being sent
}

type message struct {
	Type   string `json:"type"`
	JobID  string `json:"job_id"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	key    string // Idempotency-Key: the same message is never applied twice
}

// New returns an agent; Run starts it.
func New(cfg Config) *Agent {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Agent{
		cfg: cfg, log: cfg.Log, incarnation: hex.EncodeToString(b),
		base:     "/organizations/" + url.PathEscape(cfg.Org) + "/pushy/nodes/" + url.PathEscape(cfg.Node),
		voted:    map[string]bool{},
		finished: map[string]bool{},
		interval: 10 * time.Second,
		outbox:   make(chan message, 1024),
	}
}

// Pending is how many messages the server has not acknowledged yet.
func (a *Agent) Pending() int { return int(a.pending.Load()) }

// Incarnation identifies this run of the agent; a restart is a new one.
func (a *Agent) Incarnation() string { return a.incarnation }

// Run heartbeats and follows the command feed until ctx ends or the server
// refuses the node (wrong token or node: a *client.Error).
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.heartbeats(ctx) }()
	go func() { defer wg.Done(); a.sender(ctx) }()
	err := a.cfg.Client.Subscribe(ctx, a.base+"/commands", client.FeedOptions{
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second,
		OnReconnect: func(n int, d time.Duration, err error) {
			a.log.Warn("command feed lost; reconnecting", "attempt", n, "in", d, "err", err)
		},
	}, a.handle)
	cancel()
	wg.Wait()
	a.mu.Lock()
	if a.running != nil {
		a.running.kill(true)
	}
	a.mu.Unlock()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// handle reacts to one command: commit, run or abort.
func (a *Agent) handle(e client.Event) error {
	var job Job
	if err := json.Unmarshal([]byte(e.Data), &job); err != nil {
		a.log.Warn("unreadable command", "event", e.Type, "err", err)
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e.Type {
	case "commit":
		if a.voted[job.ID] || a.finished[job.ID] {
			return nil // already answered; the outbox delivers the vote
		}
		a.voted[job.ID] = true
		_, ok := a.cfg.Whitelist[job.Command]
		switch {
		case a.running != nil || (a.committed != nil && a.committed.ID != job.ID):
			a.log.Info("nack commit", "job", job.ID, "why", errBusy)
			a.send("nack_commit", job.ID, "", "")
		case !ok:
			a.log.Info("nack commit", "job", job.ID, "command", job.Command, "why", errNotWhitelisted)
			a.send("nack_commit", job.ID, "", "")
		default:
			j := job
			a.committed = &j
			a.send("ack_commit", job.ID, "", "")
		}
	case "run":
		if a.finished[job.ID] || a.runID == job.ID {
			return nil // never run a job twice
		}
		if a.committed == nil || a.committed.ID != job.ID {
			a.send("nack_run", job.ID, "", "")
			return nil
		}
		a.startLocked(*a.committed)
	case "abort":
		if a.running != nil && (job.ID == "" || job.ID == a.runID) {
			a.running.kill(true) // the run's end reports "aborted"
			return nil
		}
		if a.committed != nil && (job.ID == "" || job.ID == a.committed.ID) {
			a.finished[a.committed.ID] = true
			a.committed = nil
		}
		a.send("aborted", job.ID, "", "")
	}
	return nil
}

// startLocked runs a committed job (a.mu held).
func (a *Agent) startLocked(job Job) {
	a.committed = nil
	a.finished[job.ID] = true
	line := a.cfg.Whitelist[job.Command]
	a.send("ack_run", job.ID, "", "")
	r, wait, err := start(job, line)
	if err != nil {
		a.log.Warn("could not start", "job", job.ID, "err", err)
		a.send("failed", job.ID, "", capture(job, err.Error()))
		return
	}
	a.running, a.runID = r, job.ID
	a.log.Info("running", "job", job.ID, "command", job.Command)
	go func() {
		res := wait()
		a.mu.Lock()
		defer a.mu.Unlock()
		a.running, a.runID = nil, ""
		switch {
		case res.Aborted:
			a.send("aborted", job.ID, "", "")
		case res.Succeeded:
			a.send("succeeded", job.ID, res.Stdout, res.Stderr)
		default:
			a.send("failed", job.ID, res.Stdout, res.Stderr)
		}
		a.log.Info("finished", "job", job.ID, "succeeded", res.Succeeded, "aborted", res.Aborted, "timed_out", res.TimedOut)
	}()
}

func capture(job Job, s string) string {
	if job.CaptureOutput {
		return s
	}
	return ""
}

// send queues a message; the sender delivers them in order.
func (a *Agent) send(typ, jobID, stdout, stderr string) {
	m := message{Type: typ, JobID: jobID, Stdout: stdout, Stderr: stderr,
		key: fmt.Sprintf("%s-%s-%s", a.incarnation, jobID, typ)}
	a.pending.Add(1)
	select {
	case a.outbox <- m:
	default:
		a.pending.Add(-1)
		a.log.Error("outbox full; dropping a message", "type", typ, "job", jobID)
	}
}

// sender delivers queued messages in order, retrying each until the server
// answers; a retried message carries the same Idempotency-Key, so a
// network cut never makes the server apply it twice.
func (a *Agent) sender(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-a.outbox:
			for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
				err := a.cfg.Client.Do(ctx, "POST", a.base+"/messages", m, nil, m.key)
				var ce *client.Error
				if err == nil || (errors.As(err, &ce) && ce.Status < 500 && ce.Status != 429) {
					if err != nil {
						a.log.Warn("message refused", "type", m.Type, "job", m.JobID, "err", err)
					}
					a.pending.Add(-1)
					break
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(delay):
				}
			}
		}
	}
}

// heartbeats tells the server the node is alive, at the server's pace.
func (a *Agent) heartbeats(ctx context.Context) {
	for {
		a.mu.Lock()
		body := map[string]string{"incarnation": a.incarnation}
		if a.runID != "" {
			body["job_id"] = a.runID
		}
		interval := a.interval
		a.mu.Unlock()
		var out struct {
			Interval string `json:"heartbeat_interval"`
		}
		if err := a.cfg.Client.Do(ctx, "POST", a.base+"/heartbeat", body, &out, ""); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("heartbeat failed", "err", err)
			}
		} else if d, err := time.ParseDuration(out.Interval); err == nil && d > 0 {
			a.mu.Lock()
			a.interval, interval = d, d
			a.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
