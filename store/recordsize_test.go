package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestRecordBound: a record over MaxRecordBytes is refused with ErrTooLarge
// before anything is written; one at the bound is stored.
func TestRecordBound(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	snap := func(n int) json.RawMessage {
		return json.RawMessage(`"` + strings.Repeat("x", n) + `"`)
	}
	subj := Subject("task", "d", "big")
	_, err := s.Commit(ctx, Append{Subject: subj, Record: Record{Kind: "task", Snapshot: snap(MaxRecordBytes)}})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a record over the bound: %v, want ErrTooLarge", err)
	}
	if _, last, _, _ := s.Info(ctx); last != 0 {
		t.Fatalf("a refused record was written: last sequence %d", last)
	}
	if _, err := s.Commit(ctx, Append{Subject: subj, Record: Record{Kind: "task", Snapshot: snap(MaxRecordBytes - 200)}}); err != nil {
		t.Fatalf("a record at the bound: %v", err)
	}
}
