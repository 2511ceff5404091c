package clustertest

import (
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald/sse"
)

// frozenFor is how long a nats-server is stopped (SIGSTOP) to cut it off.
const frozenFor = 7 * time.Second

// TestNATSFollowerCutOff: under steady writes through three herald nodes,
// a nats-server that is not the stream's leader is cut off (SIGSTOP: it
// answers nothing, as behind a partition) and comes back after a while
// (SIGCONT). The two others are a majority, so writes through nodes A and
// B go on; node C, whose NATS connection is on the frozen server, answers
// 503 + Retry-After until the server is back, and the writes are retried
// elsewhere with the same Idempotency-Key. Every acknowledged write is
// there exactly once afterwards, on every node.
func TestNATSFollowerCutOff(t *testing.T) {
	const writers = 4
	c := startCluster(t, clusterOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A third herald node connects to a follower only (it learns the other
	// servers from it, for reconnecting); that follower is cut off.
	leader, _ := c.streamLeader()
	var cut *natsNode
	for _, n := range c.nats {
		if n != leader {
			cut = n
			break
		}
	}
	third := c.startHerald("--nats", cut.url)
	if k, err := cut.heraldClients(); err != nil || k == 0 {
		t.Fatalf("no herald connection on %s: %d %v", cut.name, k, err)
	}
	urls := []string{c.nodes[0].url, c.nodes[1].url, third.url}
	ids := make([]string, writers)
	firsts := make([]sse.Event, writers) // each task's first event
	for i := range ids {
		id, err := createTask(ctx, urls[i%3])
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		f, _, err := openFeed(ctx, urls[i%3]+"/events/background-task?taskId="+id, "")
		if err != nil {
			t.Fatal(err)
		}
		firsts[i], err = f.next()
		f.close()
		if err != nil {
			t.Fatal(err)
		}
	}
	w := startWriters(ctx, urls, ids)
	time.Sleep(time.Second)
	if err := cut.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cut.cmd.Process.Signal(syscall.SIGCONT) })
	stopped := time.Now()
	time.Sleep(frozenFor)
	if err := cut.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	back := time.Since(stopped)
	time.Sleep(2 * time.Second)
	logs, last := w.halt(t)
	failures := 0
	var slowest time.Duration
	for _, l := range logs {
		failures += l.failures
		slowest = max(slowest, l.slowest)
	}
	if now, _ := c.streamLeader(); now != leader {
		t.Logf("the leader moved from %s to %s", leader.name, now.name)
	}
	t.Logf("%s (herald node C's server) cut off for %s (leader %s): %d failed write attempts, the slowest attempt took %s",
		cut.name, back.Round(time.Millisecond), leader.name, failures, slowest.Round(time.Millisecond))
	for i, id := range ids {
		r, err := call(ctx, "POST", urls[i%3]+"/v1/tasks/"+id+"/done", map[string]any{})
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("done %s: %d %s %v", id, r.status, r.body, err)
		}
		for node, url := range urls {
			evs, err := readTaskFeed(ctx, url, id, firsts[i].ID)
			if err != nil {
				t.Fatalf("task %d on node %d: %v", i, node, err)
			}
			checkTaskRun(t, append([]sse.Event{firsts[i]}, evs...), last[i])
		}
	}
}
