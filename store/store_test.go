package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rec(name string) Record {
	return Record{Kind: "task", Events: []lifecycle.Event{{Name: name, Data: []byte(`{}`)}}}
}

func TestCommitConcurrencyAndDedup(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	subj := Subject("task", "d.1", "a")
	if subj != "herald.task.d%2E1.a" {
		t.Fatalf("subject %q", subj)
	}
	a1, err := s.Commit(ctx, Append{Subject: subj, ExpectSeq: 0, Record: rec("one")})
	if err != nil {
		t.Fatal(err)
	}
	// Same expectation again: the subject moved.
	if _, err := s.Commit(ctx, Append{Subject: subj, ExpectSeq: 0, Record: rec("two")}); !errors.Is(err, ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
	a2, err := s.Commit(ctx, Append{Subject: subj, ExpectSeq: a1.Seq, MsgID: "k1", Record: rec("two")})
	if err != nil || a2.Duplicate {
		t.Fatal(err, a2)
	}
	// JetStream checks the expected sequence before the dedup window: a
	// retry decided on stale state is a conflict (the write path then
	// re-reads and finds its own msg id), and one without the check is a
	// duplicate pointing at the first write.
	if _, err := s.Commit(ctx, Append{Subject: subj, ExpectSeq: a1.Seq, MsgID: "k1", Record: rec("two")}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale retry: %v", err)
	}
	a3, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, MsgID: "k1", Record: rec("two")})
	if err != nil || !a3.Duplicate || a3.Seq != a2.Seq {
		t.Fatalf("retry: %v %+v", err, a3)
	}
	last, err := s.Last(ctx, subj)
	if err != nil || last.Seq != a2.Seq || last.MsgID != "k1" || last.Record.Events[0].Name != "two" {
		t.Fatalf("last: %v %+v", err, last)
	}
	if _, err := s.Last(ctx, Subject("task", "d", "none")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestReadRangeAndTail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	s := openTest(t, dir)
	var seqs []uint64
	for i := 0; i < 10; i++ {
		subj := Subject("task", "d", "a")
		if i%2 == 1 {
			subj = Subject("task", "d", "b")
		}
		a, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("e")})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, a.Seq)
	}
	var got []uint64
	collect := func(m Msg) error { got = append(got, m.Seq); return nil }
	if err := s.Read(ctx, Subject("task", "d", "a"), 0, 100, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0] != seqs[0] || got[4] != seqs[8] {
		t.Fatalf("read a: %v", got)
	}
	got = nil
	if err := s.Read(ctx, "herald.task.d.*", seqs[2], seqs[6], collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != seqs[3] || got[3] != seqs[6] {
		t.Fatalf("read range: %v", got)
	}
	got = nil
	if err := s.Read(ctx, Subject("task", "d", "zzz"), 0, 100, collect); err != nil || len(got) != 0 {
		t.Fatal(err, got)
	}
	// Tail sees the history then a new append.
	tctx, tcancel := context.WithCancel(ctx)
	ch := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() { done <- s.Tail(tctx, 1, func(m Msg) error { ch <- m.Seq; return nil }) }()
	for i := 0; i < 10; i++ {
		<-ch
	}
	a, _ := s.Commit(ctx, Append{Subject: Subject("task", "d", "c"), Record: rec("x")})
	if seq := <-ch; seq != a.Seq {
		t.Fatalf("tail got %d want %d", seq, a.Seq)
	}
	tcancel()
	<-done
	epoch := s.Epoch()
	s.Close()
	// The epoch survives a restart; a wiped directory gets a new one.
	s2 := openTest(t, dir)
	defer s2.Close()
	if s2.Epoch() != epoch {
		t.Fatalf("epoch changed across restart: %s → %s", epoch, s2.Epoch())
	}
	s3 := openTest(t, t.TempDir())
	defer s3.Close()
	if s3.Epoch() == epoch {
		t.Fatal("a new store reused an epoch")
	}
}

// TestReadCreatesNoConsumer: more reads than JetStream's per-stream
// consumer limit (1,000) leave no consumer behind, and histories longer
// than one direct-get batch are read whole.
func TestReadCreatesNoConsumer(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	long, short := Subject("task", "d", "long"), Subject("task", "d", "short")
	for i := 0; i < 3+2*readBatch+7; i++ { // seq 1–3 short, then the long history
		subj := long
		if i < 3 {
			subj = short
		}
		if _, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("e")}); err != nil {
			t.Fatal(err)
		}
	}
	_, last, _, _ := s.Info(ctx)
	count := func(subj string, after uint64) int {
		n := 0
		if err := s.Read(ctx, subj, after, last, func(Msg) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for after := uint64(3); after < 6; after++ {
		if n := count(long, after); n != 2*readBatch+7-int(after-3) {
			t.Fatalf("long history after %d: %d records", after, n)
		}
	}
	for i := 0; i < 1050; i++ {
		if n := count(short, 0); n != 3 {
			t.Fatalf("read %d: %d records", i, n)
		}
	}
	info, err := s.stream.Info(ctx)
	if err != nil || info.State.Consumers != 0 {
		t.Fatalf("%d consumers left (%v)", info.State.Consumers, err)
	}
}

// TestMatchSubject: NATS filter semantics for the filters herald replays.
func TestMatchSubject(t *testing.T) {
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"herald.session.>", "herald.session.d.o.s", true},
		{"herald.session.>", "herald.session", false},
		{"herald.session.d.>", "herald.session.d.o.s", true},
		{"herald.session.d.>", "herald.session.e.o.s", false},
		{"herald.session.d.o.>", "herald.session.d.o.s", true},
		{"herald.session.d.o.>", "herald.session.d.ox.s", false},
		{"herald.task.d.t1", "herald.task.d.t1", true},
		{"herald.task.d.t1", "herald.task.d.t12", false},
		{"herald.task.d.t1", "herald.task.d.t1.x", false},
		{"herald.task.d.t1.x", "herald.task.d.t1", false},
		{"herald.*.d.t1", "herald.task.d.t1", true},
		{"herald.*.d", "herald.task.d.t1", false},
		{"herald.job.d.>", "herald.job.d", false},
	} {
		if got := MatchSubject(c.filter, c.subject); got != c.want {
			t.Errorf("MatchSubject(%q, %q) = %v, want %v", c.filter, c.subject, got, c.want)
		}
	}
}
