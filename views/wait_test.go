package views

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestWaitFor: every waiter returns once its sequence is applied, whatever
// the order they arrive in; a cancelled waiter leaves nothing behind.
func TestWaitFor(t *testing.T) {
	v := New()
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	done := make([]bool, n+1)
	var mu sync.Mutex
	for seq := 1; seq <= n; seq++ {
		wg.Go(func() {
			if err := v.WaitFor(ctx, uint64(seq)); err != nil {
				t.Error(err)
			}
			if v.Applied() < uint64(seq) {
				t.Errorf("WaitFor(%d) returned at %d", seq, v.Applied())
			}
			mu.Lock()
			done[seq] = true
			mu.Unlock()
		})
	}
	for seq := uint64(1); seq <= n; seq++ {
		if seq%7 == 0 {
			time.Sleep(time.Millisecond)
		}
		v.advance(seq)
	}
	wg.Wait()
	for seq := 1; seq <= n; seq++ {
		if !done[seq] {
			t.Fatalf("waiter %d never returned", seq)
		}
	}
	if err := v.WaitFor(ctx, n); err != nil { // already applied
		t.Fatal(err)
	}

	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := v.WaitFor(cctx, n+5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor past the head: %v, want the deadline", err)
	}
	v.waitMu.Lock()
	left := len(v.waiters)
	v.waitMu.Unlock()
	if left != 0 {
		t.Fatalf("%d waiters left behind", left)
	}
	v.advance(n + 5)
	if err := v.WaitFor(ctx, n+5); err != nil {
		t.Fatal(err)
	}
}
