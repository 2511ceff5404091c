package views

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// bigJobRecords returns the start record of a job with the largest env
// and file a request may have, and one later record of it (a node's vote),
// as the store holds them.
func bigJobRecords(t testing.TB, id string, seq uint64) []*store.Msg {
	env := map[string]string{}
	per := lifecycle.MaxJobEnvBytes/lifecycle.MaxJobEnvEntries - 4
	for i := 0; i < lifecycle.MaxJobEnvEntries; i++ {
		env[fmt.Sprintf("V%03d", i)] = strings.Repeat("x", per)
	}
	spec := lifecycle.JobSpec{Command: "deploy", Nodes: []string{"n1", "n2"}, Env: env, RequestedBy: "HKX",
		File: "base64:" + base64.StdEncoding.EncodeToString(make([]byte, lifecycle.MaxJobFileBytes))}
	now := time.Now()
	j, evs, cmds, err := lifecycle.StartJob(id, "default", spec, map[string]bool{"n1": true, "n2": true}, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	j2, evs2, _, err := j.NodeMessage("n1", lifecycle.MsgAckCommit, now)
	if err != nil {
		t.Fatal(err)
	}
	subj := store.Subject("job", "default", id)
	s1, _ := json.Marshal(j)
	s2, _ := json.Marshal(j2)
	return []*store.Msg{
		{Seq: seq, Subject: subj, Time: now, Record: store.Record{Kind: "job", Domain: "default", Entity: id, Snapshot: s1, Events: evs, Commands: cmds}},
		{Seq: seq + 1, Subject: subj, Time: now, Record: store.Record{Kind: "job", Domain: "default", Entity: id, Snapshot: s2, Events: evs2}},
	}
}

// TestRetainedJobMemory: the views do not hold a retained job's file: a job
// with the largest env (16 KiB) and file (100 kB, 133 kB in base64) costs
// the views less than 64 KiB of heap, whatever its records held (issue 12:
// 400 jobs of ~1 MB took RSS from 138 MB to 2.3 GB). The file stays
// reachable through the job's start record (StartSeq).
func TestRetainedJobMemory(t *testing.T) {
	const jobs = 100
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	v := New()
	before := heap()
	recordBytes := 0
	for i := 0; i < jobs; i++ {
		for _, m := range bigJobRecords(t, fmt.Sprintf("%032x", i), uint64(2*i+1)) {
			recordBytes += len(m.Record.Snapshot)
			if err := v.Apply(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := heap()
	per := (int64(after) - int64(before)) / jobs
	t.Logf("%d jobs (%d bytes of snapshots each): %d bytes of heap per retained job", jobs, recordBytes/jobs/2, per)
	if per > 64<<10 {
		t.Errorf("a retained job costs %d bytes of heap, over 64 KiB", per)
	}
	e, ok := v.Job("default", fmt.Sprintf("%032x", 0))
	if !ok || e.CreatedSeq != 1 || e.Job.Spec.File != "" || !e.Job.Spec.HasFile() {
		t.Errorf("the retained job: file kept %d bytes, has file %v, start record %d", len(e.Job.Spec.File), e.Job.Spec.HasFile(), e.CreatedSeq)
	}
	runtime.KeepAlive(v)
}
