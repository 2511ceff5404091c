package api

import (
	"context"
	"sync"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
)

// CatchUpWait bounds how long a request waits for this node to apply
// records that the store already holds (written through another herald
// node sharing the store) before it answers 404, 401, or treats a
// Last-Event-ID as unrecognized.
const CatchUpWait = 5 * time.Second

// storeHead coalesces the questions "what is the store's last sequence?"
// of concurrent catch-ups: at most one is in flight, and each caller is
// answered by a question asked after it arrived (so it sees every write
// acknowledged before it asked). Many requests for unknown entities thus
// cost the store one question at a time.
type storeHead struct {
	mu      sync.Mutex
	running bool
	next    *headQuery // the question the next round asks; nil if none waits
	// stuck is a last sequence a catch-up waited for in vain (its record
	// was purged, so the tail never delivers it); later catch-ups to the
	// same sequence do not wait again.
	stuck uint64
}

type headQuery struct {
	done chan struct{}
	seq  uint64
	err  error
}

// storeLast returns the store's last sequence, as of a question asked
// after the call began.
func (a *API) storeLast(ctx context.Context) (uint64, error) {
	h := &a.head
	h.mu.Lock()
	q := h.next
	if q == nil {
		q = &headQuery{done: make(chan struct{})}
		h.next = q
	}
	if !h.running {
		h.running, h.next = true, nil
		go a.askHead(q)
	}
	h.mu.Unlock()
	select {
	case <-q.done:
		return q.seq, q.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// askHead answers q, then the question that queued meanwhile, until none
// waits.
func (a *API) askHead(q *headQuery) {
	h := &a.head
	for q != nil {
		ctx, cancel := context.WithTimeout(context.Background(), CatchUpWait)
		_, q.seq, _, q.err = a.store.Info(ctx)
		cancel()
		close(q.done)
		h.mu.Lock()
		q, h.next = h.next, nil
		h.running = q != nil
		h.mu.Unlock()
	}
}

// catchUp waits, at most CatchUpWait, until this node's views applied
// every record the store held when it was called.
func (a *API) catchUp(ctx context.Context) {
	last, err := a.storeLast(ctx)
	if err != nil || a.views.Applied() >= last {
		return
	}
	a.head.mu.Lock()
	stuck := a.head.stuck == last
	a.head.mu.Unlock()
	if stuck {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, CatchUpWait)
	defer cancel()
	if err := a.views.WaitFor(wctx, last); err != nil && ctx.Err() == nil {
		a.log.Warn("this node did not reach the store's last record in time", "seq", last, "applied", a.views.Applied())
		a.head.mu.Lock()
		a.head.stuck = last
		a.head.mu.Unlock()
	}
}

// reach waits, at most CatchUpWait, until this node applied the record at
// seq, when the store holds it. It reports whether it did: an id from
// beyond the store's end, or one this node does not reach in time, is not
// recognized.
//
// The store's answer that seq is past its end is not final: on a
// replicated stream a replica that has lost touch with the leader answers
// with its own state, which may lag, and a request may fail in a leader
// change. An id of this store was handed out for a record the store had
// acknowledged, so such an id gets StaleLastWait more for this node to
// apply it; only then is it unrecognized (the feed would start over,
// every event a duplicate for that client).
func (a *API) reach(ctx context.Context, seq uint64) bool {
	if a.views.Applied() >= seq {
		return true
	}
	wait := CatchUpWait
	if last, err := a.storeLast(ctx); err != nil || seq > last {
		wait = StaleLastWait
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return a.views.WaitFor(wctx, seq) == nil
}

// StaleLastWait is how long an id the store says is past its end waits
// for this node to apply it anyway (see reach).
const StaleLastWait = 500 * time.Millisecond

// knownKey returns the key with this access key, catching up with the
// store first when this node does not know it (made through another node).
func (a *API) knownKey(ctx context.Context, accessKey string) (*auth.Key, bool) {
	k, ok := a.views.Auth.Key(accessKey)
	if !ok {
		a.catchUp(ctx)
		k, ok = a.views.Auth.Key(accessKey)
	}
	return k, ok
}

// knownGroup reports whether domain has group name, catching up with the
// store first when this node does not know it.
func (a *API) knownGroup(ctx context.Context, domain, name string) bool {
	if _, ok := a.views.Auth.Group(domain, name); ok {
		return true
	}
	a.catchUp(ctx)
	_, ok := a.views.Auth.Group(domain, name)
	return ok
}

// knownDomain reports whether domain exists, catching up with the store
// first when this node does not know it.
func (a *API) knownDomain(ctx context.Context, domain string) bool {
	if _, ok := a.views.Auth.Domain(domain); ok {
		return true
	}
	a.catchUp(ctx)
	_, ok := a.views.Auth.Domain(domain)
	return ok
}

// orCatchUp runs find; when it answers 404, it catches up with the store
// and runs find once more. So an entity written through any node is found
// on every node (read your writes), and a truly unknown one costs one
// question of the store's last sequence (shared with concurrent ones) and
// a lookup in memory.
func orCatchUp[T any](ctx context.Context, a *API, find func() (T, error)) (T, error) {
	v, err := find()
	if herald.ErrorCode(err) == herald.ENotFound {
		a.catchUp(ctx)
		v, err = find()
	}
	return v, err
}
