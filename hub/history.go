package hub

import (
	"sync"
	"time"
)

// history is the hub's memory of the latest deliveries, for replay without
// the store: a client resuming a few thousand events behind (a reconnect)
// gets them from here, already encoded. It is bounded by bytes and by age:
// entries older than maxAge (the retention) leave, so it never holds what
// the store may have purged.
type history struct {
	mu    sync.RWMutex
	ds    []*Delivery // ds[head:] in sequence order
	head  int
	lo    uint64 // every delivery with Seq >= lo is held (once one left: its Seq+1)
	bytes int64
	max   int64
	age   time.Duration
}

// KeepHistory makes the hub remember its latest deliveries, up to maxBytes
// (an estimate of what they hold) and maxAge, for History. Call it before
// the first Dispatch; 0 bytes (the default) remembers nothing.
func (h *Hub) KeepHistory(maxBytes int64, maxAge time.Duration) {
	h.hist.mu.Lock()
	h.hist.max, h.hist.age = maxBytes, maxAge
	h.hist.mu.Unlock()
}

// History returns the remembered deliveries with from < Seq <= upto that
// keep accepts (all when nil), in order, and lo: every delivery with
// Seq >= lo is remembered, so the records in (from, lo) — if any — must
// come from the store. keep runs under the history's read lock: it must be
// fast.
func (h *Hub) History(from, upto uint64, keep func(*Delivery) bool) (ds []*Delivery, lo uint64) {
	x := &h.hist
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.max <= 0 {
		return nil, ^uint64(0)
	}
	live := x.ds[x.head:]
	lo = x.lo
	if x.age > 0 {
		cutoff := time.Now().Add(-x.age)
		for len(live) > 0 && live[0].Msg.Time.Before(cutoff) {
			lo = live[0].Seq + 1
			live = live[1:]
		}
	}
	i := search(live, from+1)
	for _, d := range live[i:] {
		if d.Seq > upto {
			break
		}
		if keep == nil || keep(d) {
			ds = append(ds, d)
		}
	}
	return ds, lo
}

// HistorySize is how many deliveries the history holds and its estimate
// of their bytes.
func (h *Hub) HistorySize() (n int, bytes int64) {
	h.hist.mu.RLock()
	defer h.hist.mu.RUnlock()
	return len(h.hist.ds) - h.hist.head, h.hist.bytes
}

// search is the index of the first delivery with Seq >= seq.
func search(ds []*Delivery, seq uint64) int {
	i, j := 0, len(ds)
	for i < j {
		m := int(uint(i+j) >> 1)
		if ds[m].Seq < seq {
			i = m + 1
		} else {
			j = m
		}
	}
	return i
}

// remember adds d (called by Dispatch before the delivery is visible to
// Subscribe) and lets the oldest go beyond the bounds.
func (x *history) remember(d *Delivery) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.max <= 0 {
		return
	}
	x.ds = append(x.ds, d)
	x.bytes += size(d)
	var cutoff time.Time
	if x.age > 0 {
		cutoff = time.Now().Add(-x.age)
	}
	for x.head < len(x.ds) && (x.bytes > x.max || x.ds[x.head].Msg.Time.Before(cutoff)) {
		old := x.ds[x.head]
		x.ds[x.head] = nil
		x.head++
		x.bytes -= size(old)
		x.lo = old.Seq + 1
	}
	if x.head > 1024 && x.head > len(x.ds)/2 {
		n := copy(x.ds, x.ds[x.head:])
		clear(x.ds[n:])
		x.ds, x.head = x.ds[:n], 0
	}
}

// size estimates the memory d holds: its frames, the record's JSON and
// the structures around them.
func size(d *Delivery) int64 {
	n := 256 + len(d.Msg.Subject) + len(d.Msg.MsgID)
	for _, f := range d.Frames {
		n += len(f) + 24
	}
	for _, f := range d.Extra {
		n += len(f) + 24
	}
	r := &d.Msg.Record
	n += len(r.Kind) + len(r.Domain) + len(r.Owner) + len(r.Group) + len(r.Entity) + len(r.Snapshot) + len(r.Answer)
	for _, e := range r.Events {
		n += 48 + len(e.Name) + len(e.Data)
	}
	n += 128 * len(r.Commands)
	return int64(n)
}
