package views

import (
	"container/heap"
	"context"
)

// waiter is one WaitFor call: ch is closed once seq is applied.
type waiter struct {
	seq   uint64
	ch    chan struct{}
	index int // in the heap; -1 once removed
}

// waitHeap orders the waiters by sequence, so that applying a record wakes
// only the writers waiting for it (not every waiting writer, as one shared
// channel closed per record would).
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

// advance records that seq was applied and wakes its waiters.
func (v *Views) advance(seq uint64) {
	v.applied.Store(seq)
	v.waitMu.Lock()
	for len(v.waiters) > 0 && v.waiters[0].seq <= seq {
		close(heap.Pop(&v.waiters).(*waiter).ch)
	}
	v.waitMu.Unlock()
}

// WaitFor blocks until the record at seq has been applied.
func (v *Views) WaitFor(ctx context.Context, seq uint64) error {
	if v.applied.Load() >= seq {
		return nil
	}
	w := &waiter{seq: seq, ch: make(chan struct{})}
	v.waitMu.Lock()
	if v.applied.Load() >= seq { // advance ran meanwhile: it did not see w
		v.waitMu.Unlock()
		return nil
	}
	heap.Push(&v.waiters, w)
	v.waitMu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		v.waitMu.Lock()
		if w.index >= 0 {
			heap.Remove(&v.waiters, w.index)
		}
		v.waitMu.Unlock()
		if v.applied.Load() >= seq {
			return nil
		}
		return ctx.Err()
	}
}
