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
	// Env decides what a job's environment holds (the zero value is safe).
	Env EnvPolicy
	// GiveUpAfter is how long the server may refuse the node (401, 403,
	// 404 on heartbeats and the command feed, with no success between)
	// before Run ends; DefaultGiveUpAfter when zero.
	GiveUpAfter time.Duration
	// TimeoutGrace is how long after a job's run_timeout the agent stops
	// the command itself if the server has not sent abort by then;
	// DefaultTimeoutGrace when zero.
	TimeoutGrace time.Duration
	Log          *slog.Logger
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
	reporting string // the job run last, until the server has its end report: heartbeats name it meanwhile
	voted     map[string]bool
	finished  map[string]bool // jobs this incarnation ran: never run twice
	interval  time.Duration
	lastID    string // the command feed's last event id

	refusals refusals
	events   atomic.Int64  // commands received
	wake     chan struct{} // a heartbeat got through again: retry the message now
	outbox   chan message
	pending  atomic.Int64 // messages queued or being sent
	noReason atomic.Bool  // the server refused a message's reason: send none
}

type message struct {
	Type   string `json:"type"`
	JobID  string `json:"job_id"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Reason says shortly why a vote or a run failed ("command not in
	// whitelist", "exit status 2").
	Reason string `json:"reason,omitempty"`
	key    string // Idempotency-Key: the same message is never applied twice
}

// New returns an agent; Run starts it.
func New(cfg Config) *Agent {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = DefaultGiveUpAfter
	}
	if cfg.TimeoutGrace <= 0 {
		cfg.TimeoutGrace = DefaultTimeoutGrace
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
		refusals: refusals{giveUp: cfg.GiveUpAfter},
		wake:     make(chan struct{}, 1),
	}
}

// Pending is how many messages the server has not acknowledged yet.
func (a *Agent) Pending() int { return int(a.pending.Load()) }

// Incarnation identifies this run of the agent; a restart is a new one.
func (a *Agent) Incarnation() string { return a.incarnation }

// Run heartbeats and follows the command feed until ctx ends. A server
// that restarts (connection errors, 5xx, or 401/403/404 while it does not
// know the node yet) is retried with backoff of at most maxRetry; Run
// ends with an error only when the server has refused the node for
// GiveUpAfter without a single success, or answers the feed with another
// 4xx (which retrying cannot fix).
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.heartbeats(ctx, cancel) }()
	go func() { defer wg.Done(); a.sender(ctx) }()
	err := a.follow(ctx)
	cancel(err)
	wg.Wait()
	a.mu.Lock()
	if a.running != nil {
		a.running.kill(true)
	}
	a.mu.Unlock()
	if err != nil {
		return err
	}
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause // the heartbeats gave up
	}
	return nil
}

// follow reads the command feed, reconnecting (and resuming after the last
// event) whatever ends it, until ctx ends or the server refuses the node
// for good.
func (a *Agent) follow(ctx context.Context) error {
	var delay time.Duration
	failing := false
	for {
		seen := a.events.Load()
		a.mu.Lock()
		last := a.lastID
		a.mu.Unlock()
		err := a.cfg.Client.Subscribe(ctx, a.base+"/commands", client.FeedOptions{
			LastEventID: last, MinBackoff: 200 * time.Millisecond, MaxBackoff: maxRetry,
			OnReconnect: func(n int, d time.Duration, err error) {
				if n == 1 {
					a.log.Warn("command feed lost; reconnecting", "in", d, "err", err)
				} else {
					a.log.Debug("command feed still lost; reconnecting", "attempt", n, "in", d, "err", err)
				}
			},
		}, a.handle)
		if ctx.Err() != nil {
			return nil
		}
		if a.events.Load() != seen {
			delay, failing = 0, false
		}
		switch {
		case err == nil:
			a.log.Warn("command feed ended; reconnecting")
		case classify(err) == permanent:
			return fmt.Errorf("command feed: %w", err)
		case classify(err) == refusal:
			if gerr := a.refusals.refused(err); gerr != nil {
				return gerr
			}
			if !failing {
				a.log.Warn("the server refuses the command feed (restarting?); retrying", "err", err,
					"gives_up_after", a.cfg.GiveUpAfter)
			}
			failing = true
		}
		delay = nextDelay(delay)
		if !sleep(ctx, delay) {
			return nil
		}
	}
}

// sleep waits d or until ctx ends (then it returns false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// handle reacts to one command: commit, run or abort.
func (a *Agent) handle(e client.Event) error {
	var job Job
	if err := json.Unmarshal([]byte(e.Data), &job); err != nil {
		a.log.Warn("unreadable command", "event", e.Type, "err", err)
		return nil
	}
	a.events.Add(1)
	a.refusals.ok()
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.ID != "" {
		a.lastID = e.ID
	}
	switch e.Type {
	case "commit":
		if a.voted[job.ID] || a.finished[job.ID] {
			return nil // already answered; the outbox delivers the vote
		}
		a.voted[job.ID] = true
		var why error
		_, ok := a.cfg.Whitelist[job.Command]
		switch {
		case a.running != nil || (a.committed != nil && a.committed.ID != job.ID):
			why = errBusy
		case !ok:
			why = errNotWhitelisted
		default:
			if why = checkJobEnv(job.Env); why == nil {
				why = canRun(job)
			}
		}
		if why != nil {
			a.log.Info("nack commit", "job", job.ID, "command", job.Command, "why", why)
			a.send(message{Type: "nack_commit", JobID: job.ID, Reason: why.Error()})
			return nil
		}
		j := job
		a.committed = &j
		a.send(message{Type: "ack_commit", JobID: job.ID})
	case "run":
		if a.finished[job.ID] || a.runID == job.ID {
			return nil // never run a job twice
		}
		if a.committed == nil || a.committed.ID != job.ID {
			a.send(message{Type: "nack_run", JobID: job.ID, Reason: "no commit for this job"})
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
		a.send(message{Type: "aborted", JobID: job.ID})
	}
	return nil
}

// startLocked runs a committed job (a.mu held).
func (a *Agent) startLocked(job Job) {
	a.committed = nil
	a.finished[job.ID] = true
	line := a.cfg.Whitelist[job.Command]
	a.send(message{Type: "ack_run", JobID: job.ID})
	a.reporting = job.ID
	r, wait, err := startRun(job, line, a.cfg.Env, a.cfg.Node, a.cfg.TimeoutGrace)
	if err != nil {
		a.log.Warn("could not start", "job", job.ID, "err", err)
		a.send(message{Type: "failed", JobID: job.ID, Stderr: capture(job, err.Error()), Reason: err.Error()})
		return
	}
	a.running, a.runID = r, job.ID
	a.log.Info("running", "job", job.ID, "command", job.Command)
	go func() {
		res := wait()
		a.mu.Lock()
		defer a.mu.Unlock()
		a.running, a.runID = nil, ""
		m := message{Type: "failed", JobID: job.ID, Stdout: res.Stdout, Stderr: res.Stderr, Reason: res.Reason}
		switch {
		case res.Aborted:
			m = message{Type: "aborted", JobID: job.ID}
		case res.Succeeded:
			m.Type = "succeeded"
		}
		a.send(m)
		a.log.Info("finished", "job", job.ID, "succeeded", res.Succeeded, "aborted", res.Aborted, "timed_out", res.TimedOut,
			"reason", res.Reason)
	}()
}

func capture(job Job, s string) string {
	if job.CaptureOutput {
		return s
	}
	return ""
}

// send queues a message; the sender delivers them in order.
func (a *Agent) send(m message) {
	m.Reason = shortReason(m.Reason)
	m.key = fmt.Sprintf("%s-%s-%s", a.incarnation, m.JobID, m.Type)
	a.pending.Add(1)
	select {
	case a.outbox <- m:
	default:
		a.pending.Add(-1)
		a.log.Error("outbox full; dropping a message", "type", m.Type, "job", m.JobID)
	}
}

// sender delivers queued messages in order, retrying each until the server
// answers; a retried message carries the same Idempotency-Key, so a
// network cut never makes the server apply it twice. A message the server
// refuses (401, 403, 404: it may be restarting) is retried for
// messageRefusalWindow, then dropped; another 4xx drops it at once.
func (a *Agent) sender(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-a.outbox:
			if !a.deliver(ctx, m) {
				return
			}
			a.pending.Add(-1)
		}
	}
}

// deliver sends one message until it is answered or given up; it returns
// false when ctx ended first.
func (a *Agent) deliver(ctx context.Context, m message) bool {
	var delay time.Duration
	var refusedSince time.Time
	for {
		if m.Reason != "" && a.noReason.Load() {
			m.Reason, m.key = "", m.key+"-plain"
		}
		err := a.cfg.Client.Do(ctx, "POST", a.base+"/messages", m, nil, m.key)
		if err == nil {
			a.delivered(m)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		switch classify(err) {
		case permanent:
			if m.Reason != "" && refusesReason(err) {
				// A server from before the reason field: the message
				// without it.
				a.log.Info("the server does not take a message's reason; sending messages without")
				a.noReason.Store(true)
				continue
			}
			a.log.Warn("message refused", "type", m.Type, "job", m.JobID, "err", err)
			a.delivered(m)
			return true
		case refusal:
			if refusedSince.IsZero() {
				refusedSince = time.Now()
			} else if time.Since(refusedSince) > messageRefusalWindow {
				a.log.Warn("message refused; dropped", "type", m.Type, "job", m.JobID, "err", err,
					"refused_for", time.Since(refusedSince).Round(time.Second))
				a.delivered(m)
				return true
			}
		}
		delay = nextDelay(delay)
		a.log.Debug("message not delivered; retrying", "type", m.Type, "job", m.JobID, "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-a.wake:
			delay = 0
		case <-t.C:
		}
		t.Stop()
	}
}

// delivered notes that the server has answered m: once it has a run's end
// report, heartbeats stop naming that job.
func (a *Agent) delivered(m message) {
	switch m.Type {
	case "succeeded", "failed", "aborted":
		a.mu.Lock()
		if a.reporting == m.JobID {
			a.reporting = ""
		}
		a.mu.Unlock()
	}
}

// heartbeats tells the server the node is alive, at the server's pace; a
// failed heartbeat is retried sooner (backoff up to maxRetry), so the node
// is back online within moments of a restarted server. It ends Run
// (giveUp) when the server has refused the node for GiveUpAfter.
func (a *Agent) heartbeats(ctx context.Context, giveUp context.CancelCauseFunc) {
	var retry time.Duration
	for {
		a.mu.Lock()
		body := map[string]string{"incarnation": a.incarnation}
		if a.runID != "" {
			body["job_id"] = a.runID
		} else if a.reporting != "" {
			body["job_id"] = a.reporting // ended, but the server does not know yet
		}
		interval := a.interval
		a.mu.Unlock()
		var out struct {
			Interval string `json:"heartbeat_interval"`
		}
		err := a.cfg.Client.Do(ctx, "POST", a.base+"/heartbeat", body, &out, "")
		wait := interval
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			a.refusals.ok()
			if retry > 0 {
				a.log.Info("heartbeat accepted again")
				select {
				case a.wake <- struct{}{}:
				default:
				}
			}
			retry = 0
			if d, err := time.ParseDuration(out.Interval); err == nil && d > 0 {
				a.mu.Lock()
				a.interval, wait = d, d
				a.mu.Unlock()
			}
		default:
			if classify(err) == refusal {
				if gerr := a.refusals.refused(err); gerr != nil {
					giveUp(gerr)
					return
				}
			}
			if retry == 0 {
				a.log.Warn("heartbeat failed; retrying", "err", err)
			} else {
				a.log.Debug("heartbeat failed again", "err", err)
			}
			retry = nextDelay(retry)
			wait = min(interval, retry)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}
