// Package seqwait is a position in a sequence (records applied, records
// fanned out) that goroutines can wait for.
package seqwait

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
)

// Position is the last sequence reached. The zero value is at 0 and ready
// to use; it must not be copied.
type Position struct {
	at      atomic.Uint64
	mu      sync.Mutex
	waiters waitHeap
}

// waiter is one Wait call: ch is closed once seq is reached.
type waiter struct {
	seq   uint64
	ch    chan struct{}
	index int // in the heap; -1 once removed
}

// waitHeap orders the waiters by sequence, so that reaching a sequence
// wakes only the goroutines waiting for it (not every waiting one, as one
// shared channel closed per step would).
type waitHeap []*waiter

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waitHeap) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.index = -1
	return w
}

// Load is the last sequence reached.
func (p *Position) Load() uint64 { return p.at.Load() }

// Advance records that seq was reached and wakes its waiters. Sequences
// only grow: calls are made in order by one goroutine.
func (p *Position) Advance(seq uint64) {
	p.at.Store(seq)
	p.mu.Lock()
	for len(p.waiters) > 0 && p.waiters[0].seq <= seq {
		close(heap.Pop(&p.waiters).(*waiter).ch)
	}
	p.mu.Unlock()
}

// Wait blocks until seq is reached or ctx ends (then it returns ctx's
// error, unless seq was reached meanwhile).
func (p *Position) Wait(ctx context.Context, seq uint64) error {
	if p.at.Load() >= seq {
		return nil
	}
	w := &waiter{seq: seq, ch: make(chan struct{})}
	p.mu.Lock()
	if p.at.Load() >= seq { // Advance ran meanwhile: it did not see w
		p.mu.Unlock()
		return nil
	}
	heap.Push(&p.waiters, w)
	p.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.index >= 0 {
			heap.Remove(&p.waiters, w.index)
		}
		p.mu.Unlock()
		if p.at.Load() >= seq {
			return nil
		}
		return ctx.Err()
	}
}

// Waiting is how many goroutines wait.
func (p *Position) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}
