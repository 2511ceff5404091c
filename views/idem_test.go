package views

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/herald-sse/herald/store"
)

// TestIdempotencyIndexBounded: under many keyed writes the index keeps
// within its byte bound by forgetting the oldest keys, the newest are still
// answered, expiry by age still works, and the real heap it holds stays
// within the bound (issue 13: ~460 B per keyed write, never forgotten).
func TestIdempotencyIndexBounded(t *testing.T) {
	const bound = 1 << 20
	const writes = 100_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	v := New()
	v.SetIdempotencyBytes(bound)
	start := time.Now()
	for i := 1; i <= writes; i++ {
		m := &store.Msg{Seq: uint64(i), Time: start.Add(time.Duration(i) * time.Millisecond),
			MsgID: fmt.Sprintf("%032x", i), Record: store.Record{Kind: "none"}}
		if err := v.Apply(m); err != nil {
			t.Fatal(err)
		}
		if _, b := v.IdempotencySize(); b > bound {
			t.Fatalf("after %d writes the index holds %d bytes, over its bound %d", i, b, bound)
		}
	}
	after := heap()
	keys, bytes := v.IdempotencySize()
	perKey := float64(after-before) / float64(keys)
	t.Logf("%d keys kept of %d, %d bytes accounted, heap grew %d bytes (%.0f B per key, accounted %d)",
		keys, writes, bytes, after-before, perKey, idemEntryCost+32)
	if keys == 0 || keys >= writes {
		t.Fatalf("%d keys kept of %d writes", keys, writes)
	}
	if grown := after - before; grown > 2*bound {
		t.Errorf("the views grew by %d bytes of heap for an index bounded at %d", grown, bound)
	}
	if seq, ok := v.Idempotent(fmt.Sprintf("%032x", writes)); !ok || seq != writes {
		t.Errorf("the newest key is forgotten: %d %v", seq, ok)
	}
	if _, ok := v.Idempotent(fmt.Sprintf("%032x", 1)); ok {
		t.Errorf("the oldest key is still remembered past the bound")
	}
	v.Expired(start, start.Add(time.Duration(writes-10)*time.Millisecond+1))
	if keys, _ := v.IdempotencySize(); keys != 10 {
		t.Errorf("expiry by age kept %d keys, want 10", keys)
	}
	runtime.KeepAlive(v)
}
