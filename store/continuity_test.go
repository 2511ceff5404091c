package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeAndTail commits n records and tails them all, so that the store
// knows them as applied; it returns the last sequence.
func writeAndTail(t *testing.T, s *Store, n int) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	big := rec("e")
	big.Snapshot = []byte(`"` + strings.Repeat("z", 500) + `"`)
	var last uint64
	for i := 0; i < n; i++ {
		a, err := s.Commit(ctx, Append{Subject: Subject("task", "d", "c"), NoCheck: true, Record: big})
		if err != nil {
			t.Fatal(err)
		}
		last = a.Seq
	}
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	_ = s.Tail(tctx, 1, func(m Msg) error {
		if m.Seq >= last {
			stop()
		}
		return nil
	})
	return last
}

// damage truncates the stream's last message block to half and, with
// dropIndex, deletes JetStream's index of it (index.db): what a crash of
// the disk or an operator's mistake leaves.
func damage(t *testing.T, dir string, dropIndex bool) {
	t.Helper()
	msgs := filepath.Join(dir, "jetstream", "$G", "streams", StreamName, "msgs")
	blks, _ := filepath.Glob(filepath.Join(msgs, "*.blk"))
	if len(blks) == 0 {
		t.Fatalf("no message blocks in %s", msgs)
	}
	sort.Strings(blks)
	last := blks[len(blks)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	if dropIndex {
		if err := os.Remove(filepath.Join(msgs, "index.db")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// TestLostRecordsStartANewEpoch truncates the last block of a stopped
// store (with and without its index): at the next start the store logs
// an error naming the lost range and starts a new epoch, so no id of the
// old epoch is reused; the store's last existing record is what Info
// reports, so a reader waiting for "the last record" is not stuck.
func TestLostRecordsStartANewEpoch(t *testing.T) {
	for _, dropIndex := range []bool{true, false} {
		name := "truncated block"
		if dropIndex {
			name += " and lost index"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir := t.TempDir()
			s := openWith(t, Config{Dir: dir})
			last := writeAndTail(t, s, 200)
			oldEpoch := s.Epoch()
			s.Close()
			damage(t, dir, dropIndex)

			var logs logBuffer
			s2 := openWith(t, Config{Dir: dir, Logger: logs.logger()})
			if s2.Epoch() == oldEpoch {
				t.Fatalf("same epoch %s after records were lost; log:\n%s", oldEpoch, logs.String())
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "new epoch") {
				t.Fatalf("no error logged:\n%s", logs.String())
			}
			_, info, _, err := s2.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info >= last {
				t.Fatalf("Info's last %d, want below %d (records were lost)", info, last)
			}
			if info > 0 {
				if _, err := s2.Get(ctx, info); err != nil {
					t.Fatalf("Info's last record %d: %v", info, err)
				}
			}
			t.Logf("lost: %s", logs.String()[strings.Index(logs.String(), "lost="):])
			// The new epoch holds: a restart without new damage keeps it.
			writeAndTail(t, s2, 3)
			epoch := s2.Epoch()
			s2.Close()
			s3 := openWith(t, Config{Dir: dir})
			if s3.Epoch() != epoch {
				t.Fatalf("epoch changed from %s to %s without damage", epoch, s3.Epoch())
			}
		})
	}
}

// TestCleanRestartKeepsTheEpoch: no damage, no new epoch.
func TestCleanRestartKeepsTheEpoch(t *testing.T) {
	dir := t.TempDir()
	s := openWith(t, Config{Dir: dir})
	writeAndTail(t, s, 20)
	epoch := s.Epoch()
	s.Close()
	var logs logBuffer
	s2 := openWith(t, Config{Dir: dir, Logger: logs.logger()})
	if s2.Epoch() != epoch || strings.Contains(logs.String(), "new epoch") {
		t.Fatalf("epoch %s → %s; log:\n%s", epoch, s2.Epoch(), logs.String())
	}
}
