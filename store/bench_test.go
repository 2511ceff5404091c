package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
)

// benchRecord is a typical task transition: a ~200-byte snapshot and one
// event with a ~150-byte payload.
func benchRecord(entity string) Record {
	return Record{
		Kind: "task", Domain: "default", Owner: "AKbench0000000000001", Entity: entity,
		Snapshot: json.RawMessage(`{"task_id":"` + entity + `","status":"running","current_progress":41,"total_progress":100,"message":"copying objects","created_at":"2025-01-01T12:00:00Z","updated_at":"2025-01-01T12:00:41Z"}`),
		Events: []lifecycle.Event{{Name: "task_progress", Data: json.RawMessage(
			`{"task_id":"` + entity + `","current_progress":41,"total_progress":100,"message":"copying objects","at":"2025-01-01T12:00:41.000Z"}`)}},
	}
}

func openBench(b *testing.B, syncAlways bool) *Store {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{Dir: b.TempDir(), SyncAlways: syncAlways})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}

// BenchmarkCommit measures acknowledged appends through Commit on the
// embedded store: one writer chaining ExpectSeq on one subject (serial),
// and many writers each on its own subject (parallel: 8 goroutines per
// CPU), with the default fsync policy (every 1s) and with SyncAlways.
func BenchmarkCommit(b *testing.B) {
	for _, fsync := range []struct {
		name   string
		always bool
	}{{"fsync=1s", false}, {"fsync=always", true}} {
		b.Run("serial/"+fsync.name, func(b *testing.B) {
			s := openBench(b, fsync.always)
			ctx := context.Background()
			const entity = "6f1c2a7e-0000-4000-8000-000000000001"
			subj := Subject("task", "default", entity)
			rec := benchRecord(entity)
			var last uint64
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ack, err := s.Commit(ctx, Append{Subject: subj, ExpectSeq: last, Record: rec})
				if err != nil {
					b.Fatal(err)
				}
				last = ack.Seq
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
		b.Run("parallel/"+fsync.name, func(b *testing.B) {
			s := openBench(b, fsync.always)
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				entity := fmt.Sprintf("6f1c2a7e-0000-4000-8000-%012d", next.Add(1))
				subj := Subject("task", "default", entity)
				rec := benchRecord(entity)
				var last uint64
				for pb.Next() {
					ack, err := s.Commit(ctx, Append{Subject: subj, ExpectSeq: last, Record: rec})
					if err != nil {
						b.Error(err)
						return
					}
					last = ack.Seq
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
