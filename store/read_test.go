package store

import (
	"context"
	"errors"
	"slices"
	"strings"
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

// TestReadWide: a bulk read of a range where most records match reads the
// stream without a filter (its consumer has none) and still hands fn
// exactly the matching records, in order; a sparse range keeps the
// filter. Records of another subject that share a prefix with the
// wildcard do not leak in.
func TestReadWide(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	filter := Subject("session", "d", "own") + ".*"
	mine := []string{Subject("session", "d", "own", "s1"), Subject("session", "d", "own", "s2")}
	others := []string{Subject("session", "d", "other", "s1"), Subject("session", "d", "own", "s1", "x"), Subject("task", "d", "own")}
	var seqs []uint64
	const n = 2*bulkRead + 3*readBatch
	commit := func(subj string) uint64 {
		ack, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("e")})
		if err != nil {
			t.Fatal(err)
		}
		return ack.Seq
	}
	for i := range n {
		if i%10 == 9 { // 90 % match: dense
			commit(others[i%len(others)])
			continue
		}
		subj := mine[i%2]
		seqs = append(seqs, commit(subj))
	}
	denseEnd := seqs[len(seqs)-1]
	for i := range n { // then 10 % match: sparse
		if i%10 == 0 {
			seqs = append(seqs, commit(mine[0]))
			continue
		}
		commit(others[i%len(others)])
	}
	_, last, _, _ := s.Info(ctx)
	read := func(after, upto uint64) (got []uint64, filters []string) {
		t.Helper()
		err := s.Read(ctx, filter, after, upto, func(m Msg) error {
			if !MatchSubject(filter, m.Subject) || len(m.Record.Events) != 1 || m.Time.IsZero() {
				t.Fatalf("record %d on %s: %+v", m.Seq, m.Subject, m.Record)
			}
			if len(got) == readBatch+1 { // past the first direct-get batch: a consumer reads
				l := s.stream.ListConsumers(ctx)
				for c := range l.Info() {
					filters = append(filters, c.Config.FilterSubject+strings.Join(c.Config.FilterSubjects, ","))
				}
				if l.Err() != nil {
					t.Fatal(l.Err())
				}
			}
			got = append(got, m.Seq)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, filters
	}
	want := func(after, upto uint64) []uint64 {
		var w []uint64
		for _, q := range seqs {
			if q > after && q <= upto {
				w = append(w, q)
			}
		}
		return w
	}
	for _, c := range []struct {
		after, upto uint64
		filter      string // the bulk consumer's filter
	}{
		{0, denseEnd, ""},
		{7, denseEnd - 3, ""},
		{0, last, filter}, // half of it sparse: not provably dense
	} {
		got, filters := read(c.after, c.upto)
		if w := want(c.after, c.upto); !slices.Equal(got, w) {
			t.Fatalf("read (%d, %d]: %d records, want %d", c.after, c.upto, len(got), len(w))
		}
		if len(filters) != 1 || filters[0] != c.filter {
			t.Fatalf("read (%d, %d]: consumers with filters %q, want one with %q", c.after, c.upto, filters, c.filter)
		}
	}
}

func TestDense(t *testing.T) {
	for _, c := range []struct {
		from, upto, pending, last uint64
		want                      bool
	}{
		{1, 100, 100, 100, true},
		{1, 100, 75, 100, true},
		{1, 100, 74, 100, false},
		{1, 100, 200, 150, true},  // at least 150 in range: all of it
		{1, 100, 100, 150, false}, // 50 of them may lie past upto
		{1, 100, 130, 150, true},  // at least 80 in range
		{1, 100, 10, 0, false},    // last unknown (0): upto
		{50, 40, 10, 0, false},
	} {
		if got := dense(c.from, c.upto, c.pending, c.last); got != c.want {
			t.Errorf("dense(%d, %d, %d, %d) = %v", c.from, c.upto, c.pending, c.last, got)
		}
	}
}

func TestAckInfo(t *testing.T) {
	for _, c := range []struct {
		reply   string
		seq     uint64
		ts      int64
		pending uint64
		ok      bool
	}{
		{"$JS.ACK.HERALD.c1.1.42.7.1733230000000000000.9", 42, 1733230000000000000, 9, true},
		{"$JS.ACK._.ACCHASH.HERALD.c1.1.42.7.1733230000000000000.9.abc", 42, 1733230000000000000, 9, true},
		{"$JS.ACK.dom.ACCHASH.HERALD.c1.1.42.7.1733230000000000000.0", 42, 1733230000000000000, 0, true},
		{"$JS.ACK.HERALD.c1.1.42.7.1733230000000000000", 0, 0, 0, false},      // 8 tokens
		{"$JS.ACK.a.b.HERALD.c1.1.42.7.1.9.x.y", 0, 0, 0, false},              // 13 tokens
		{"$JS.ACK.HERALD.c1.1.4x.7.1.9", 0, 0, 0, false},                      // not a number
		{"$JS.ACK.HERALD.c1.1.99999999999999999999999.7.1.9", 0, 0, 0, false}, // overflow
		{"$JS.ACK.HERALD.c1.1.1.7.18446744073709551615.9", 0, 0, 0, false},    // time overflows int64
		{"_INBOX.abc", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		seq, ts, pending, ok := ackInfo(c.reply)
		if seq != c.seq || ts != c.ts || pending != c.pending || ok != c.ok {
			t.Errorf("ackInfo(%q) = %d, %d, %d, %v", c.reply, seq, ts, pending, ok)
		}
	}
}
