package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestReadBulk: a history longer than bulkRead is read whole, in order,
// exactly once, through a consumer when a slot is free and with direct
// gets when none is; every consumer is gone afterwards.
func TestReadBulk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	a, b := Subject("task", "d", "a"), Subject("task", "d", "b")
	var seqsA []uint64
	const n = 3*bulkRead + readBatch/2
	for i := range n {
		subj := a
		if i%3 == 2 {
			subj = b
		}
		ack, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("e")})
		if err != nil {
			t.Fatal(err)
		}
		if subj == a {
			seqsA = append(seqsA, ack.Seq)
		}
	}
	_, last, _, _ := s.Info(ctx)
	want := func(after, upto uint64) []uint64 {
		var w []uint64
		for _, q := range seqsA {
			if q > after && q <= upto {
				w = append(w, q)
			}
		}
		return w
	}
	read := func(after, upto uint64) (got []uint64, slots int) {
		t.Helper()
		err := s.Read(ctx, a, after, upto, func(m Msg) error {
			if m.Subject != a || len(m.Record.Events) != 1 || m.Record.Events[0].Name != "e" || m.Time.IsZero() {
				t.Fatalf("record %d: %+v", m.Seq, m)
			}
			got = append(got, m.Seq)
			slots = max(slots, len(s.bulk))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, slots
	}
	for _, r := range []struct {
		after, upto uint64
		bulk        bool // read by a consumer after the first batch
	}{
		{0, last, true}, {seqsA[10] - 1, last, true}, {seqsA[100], last, true},
		{0, seqsA[len(seqsA)-50], true},
		{5, 5 + bulkRead, false},                  // the range is short
		{seqsA[len(seqsA)-bulkRead], last, false}, // few records are left
	} {
		got, slots := read(r.after, r.upto)
		if w := want(r.after, r.upto); !slices.Equal(got, w) {
			t.Fatalf("read (%d, %d]: %d records, want %d", r.after, r.upto, len(got), len(w))
		}
		if r.bulk != (slots == 1) {
			t.Fatalf("read (%d, %d]: %d bulk slots in use", r.after, r.upto, slots)
		}
	}
	// Every slot taken: direct gets all the way, same records.
	for range maxBulkReads {
		s.bulk <- struct{}{}
	}
	if got, slots := read(0, last); !slices.Equal(got, seqsA) || slots != maxBulkReads {
		t.Fatalf("without a slot: %d records, %d slots", len(got), slots)
	}
	for range maxBulkReads {
		<-s.bulk
	}
	// fn's error ends a bulk read and frees its slot.
	stop := errors.New("stop here")
	k := 0
	err := s.Read(ctx, a, 0, last, func(Msg) error {
		if k++; k == readBatch+bulkRead/2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(s.bulk) != 0 {
		t.Fatalf("stopped read: %v, %d slots", err, len(s.bulk))
	}
	info, err := s.stream.Info(ctx)
	if err != nil || info.State.Consumers != 0 {
		t.Fatalf("%d consumers left (%v)", info.State.Consumers, err)
	}
}
