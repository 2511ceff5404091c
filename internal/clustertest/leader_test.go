package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ackLog records what a steady writer saw.
type ackLog struct {
	mu        sync.Mutex
	acked     map[int64]bool // progress values acknowledged (200)
	failures  int            // answers that were not 200 (all 503 + Retry-After) or no answer
	firstFail time.Time
	lastFail  time.Time
	slowest   time.Duration // the longest single attempt
}

func (l *ackLog) fail(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures++
	if l.firstFail.IsZero() {
		l.firstFail = now
	}
	l.lastFail = now
}

// writers is one steadyWriter per task, started and stopped together.
type writers struct {
	stop atomic.Bool
	logs []*ackLog
	last []int64
	errs chan error
	wg   sync.WaitGroup
}

// startWriters starts a steadyWriter on each of ids through urls.
func startWriters(ctx context.Context, urls, ids []string) *writers {
	w := &writers{logs: make([]*ackLog, len(ids)), last: make([]int64, len(ids)), errs: make(chan error, len(ids))}
	for i, id := range ids {
		w.logs[i] = &ackLog{acked: map[int64]bool{}}
		w.wg.Go(func() {
			n, err := steadyWriter(ctx, urls, id, &w.stop, w.logs[i])
			w.last[i] = n
			if err != nil {
				w.errs <- err
			}
		})
	}
	return w
}

// halt stops the writers, fails t on any writer's error, and returns each
// writer's log and last value acknowledged.
func (w *writers) halt(t *testing.T) ([]*ackLog, []int64) {
	t.Helper()
	w.stop.Store(true)
	w.wg.Wait()
	close(w.errs)
	for err := range w.errs {
		t.Fatal(err)
	}
	return w.logs, w.last
}

// steadyWriter reports progress 1, 2, … on a task through the nodes in
// turn until stop, each value with its own Idempotency-Key. A value that
// fails is retried with the same key (after Retry-After's pause) until it
// is acknowledged; it returns the last value acknowledged.
func steadyWriter(ctx context.Context, urls []string, task string, stop *atomic.Bool, log *ackLog) (int64, error) {
	node := 0
	var n int64
	for !stop.Load() {
		n++
		key := fmt.Sprintf("%s-%d", task, n)
		for try := 0; ; try++ {
			start := time.Now()
			r, err := call(ctx, "POST", urls[node]+"/v1/tasks/"+task+"/progress", map[string]any{"current_progress": n}, "Idempotency-Key", key)
			node = (node + 1) % len(urls)
			log.mu.Lock()
			log.slowest = max(log.slowest, time.Since(start))
			log.mu.Unlock()
			if err == nil && r.status == http.StatusOK {
				log.mu.Lock()
				log.acked[n] = true
				log.mu.Unlock()
				break
			}
			if err == nil && (r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "") {
				return n, fmt.Errorf("progress %d: %d (Retry-After %q) %s", n, r.status, r.header.Get("Retry-After"), r.body)
			}
			log.fail(time.Now())
			if ctx.Err() != nil || try >= 100 {
				return n, fmt.Errorf("progress %d: gave up after %d tries: %v", n, try+1, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n, nil
}

// TestStreamLeaderKilled: under a steady write load through both herald
// nodes, the nats-server leading the HERALD stream is killed (SIGKILL).
// Writes pause while the two other servers elect a new leader — the
// failed ones answer 503 with Retry-After and are retried with the same
// Idempotency-Key — then continue. Afterwards every acknowledged write is
// in every task's history exactly once, in order, on both nodes, and the
// feeds that were open through the election saw the same.
func TestStreamLeaderKilled(t *testing.T) {
	const writers = 4
	c := startCluster(t, clusterOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	urls := []string{c.nodes[0].url, c.nodes[1].url}

	ids := make([]string, writers)
	live := make([]*follower, writers)
	var following sync.WaitGroup
	for i := range ids {
		id, err := createTask(ctx, urls[i%2])
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		// A feed open through the election, on one node (the other if it
		// drops).
		live[i] = &follower{urls: []string{urls[i%2], urls[(i+1)%2]}, task: id}
		following.Add(1)
		go func() { defer following.Done(); live[i].run(ctx, func() {}) }()
	}
	w := startWriters(ctx, urls, ids)
	time.Sleep(time.Second)
	leader, replicas := c.streamLeader()
	if replicas != 3 {
		t.Fatalf("stream replicas %d, want 3", replicas)
	}
	killed := time.Now()
	leader.kill()
	t.Logf("killed the stream leader %s", leader.name)
	newLeader, _ := c.streamLeader()
	elected := time.Since(killed)
	if newLeader == leader {
		t.Fatalf("the dead server %s still leads", leader.name)
	}
	// Keep writing until the writes have flowed again for a while.
	time.Sleep(2 * time.Second)
	logs, last := w.halt(t)
	failures := 0
	var pause time.Duration
	for _, l := range logs {
		failures += l.failures
		if !l.firstFail.IsZero() && l.lastFail.Sub(l.firstFail) > pause {
			pause = l.lastFail.Sub(l.firstFail)
		}
	}
	t.Logf("new leader %s after %s; %d failed attempts (503 + Retry-After, or no answer), writes paused up to %s",
		newLeader.name, elected.Round(time.Millisecond), failures, pause.Round(time.Millisecond))

	// The cluster may still be settling: a 503 is retried with the same
	// Idempotency-Key, as a client following Retry-After does.
	for i, id := range ids {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			r, err := call(ctx, "POST", urls[i%2]+"/v1/tasks/"+id+"/done", map[string]any{}, "Idempotency-Key", "done-"+id)
			if err == nil && r.status == http.StatusOK {
				break
			}
			if (err == nil && r.status != http.StatusServiceUnavailable) || time.Now().After(deadline) {
				t.Fatalf("done %s: %d %s %v", id, r.status, r.body, err)
			}
		}
	}
	following.Wait()
	reconnects := 0
	for _, f := range live {
		reconnects += f.reconnects
	}
	t.Logf("%d feeds open through the election reconnected %d times", len(live), reconnects)
	for i, id := range ids {
		n := last[i]
		if int64(len(logs[i].acked)) != n {
			t.Fatalf("task %d: %d acknowledged of %d", i, len(logs[i].acked), n)
		}
		for node, url := range urls {
			evs, err := readTaskFeed(ctx, url, id, live[i].evs[0].ID)
			if err != nil {
				t.Fatalf("task %d on node %d: %v", i, node, err)
			}
			checkTaskRun(t, append(live[i].evs[:1:1], evs...), n)
		}
		if live[i].err != nil {
			t.Fatalf("task %d: live feed: %v", i, live[i].err)
		}
		checkTaskRun(t, live[i].evs, n)
	}
}
