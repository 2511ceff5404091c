package api

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/herald-sse/herald/hub"
)

// spreadSlots is how many moments Shutdown spreads the ends of streams
// over: the window is cut into this many steps, and each stream ends at a
// random one.
const spreadSlots = 200

// Shutdown stops accepting streams and ends the open ones, each at a random
// moment within Config.ShutdownSpread (so their clients do not reconnect
// all at once) and always at an event boundary: a write under way is
// finished first. It returns once every stream is closed and every
// goroutine the streams started has returned. If ctx ends first, the
// streams left are ended at once and the connections of served streams are
// closed (a write under way is cut); it then returns ctx's error once
// those are closed. Handler-path streams (TLS, HTTP/2) end when their
// handler sees it; net/http's Shutdown waits for them.
func (a *API) Shutdown(ctx context.Context) error {
	a.closing.Store(true)
	// A stream that subscribes from now on ends at once (see openStream).
	a.endSpread(ctx, a.hub.Subs())
	if err := a.waitStreams(ctx, func() bool { return a.streams.Load() == 0 }); err != nil {
		a.hub.EndAll()
		a.wheel.each(func(s *stream) { _ = s.srv.conn.Close() })
		_ = a.waitStreams(context.Background(), func() bool { return a.wheel.len() == 0 })
		a.writes.Wait()
		return err
	}
	a.writes.Wait()
	return nil
}

// Close releases what the API holds once Shutdown and Run returned: it
// stops the hub's writers and waits for them.
func (a *API) Close() error {
	a.closing.Store(true)
	a.hub.EndAll()
	a.writes.Wait()
	a.hub.Close()
	a.gone.close()
	return nil
}

// endSpread ends subs for shutdown, each at a random moment within the
// spread; what is left when ctx ends is ended at once.
func (a *API) endSpread(ctx context.Context, subs []*hub.Sub) {
	spread := a.cfg.ShutdownSpread
	if spread <= 0 || len(subs) < 2 {
		for _, s := range subs {
			a.hub.End(s, hub.EndShutdown)
		}
		return
	}
	step := max(spread/spreadSlots, time.Millisecond)
	slots := int(spread / step)
	at := make([]int, len(subs))
	for i := range at {
		at[i] = rand.N(slots)
	}
	order := make([]int, len(subs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return at[x] - at[y] })
	start := a.clock.Now()
	t := a.clock.NewTimer(spread)
	defer t.Stop()
	for k, i := range order {
		if wait := time.Duration(at[i])*step - a.clock.Now().Sub(start); wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C():
			case <-ctx.Done():
				for _, j := range order[k:] {
					a.hub.End(subs[j], hub.EndShutdown)
				}
				return
			}
		}
		a.hub.End(subs[i], hub.EndShutdown)
	}
}

// waitStreams waits until done says so, looking each time a stream closes
// while the API is closing, or until ctx ends.
func (a *API) waitStreams(ctx context.Context, done func() bool) error {
	for !done() {
		select {
		case <-a.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// streamClosed counts a stream closed and, while closing, tells Shutdown.
func (a *API) streamClosed() {
	a.streams.Add(-1)
	if a.closing.Load() {
		select {
		case a.drained <- struct{}{}:
		default:
		}
	}
}
