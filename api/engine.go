package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store"
)

// Run follows the store: every record is folded into the views, then its
// events are encoded once and dispatched to live subscribers. Records the
// store held when Run started are replayed: they go into the views and the
// replay cache, never to live subscribers (they are not new). It also runs
// the retention janitor. It returns when ctx ends.
func (a *API) Run(ctx context.Context) error {
	start := time.Now()
	_, last, _, err := a.store.Info(ctx)
	if err != nil {
		return err
	}
	a.catch.target.Store(last)
	a.catch.began.Store(start.UnixNano()) // after target: /readyz shows both
	if last == 0 {
		a.caughtUp(0)
	} else {
		go a.watchCatchUp(ctx, last)
	}
	// Run owns its background loops: they stop with it and it waits for them.
	ctx, stop := context.WithCancel(ctx)
	var loops sync.WaitGroup
	defer loops.Wait()
	defer stop()
	loops.Go(func() { a.janitor(ctx) })
	loops.Go(func() { a.pushyTimers(ctx) })
	loops.Go(func() { a.staleTasks(ctx) }) // --task-stale-after (taskstale.go)
	loops.Go(func() { a.runWheel(ctx) })
	loops.Go(func() { a.gone.run(ctx, a.lookGone) })
	// New records are fanned out by a goroutine of their own, behind the
	// tail: applying a record (which acknowledges its write) never waits
	// for the fan-out of the records before it (fanout.go).
	fan := make(chan *store.Msg, fanoutQueue)
	var fanning sync.WaitGroup
	fanning.Go(func() { a.fanOut(fan) })
	defer fanning.Wait()
	defer close(fan)
	err = a.store.Tail(ctx, 1, func(m store.Msg) error {
		if err := a.views.Apply(&m); err != nil {
			// A record this version cannot read must not stop the others.
			a.log.Error("skipping unreadable record", "seq", m.Seq, "err", err)
			a.metrics.skippedApply.Add(1)
		}
		if m.Seq <= last {
			// Catching up: the records go to the history in line, so
			// the hub has them all before the API opens (caughtUp).
			a.catch.records.Add(1)
			a.replayed(&m)
			a.fanned.Advance(m.Seq)
		} else {
			select {
			case fan <- &m:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		a.catch.applied.Store(m.Seq)
		if m.Seq >= last && !a.ready.Load() {
			a.caughtUp(m.Seq)
		}
		return nil
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// dispatch encodes the record's events once and hands them to the hub.
func (a *API) dispatch(m *store.Msg) {
	topics := topicsOf(m)
	if d := a.delivery(m, topics); d != nil && a.hub.Dispatch(d, topics...) {
		a.fanning.mark(m.Record.Domain)
	}
}

// replayed hands a record replayed at start to the hub without topics:
// it is remembered for resuming clients (History) and moves the hub's
// position, but reaches no live subscriber.
func (a *API) replayed(m *store.Msg) {
	if d := a.delivery(m, topicsOf(m)); d != nil {
		a.hub.Dispatch(d)
	}
}

// delivery encodes the record's events once, or advances the hub past a
// record without topics or events and returns nil.
func (a *API) delivery(m *store.Msg, topics []string) *hub.Delivery {
	if !hasDeliverables(&m.Record) || len(topics) == 0 {
		a.hub.Advance(m.Seq)
		return nil
	}
	d := &hub.Delivery{Seq: m.Seq, Msg: m, Frames: make([][]byte, len(m.Record.Events))}
	for i, e := range m.Record.Events {
		d.Frames[i] = a.frame(nil, m.Seq, i, e.Name, e.Data)
	}
	if m.Record.Kind == "job" {
		a.prepareJobDelivery(d) // organization-feed and node-command frames
	}
	return d
}

// frame encodes event i of record seq as one SSE frame.
func (a *API) frame(dst []byte, seq uint64, i int, name string, data []byte) []byte {
	id := herald.ID{Epoch: a.store.Epoch(), Seq: seq, Idx: uint32(i)}
	if n, ok := a.renames[name]; ok {
		name = n // --task-event-names (tasknames.go)
	}
	var idb [48]byte
	return sse.AppendEvent(dst, name, string(id.AppendTo(idb[:0])), data)
}

// topicsOf is what a record is routed on; each feed subscribes to one.
func topicsOf(m *store.Msg) []string {
	r := &m.Record
	switch r.Kind {
	case "task":
		return []string{"task/" + r.Entity}
	case "session":
		return sessionTopics(r)
	case "job", "node":
		return pushyTopics(r)
	}
	return nil
}

// janitor purges the history of entities that finished more than the
// retention ago, once a minute (and at start).
func (a *API) janitor(ctx context.Context) {
	if a.WaitReady(ctx) != nil {
		return // partial views could judge a live entity expired
	}
	every := time.Minute
	if a.cfg.Retention < 4*every {
		every = a.cfg.Retention / 4
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := time.Now()
		var purged []string
		for _, subj := range a.views.Expired(now.Add(-a.cfg.Retention), now.Add(-time.Hour)) {
			if err := a.store.Purge(ctx, subj); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("retention purge failed", "subject", subj, "err", err)
				}
				continue
			}
			purged = append(purged, subj)
		}
		a.views.Forget(purged...)
		a.pruneLogins(ctx, now)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
