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

// sessionBenchRecord is a typical session transition as api writes it: the
// session snapshot and one event.
func sessionBenchRecord(sid string, i int) Record {
	at := time.Date(2025, 1, 1, 12, 0, 0, i*1000, time.UTC).Format(time.RFC3339Nano)
	return Record{
		Kind: "session", Domain: "bench", Owner: "AKbench0000000000001", Group: "g1", Entity: sid,
		Snapshot: json.RawMessage(`{"sessionId":"` + sid + `","ownerAccessKey":"AKbench0000000000001","domain":"bench","group":"g1","state":"started","reason":"1736000000000000000","createdAt":"` + at + `","updatedAt":"` + at + `"}`),
		Events: []lifecycle.Event{{Name: "session_started", Data: json.RawMessage(
			`{"sessionId":"` + sid + `","ownerAccessKey":"AKbench0000000000001","group":"g1","state":"started","reason":"1736000000000000000","at":"` + at + `"}`)}},
	}
}

// fillSessions commits n session records spread over `sessions` subjects
// of one owner, with `sessions` concurrent writers (like herald bench
// resume's backlog), and returns the owner's filter subject.
func fillSessions(b *testing.B, s *Store, n, sessions int) string {
	b.Helper()
	ctx := context.Background()
	var next atomic.Int64
	errs := make(chan error, sessions)
	for w := range sessions {
		go func() {
			sid := fmt.Sprintf("bench-%d", w)
			subj := Subject("session", "bench", "AKbench0000000000001", sid)
			var last uint64
			for {
				i := int(next.Add(1))
				if i > n {
					errs <- nil
					return
				}
				ack, err := s.Commit(ctx, Append{Subject: subj, ExpectSeq: last, Record: sessionBenchRecord(sid, i)})
				if err != nil {
					errs <- err
					return
				}
				last = ack.Seq
			}
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return Subject("session", "bench", "AKbench0000000000001") + ".*"
}

// BenchmarkRead measures Read of a 100,000-record backlog of one owner's
// sessions (the resume path of a session feed): the whole range, through
// the owner's wildcard filter.
func BenchmarkRead(b *testing.B) {
	const n = 100000
	s := openBench(b, false)
	filter := fillSessions(b, s, n, 32)
	_, last, _, err := s.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("owner-100k", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		cpu0 := processCPU()
		b.ResetTimer()
		for range b.N {
			got := 0
			var prev uint64
			err := s.Read(ctx, filter, 0, last, func(m Msg) error {
				if m.Seq <= prev || len(m.Record.Events) != 1 {
					return fmt.Errorf("record %d after %d: %d events", m.Seq, prev, len(m.Record.Events))
				}
				prev = m.Seq
				got++
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if got != n {
				b.Fatalf("read %d records, want %d", got, n)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		// CPU time of the whole process (reader and JetStream) per record:
		// steadier than records/s on a shared machine.
		b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(n*b.N), "cpu-µs/record")
	})
}
