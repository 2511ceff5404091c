package hub

import (
	"testing"
	"time"

	"github.com/herald-sse/herald/store"
)

func histDelivery(seq uint64, at time.Time) *Delivery {
	return &Delivery{Seq: seq, Msg: &store.Msg{Seq: seq, Time: at}, Frames: [][]byte{make([]byte, 100)}}
}

// TestHistoryBounds: the history keeps the latest deliveries within its
// byte bound, says from where it holds everything (lo), and returns the
// asked range in order.
func TestHistoryBounds(t *testing.T) {
	h := New(Config{MaxQueue: 8})
	if ds, lo := h.History(0, 10, nil); ds != nil || lo != ^uint64(0) {
		t.Fatalf("without KeepHistory: %d deliveries, lo %d", len(ds), lo)
	}
	per := size(histDelivery(1, time.Now()))
	h.KeepHistory(10*per, time.Hour)
	now := time.Now()
	for seq := uint64(1); seq <= 25; seq += 2 { // odd sequences: gaps like records with nothing to deliver
		h.Dispatch(histDelivery(seq, now), "t")
	}
	ds, lo := h.History(0, 100, nil)
	if len(ds) != 10 || lo != 6 || ds[0].Seq != 7 || ds[9].Seq != 25 {
		t.Fatalf("got %d deliveries from %d, lo %d; want 10 from 7, lo 6", len(ds), ds[0].Seq, lo)
	}
	ds, _ = h.History(10, 20, nil)
	var got []uint64
	for _, d := range ds {
		got = append(got, d.Seq)
	}
	if len(got) != 5 || got[0] != 11 || got[4] != 19 {
		t.Fatalf("(10, 20]: %v", got)
	}
	// More than 1024 evictions compact the slice; order and bounds hold.
	for seq := uint64(27); seq <= 5000; seq += 2 {
		h.Dispatch(histDelivery(seq, now), "t")
	}
	ds, lo = h.History(0, 5000, nil)
	if len(ds) != 10 || ds[0].Seq != 4981 || lo != 4980 {
		t.Fatalf("after many: %d from %d, lo %d", len(ds), ds[0].Seq, lo)
	}
}

// TestHistoryAge: deliveries older than the age bound are not served (the
// store may have purged them), and lo says so.
func TestHistoryAge(t *testing.T) {
	h := New(Config{MaxQueue: 8})
	h.KeepHistory(1<<20, time.Hour)
	old := time.Now().Add(-2 * time.Hour)
	h.hist.mu.Lock()
	h.hist.ds = append(h.hist.ds, histDelivery(1, old), histDelivery(2, old)) // arrived when they were young
	h.hist.mu.Unlock()
	h.Dispatch(histDelivery(3, time.Now()), "t")
	ds, lo := h.History(0, 10, nil)
	if len(ds) != 1 || ds[0].Seq != 3 || lo != 3 {
		t.Fatalf("%d deliveries, lo %d; want only 3, lo 3", len(ds), lo)
	}
}
