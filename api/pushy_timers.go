package api

import (
	"context"
	"net/http"
	"time"

	"github.com/herald-sse/herald/lifecycle"
)

// pushyTick is how often the push-jobs timers are checked: a tenth of the
// shorter of the heartbeat interval and the voting timeout, between 10 ms
// and 1 s.
func (a *API) pushyTick() time.Duration {
	return min(max(min(a.heartbeatInterval(), a.votingTimeout())/10, 10*time.Millisecond), time.Second)
}

// pushyTimers fires the push-jobs timers until ctx ends. Deadlines live in
// the snapshots (a job's voting and run deadlines, a node's heartbeat
// expiry); every herald process scans its views and fires what is due with
// a compare-and-set write, so with several processes each transition
// happens once (the loser re-decides on fresh state and finds nothing to
// do), and after a restart the timers are re-derived from the views.
//
// Node expiry waits one expiry period after the process is ready (see
// nodeGrace).
func (a *API) pushyTimers(ctx context.Context) {
	tick := time.NewTicker(a.pushyTick())
	defer tick.Stop()
	var nextCompact, lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !a.ready.Load() {
			continue
		}
		now := time.Now()
		if nextCompact.IsZero() {
			a.pushy.readyAt.Store(now.UnixNano())
			nextCompact = now.Add(a.compactEvery())
		}
		err := a.fireJobTimers(ctx, now)
		if !a.nodeGrace(now) {
			if e := a.fireNodeDowns(ctx, now); err == nil {
				err = e
			}
		}
		if now.After(nextCompact) {
			nextCompact = now.Add(a.compactEvery())
			for _, subj := range a.views.NodesToCompact() {
				if e := a.store.Compact(ctx, subj, 1); e != nil && err == nil {
					err = e
				}
			}
		}
		if err != nil && ctx.Err() == nil && now.Sub(lastWarn) > 10*time.Second {
			lastWarn = now
			a.log.Warn("push-jobs timer failed; retrying", "err", err)
		}
	}
}

// compactEvery is how often node presence histories are compacted.
func (a *API) compactEvery() time.Duration {
	return min(max(10*a.heartbeatInterval(), time.Second), time.Minute)
}

// fireJobTimers fires the voting and run deadlines that are due.
func (a *API) fireJobTimers(ctx context.Context, now time.Time) error {
	var first error
	for _, e := range a.views.DueJobs(now) {
		err := a.jobStep(ctx, e.Job.Domain, e.Job.ID, func(j lifecycle.Job, now time.Time) (lifecycle.Job, []lifecycle.Event, []lifecycle.Command, error) {
			if j.Status == lifecycle.JobVoting {
				return j.VotingTimeout(now)
			}
			return j.RunTimeout(now)
		})
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// fireNodeDowns takes the nodes that missed their heartbeats down: first in
// each live job they are engaged in, then in their presence, so that a crash
// between the two is finished by the next scan.
func (a *API) fireNodeDowns(ctx context.Context, now time.Time) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, d := range a.views.NodesDown(now) {
		for _, id := range d.Jobs {
			keep(a.jobStep(ctx, d.Domain, id, func(j lifecycle.Job, now time.Time) (lifecycle.Job, []lifecycle.Event, []lifecycle.Command, error) {
				if n, ok := a.views.Node(d.Domain, d.Name); ok && n.State.OnlineAt(now) {
					return j, nil, nil, nil // it heartbeated meanwhile
				}
				return j.NodeDown(d.Name, lifecycle.MissedHeartbeats, now)
			}))
		}
		if !d.MarkOffline {
			continue
		}
		keep(a.systemCommit(ctx, func() (change, any, error) {
			e, ok := a.views.Node(d.Domain, d.Name)
			if !ok || !e.State.Online || e.State.OnlineAt(time.Now()) {
				return change{}, nil, errNoChange // gone, or it heartbeated meanwhile
			}
			next := e.State
			next.Online = false
			return nodeChange(next, e.Seq, http.StatusOK), struct{}{}, nil
		}))
	}
	return first
}
