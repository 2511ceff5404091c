package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// logBuffer collects a store's log lines for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openWith(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// rawConn is a plain NATS client of the store's embedded server, with its
// credentials: what another process (or an attacker holding them) has.
func rawConn(t *testing.T, s *Store) *nats.Conn {
	t.Helper()
	c, err := ReadCredentials(s.dir + "/" + CredentialsFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.UserInfo(c.User, c.Password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func TestLockDirRefusesASecondOwner(t *testing.T) {
	dir := t.TempDir()
	s := openWith(t, Config{Dir: dir})
	ctx := context.Background()
	_, err := Open(ctx, Config{Dir: dir})
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want a *LockedError", err)
	}
	if le.PID != os.Getpid() || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("error %q names pid %d, want %d and the directory", err, le.PID, os.Getpid())
	}
	s.Close()
	s2 := openWith(t, Config{Dir: dir}) // released by Close
	s2.Close()
}

// TestPoisonRecordSkipped publishes bytes that are not a record onto the
// stream: the tail logs the sequence, counts it, hands an empty record on
// and goes on; reads over it and a reopened store work.
func TestPoisonRecordSkipped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	var logs logBuffer
	s := openWith(t, Config{Dir: dir, Logger: logs.logger()})
	subj := Subject("task", "d", "a")
	if _, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("one")}); err != nil {
		t.Fatal(err)
	}
	nc := rawConn(t, s)
	if _, err := nc.Request(subj, []byte("not json"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("three")}); err != nil {
		t.Fatal(err)
	}
	tail := func(s *Store) []Msg {
		tctx, stop := context.WithCancel(ctx)
		defer stop()
		var got []Msg
		err := s.Tail(tctx, 1, func(m Msg) error {
			got = append(got, m)
			if m.Seq == 3 {
				stop()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("tail: %v", err)
		}
		return got
	}
	got := tail(s)
	if len(got) != 3 || got[1].Seq != 2 || got[1].Record.Kind != "" || got[2].Record.Events[0].Name != "three" {
		t.Fatalf("tail delivered %+v", got)
	}
	if s.Skipped() != 1 || !strings.Contains(logs.String(), "seq=2") || !strings.Contains(logs.String(), "cannot be decoded") {
		t.Fatalf("skipped %d, log:\n%s", s.Skipped(), logs.String())
	}
	var names []string
	if err := s.Read(ctx, subj, 0, 3, func(m Msg) error { names = append(names, m.Record.Events[0].Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "one,three" {
		t.Fatalf("read %v", names)
	}
	s.Close()
	s2 := openWith(t, Config{Dir: dir})
	if got := tail(s2); len(got) != 3 {
		t.Fatalf("after reopen the tail delivered %d records", len(got))
	}
	if _, err := s2.Commit(ctx, Append{Subject: subj, NoCheck: true, Record: rec("four")}); err != nil {
		t.Fatal(err)
	}
}

// TestFullStoreRefusesAndHeals fills a stream capped by MaxBytes: appends
// are refused with ErrFull ("store full") at once, Health says so, and once
// records are purged Health turns nil by itself (no append needed) and
// appends work again, without reopening the store.
func TestFullStoreRefusesAndHeals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs logBuffer
	s := openWith(t, Config{Dir: t.TempDir(), MaxBytes: 64 << 10, Logger: logs.logger()})
	big := rec("fill")
	big.Snapshot = []byte(`"` + strings.Repeat("x", 2000) + `"`)
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		_, err = s.Commit(ctx, Append{Subject: Subject("task", "d", strconv.Itoa(i)), NoCheck: true, Record: big})
	}
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "store full") {
		t.Fatalf("append to a full store: %v, want ErrFull", err)
	}
	if herr := s.Health(ctx); !errors.Is(herr, ErrFull) {
		t.Fatalf("health of a full store: %v", herr)
	}
	if !strings.Contains(logs.String(), "append failed") {
		t.Fatalf("the refusal was not logged:\n%s", logs.String())
	}
	for i := 0; i < 20; i++ {
		if err := s.Purge(ctx, Subject("task", "d", strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Health(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("still unhealthy 5s after the purge: %v", s.Health(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Commit(ctx, Append{Subject: Subject("task", "d", "after"), NoCheck: true, Record: big}); err != nil {
		t.Fatalf("append after the purge: %v", err)
	}
}

// TestLeaderAdvisoriesLogged: JetStream's advisories about the herald
// stream (a new leader, a lost quorum) appear in herald's log at warn and
// error. A single server elects no leader, so the test publishes the
// advisory JetStream would.
func TestLeaderAdvisoriesLogged(t *testing.T) {
	var logs logBuffer
	s := openWith(t, Config{Dir: t.TempDir(), Logger: logs.logger()})
	nc := rawConn(t, s)
	adv := `{"type":"io.nats.jetstream.advisory.v1.stream_leader_elected","stream":"HERALD","leader":"n2"}`
	if err := nc.Publish("$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.HERALD", []byte(adv)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("$JS.EVENT.ADVISORY.STREAM.QUORUM_LOST.HERALD", []byte(`{"stream":"HERALD"}`)); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	// Both lines, in whichever order the two advisories are handled.
	logged := func() bool {
		l := logs.String()
		return strings.Contains(l, "level=ERROR msg=\"store: JetStream fault\"") &&
			strings.Contains(l, `level=WARN msg="store: JetStream stream leader changed"`) && strings.Contains(l, "leader=n2")
	}
	for deadline := time.Now().Add(5 * time.Second); !logged(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("advisories not logged at error and warn:\n%s", logs.String())
		}
	}
}

// TestRaisedLimitApplies: a store reopened with a larger MaxBytes takes
// the new cap (the stream is updated) and appends again.
func TestRaisedLimitApplies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	s := openWith(t, Config{Dir: dir, MaxBytes: 32 << 10})
	big := rec("fill")
	big.Snapshot = []byte(`"` + strings.Repeat("x", 2000) + `"`)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = s.Commit(ctx, Append{Subject: Subject("task", "d", "r"), NoCheck: true, Record: big})
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("want ErrFull, got %v", err)
	}
	s.Close()
	s2 := openWith(t, Config{Dir: dir, MaxBytes: 1 << 20})
	if got := s2.stream.CachedInfo().Config.MaxBytes; got != 1<<20 {
		t.Fatalf("stream MaxBytes %d after reopening with 1 MiB", got)
	}
	if _, err := s2.Commit(ctx, Append{Subject: Subject("task", "d", "r"), NoCheck: true, Record: big}); err != nil {
		t.Fatalf("append after the cap was raised: %v", err)
	}
}
