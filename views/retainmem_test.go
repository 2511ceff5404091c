package views

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// Memory per retained entity (issue 11, item 5). The views keep every
// retained session, task and job; these tests apply realistic records —
// each entity through its whole lifecycle, as the store's tail hands them
// over — and measure the live heap they leave behind after a collection.
//
// TestRetainedMemoryReport prints the figures (run it with -v; set
// HERALD_MEMREPORT=full for the 100,000 sessions and 10,000 jobs);
// TestRetainedMemoryBound holds them under bounds.

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// recorder turns lifecycle transitions into records and applies them.
type recorder struct {
	t   testing.TB
	v   *Views
	seq uint64
	now time.Time
}

func (r *recorder) apply(kind, domain, subject string, snap []byte, evs []lifecycle.Event, cmds []lifecycle.Command) {
	r.seq++
	r.now = r.now.Add(time.Millisecond)
	// Through JSON, as the store hands records over: what the views keep
	// of a record (a command's node, say) is the record's own copy.
	b, err := json.Marshal(store.Record{Kind: kind, Domain: domain, Entity: subject, Snapshot: snap, Events: evs, Commands: cmds})
	if err != nil {
		r.t.Fatal(err)
	}
	m := &store.Msg{Seq: r.seq, Subject: subject, Time: r.now}
	if err := json.Unmarshal(b, &m.Record); err != nil {
		r.t.Fatal(err)
	}
	if err := r.v.Apply(m); err != nil {
		r.t.Fatal(err)
	}
}

// session reports one session through enqueued → … → terminated, as the
// api stores it (one record per report).
func (r *recorder) session(domain, owner, id, group string) {
	s := lifecycle.Session{SessionID: id, OwnerAccessKey: owner, Domain: domain}
	subject := store.Subject("session", domain, owner, id)
	for _, ev := range lifecycle.SessionEventNames() {
		n, evs, err := s.Apply(lifecycle.SessionReport{Event: ev, Group: group}, r.now)
		if err != nil {
			r.t.Fatal(err)
		}
		s = n
		r.apply("session", domain, subject, s.AppendJSON(make([]byte, 0, 320)), evs, nil)
	}
}

// task creates a task, reports progress twice and finishes it.
func (r *recorder) task(domain, owner, id string) {
	msg := "copying files"
	t, evs, err := lifecycle.NewTask(id, domain, owner, owner, 100, &msg, r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	subject := store.Subject("task", domain, id)
	put := func() {
		b, _ := json.Marshal(t)
		r.apply("task", domain, subject, b, evs, nil)
	}
	put()
	for _, rep := range []lifecycle.TaskReport{{Kind: "progress", Current: ptr(int64(50))}, {Kind: "progress", Current: ptr(int64(100))}, {Kind: "done"}} {
		if t, evs, err = t.Apply(rep, r.now); err != nil {
			r.t.Fatal(err)
		}
		put()
	}
}

func ptr[T any](v T) *T { return &v }

// job starts a job on its nodes (all available), has every node ack the
// commit, ack the run and succeed: the job completes.
func (r *recorder) job(domain, id string, spec lifecycle.JobSpec) {
	avail := make(map[string]bool, len(spec.Nodes))
	for _, n := range spec.Nodes {
		avail[n] = true
	}
	j, evs, cmds, err := lifecycle.StartJob(id, domain, spec, avail, time.Minute, r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	subject := store.Subject("job", domain, id)
	put := func() {
		b, err := json.Marshal(j)
		if err != nil {
			r.t.Fatal(err)
		}
		r.apply("job", domain, subject, b, evs, cmds)
	}
	put()
	for _, msg := range []lifecycle.NodeMessageType{lifecycle.MsgAckCommit, lifecycle.MsgAckRun, lifecycle.MsgSucceeded} {
		for _, n := range spec.Nodes {
			if j, evs, cmds, err = j.NodeMessage(n, msg, r.now); err != nil {
				r.t.Fatal(err)
			}
			put()
		}
	}
	if j.Status != lifecycle.JobComplete {
		r.t.Fatalf("job %s ended %s", id, j.Status)
	}
}

// bigJob starts a job with the largest request herald takes (10,000 nodes
// of 64-byte names, the largest env, file, dir and command: about 825 kB of
// JSON, near the 1 MiB body bound), every node available; the voting timer
// then fires before any node answers: it ends quorum_failed with a commit
// sent to every node. Stepping 10,000 nodes through the run would take
// 30,000 records of 1 MB; this shape keeps every per-node structure the
// views hold for a job.
func (r *recorder) bigJob(domain, id string) {
	nodes := make([]string, lifecycle.MaxJobNodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%05d-%s", i, strings.Repeat("x", 53))
	}
	env := map[string]string{}
	per := lifecycle.MaxJobEnvBytes/lifecycle.MaxJobEnvEntries - 4
	for i := 0; i < lifecycle.MaxJobEnvEntries; i++ {
		env[fmt.Sprintf("V%03d", i)] = strings.Repeat("x", per)
	}
	spec := lifecycle.JobSpec{Command: strings.Repeat("c", lifecycle.MaxJobCommand), Nodes: nodes, Env: env,
		Dir: "/" + strings.Repeat("d", lifecycle.MaxJobDir-1), User: "deploy", RequestedBy: "AKBIGJOBREQUESTER",
		File: "base64:" + base64.StdEncoding.EncodeToString(make([]byte, lifecycle.MaxJobFileBytes))}
	avail := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		avail[n] = true
	}
	j, evs, cmds, err := lifecycle.StartJob(id, domain, spec, avail, time.Minute, r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	subject := store.Subject("job", domain, id)
	b, _ := json.Marshal(j)
	r.apply("job", domain, subject, b, evs, cmds)
	if j, evs, cmds, err = j.VotingTimeout(r.now.Add(time.Hour)); err != nil {
		r.t.Fatal(err)
	}
	if !j.Finished() {
		r.t.Fatalf("big job %s is %s after its voting timer", id, j.Status)
	}
	b, _ = json.Marshal(j)
	r.apply("job", domain, subject, b, evs, cmds)
}

// fleet is how many nodes the typical jobs run on.
const fleet = 200

func fleetNode(i int) string { return fmt.Sprintf("web-%03d.prod.example.com", i%fleet) }

// smallSpec is a typical job: a command, three nodes of the fleet, a few
// env entries, the default timeouts.
func smallSpec(i int) lifecycle.JobSpec {
	nodes := make([]string, 3)
	for k := range nodes {
		nodes[k] = fleetNode(i*7 + k*61)
	}
	return lifecycle.JobSpec{Command: "chef-client -o recipe[deploy::app]", Nodes: nodes,
		Env:         map[string]string{"APP_VERSION": "2.14." + strconv.Itoa(i%100), "DEPLOY_ENV": "production"},
		RequestedBy: "AK" + strings.Repeat("J", 18)}
}

// owners are the producers' access keys sessions are reported for.
func owner(i int) string { return fmt.Sprintf("AKIA%016d", i%100) }

// sessionID is a UUID-like id, distinct per i.
func sessionID(i int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*2654435761%(1<<48))
}

// retainedFigures are live heap bytes per retained entity.
type retainedFigures struct {
	session, task, job, bigJob int64
}

// measureRetained applies the given numbers of entities to fresh views and
// returns live heap bytes per entity of each kind.
func measureRetained(t testing.TB, sessions, tasks, jobs, bigJobs int) retainedFigures {
	v := New()
	r := &recorder{t: t, v: v, now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	// The fleet the typical jobs run on heartbeats: its nodes have
	// presence records (the largest jobs' nodes have none).
	for i := 0; i < fleet; i++ {
		n := fleetNode(i)
		b, _ := json.Marshal(NodeState{Domain: "default", Name: n, Incarnation: "i1", Online: true, SeenAt: r.now, Expires: r.now.Add(time.Hour)})
		r.apply("node", "default", store.Subject("node", "default", n), b, nil, nil)
	}
	// One entity of each kind first, so that the maps' first allocations and
	// the node names' sharing do not land on the measured ones.
	r.session("default", owner(0), "warm-up", "g1")
	r.task("default", owner(0), "warm-up")
	r.job("default", "warm-up", smallSpec(0))
	var f retainedFigures
	per := func(before uint64, n int) int64 {
		if n == 0 {
			return 0
		}
		return (int64(liveHeap()) - int64(before)) / int64(n)
	}
	h := liveHeap()
	for i := 0; i < sessions; i++ {
		r.session("default", owner(i), sessionID(i), fmt.Sprintf("group-%d", i%10))
	}
	f.session = per(h, sessions)
	h = liveHeap()
	for i := 0; i < tasks; i++ {
		r.task("default", owner(i), fmt.Sprintf("%032x", i))
	}
	f.task = per(h, tasks)
	h = liveHeap()
	for i := 0; i < jobs; i++ {
		r.job("default", fmt.Sprintf("%032x", i), smallSpec(i))
	}
	f.job = per(h, jobs)
	h = liveHeap()
	for i := 0; i < bigJobs; i++ {
		r.bigJob("default", fmt.Sprintf("b%031x", i))
	}
	f.bigJob = per(h, bigJobs)
	if file := os.Getenv("HERALD_MEMPROFILE"); file != "" {
		// What the retained entities hold: run with -memprofilerate=1 and
		// read it with go tool pprof -sample_index=inuse_space -top.
		runtime.GC()
		out, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(out); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	runtime.KeepAlive(v)
	return f
}

// TestRetainedMemoryReport logs the live heap per retained entity. By
// default it measures 10,000 sessions, 2,000 tasks, 2,000 jobs and 3 jobs of
// the largest request; HERALD_MEMREPORT=full measures the 100,000
// sessions, 10,000 tasks, 10,000 jobs and 5 of the largest, and
// HERALD_MEMREPORT=S,T,J,L any numbers. HERALD_MEMPROFILE=FILE writes a
// heap profile while the entities are held (with -memprofilerate=1).
func TestRetainedMemoryReport(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	sessions, tasks, jobs, big := 10000, 2000, 2000, 3
	switch env := os.Getenv("HERALD_MEMREPORT"); env {
	case "":
	case "full":
		sessions, tasks, jobs, big = 100000, 10000, 10000, 5
	default: // "sessions,tasks,jobs,largest"
		if _, err := fmt.Sscanf(env, "%d,%d,%d,%d", &sessions, &tasks, &jobs, &big); err != nil {
			t.Fatalf("HERALD_MEMREPORT=%q: want full or sessions,tasks,jobs,largest: %v", env, err)
		}
	}
	f := measureRetained(t, sessions, tasks, jobs, big)
	t.Logf("live heap per retained entity: session %d B (%d sessions), task %d B (%d tasks), job %d B (%d jobs of 3 nodes), largest job %d B (%d jobs of %d nodes)",
		f.session, sessions, f.task, tasks, f.job, jobs, f.bigJob, big, lifecycle.MaxJobNodes)
}

// TestRetainedMemoryBound: a retained entity costs the views at most
// these many bytes of live heap. Before issue 11's item 5 the views kept
// 545 B per session, 470 B per task, 2,195 B per typical job and 4.97 MB
// per job of the largest request (a 1 MB spec: node names, states and
// commands held three times over); now about 314, 310, 1,355 and 1.49 MB.
// The bounds sit between, with room for the noise of a collection.
func TestRetainedMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f := measureRetained(t, 5000, 1000, 1000, 2)
	t.Logf("live heap per retained entity: session %d B, task %d B, job %d B, largest job %d B", f.session, f.task, f.job, f.bigJob)
	for _, c := range []struct {
		what       string
		got, bound int64
	}{
		{"session", f.session, 420},
		{"task", f.task, 400},
		{"typical job", f.job, 1800},
		{"job of the largest request", f.bigJob, 2500 << 10},
	} {
		if c.got > c.bound {
			t.Errorf("a retained %s costs %d bytes of live heap, over %d", c.what, c.got, c.bound)
		}
	}
}
