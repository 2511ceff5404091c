package api

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/store"
)

// catchUpCheck is how often, while the views catch up, the store is asked
// whether records up to the target remain to be read: records purged by
// retention (or lost) since the target was taken never reach the tail.
const catchUpCheck = 250 * time.Millisecond

// retryAfterSeconds is the Retry-After of every 503 answer.
const retryAfterSeconds = "1"

// catchUp is the progress of the views catching up with the store at
// start. Records up to target were written before this process started:
// they are replayed into the views and the replay cache, never dispatched
// to live subscribers.
type catchUp struct {
	began   atomic.Int64  // unix ns when Run started
	target  atomic.Uint64 // the store's last sequence when Run started
	applied atomic.Uint64 // the last sequence the tail handed over
	records atomic.Uint64 // records replayed up to target
	took    atomic.Int64  // ns from began to ready
}

// CatchUp reports the catch-up at start: the records replayed, the
// sequence it caught up to, and how long it took (0 while not ready).
func (a *API) CatchUp() (records, target uint64, took time.Duration) {
	return a.catch.records.Load(), a.catch.target.Load(), time.Duration(a.catch.took.Load())
}

// errStarting answers every gated request until the API is open.
var errStarting = &herald.Error{Code: herald.EUnavailable,
	Detail: "herald is starting: its views are catching up with the store; retry shortly (see /readyz)"}

// open reports whether the API answers requests: its views caught up with
// the store and Bootstrap ran. Before, a valid token or id could look
// unknown, so every gated request gets 503 with Retry-After instead.
func (a *API) open() bool { return a.ready.Load() && a.booted.Load() }

// ungated reports whether path is served before the API is open: the
// probes and the metrics.
func ungated(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// caughtUp marks the views as caught up at seq (once) and logs it.
func (a *API) caughtUp(seq uint64) {
	if !a.ready.CompareAndSwap(false, true) {
		return
	}
	took := time.Since(time.Unix(0, a.catch.began.Load()))
	a.catch.took.Store(int64(took))
	a.log.Info("views caught up with the store", "seq", seq, "records", a.catch.records.Load(),
		"took", took.Round(time.Millisecond).String())
	close(a.readyC) // after the log line: whoever waited for ready finds it
}

// errFound stops a store read at the first record.
var errFound = errors.New("found")

// watchCatchUp ends the catch-up when nothing is left to read up to
// target: the records after the last one applied were purged or lost,
// and the tail would otherwise wait for them until the next write.
func (a *API) watchCatchUp(ctx context.Context, target uint64) {
	t := time.NewTicker(catchUpCheck)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.readyC:
			return
		case <-t.C:
		}
		applied := a.catch.applied.Load()
		err := a.store.Read(ctx, "herald.>", applied, target, func(store.Msg) error { return errFound })
		switch {
		case errors.Is(err, errFound):
		case err != nil:
			if ctx.Err() == nil && !warned {
				warned = true
				a.log.Warn("catching up: cannot read the store", "applied", applied, "target", target, "err", err)
			}
		default:
			a.log.Warn("catching up: the records after the last one applied are gone (purged or lost)",
				"applied", applied, "target", target)
			a.caughtUp(applied)
		}
	}
}
