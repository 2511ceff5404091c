package seqwait

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestWait: every waiter returns once its sequence is reached, whatever
// the order they arrive in; a cancelled waiter leaves nothing behind.
func TestWait(t *testing.T) {
	v := &Position{}
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	done := make([]bool, n+1)
	var mu sync.Mutex
	for seq := 1; seq <= n; seq++ {
		wg.Go(func() {
			if err := v.Wait(ctx, uint64(seq)); err != nil {
				t.Error(err)
			}
			if v.Load() < uint64(seq) {
				t.Errorf("Wait(%d) returned at %d", seq, v.Load())
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
		v.Advance(seq)
	}
	wg.Wait()
	for seq := 1; seq <= n; seq++ {
		if !done[seq] {
			t.Fatalf("waiter %d never returned", seq)
		}
	}
	if err := v.Wait(ctx, n); err != nil { // already applied
		t.Fatal(err)
	}

	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := v.Wait(cctx, n+5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past the head: %v, want the deadline", err)
	}
	if left := v.Waiting(); left != 0 {
		t.Fatalf("%d waiters left behind", left)
	}
	v.Advance(n + 5)
	if err := v.Wait(ctx, n+5); err != nil {
		t.Fatal(err)
	}
}
