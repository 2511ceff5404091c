package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/sse"
)

// follower follows one task feed: on the first node it is given, then,
// whenever the connection drops, on the next node with the id of the last
// event it got, until server_close.
type follower struct {
	urls       []string // nodes to try in turn
	task       string
	evs        []sse.Event
	reconnects int
	resumedAt  time.Time // when the first event after a reconnect came
	err        error
}

// maxReconnects bounds a follower's reconnections.
const maxReconnects = 50

// run follows the feed until server_close, ctx's end or too many tries;
// ready is closed (once) after the first event.
func (f *follower) run(ctx context.Context, ready func()) {
	last := ""
	node := 0
	dropped := false
	for try := 0; try <= maxReconnects; try++ {
		fd, status, err := openFeed(ctx, f.urls[node]+"/events/background-task?taskId="+f.task, last)
		if err != nil {
			if ctx.Err() != nil || (status != 0 && status != http.StatusServiceUnavailable) {
				f.err = err
				return
			}
			node = (node + 1) % len(f.urls)
			f.reconnects++
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for {
			e, err := fd.next()
			if err != nil {
				break
			}
			if dropped {
				dropped = false
				f.resumedAt = time.Now()
			}
			if e.Type == "server_close" {
				fd.close()
				return
			}
			f.evs = append(f.evs, e)
			last = e.ID
			if len(f.evs) == 1 {
				ready()
			}
		}
		fd.close()
		if ctx.Err() != nil {
			f.err = ctx.Err()
			return
		}
		dropped = true
		node = (node + 1) % len(f.urls)
		f.reconnects++
	}
	f.err = errors.New("too many reconnections")
}

// writeTask writes progress 1..n to a task through the nodes in turn,
// each write with its own Idempotency-Key; a write that fails (the node
// is gone, or answers 503) is retried with the same key on the next node.
// It then reports done. Every 503 must carry Retry-After.
func writeTask(ctx context.Context, urls []string, task string, n int64, written *atomic.Int64) error {
	node := 0
	send := func(path string, body any, key string) error {
		for try := 0; ; try++ {
			r, err := call(ctx, "POST", urls[node]+path, body, "Idempotency-Key", key)
			if err == nil && r.status == http.StatusOK {
				return nil
			}
			if err == nil && r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "" {
				return fmt.Errorf("%s: 503 without Retry-After", path)
			}
			if err == nil && r.status != http.StatusServiceUnavailable {
				return fmt.Errorf("%s: %d %s", path, r.status, r.body)
			}
			if ctx.Err() != nil || try >= 200 {
				return fmt.Errorf("%s: gave up after %d tries: %v", path, try+1, err)
			}
			node = (node + 1) % len(urls)
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := int64(1); i <= n; i++ {
		if err := send("/v1/tasks/"+task+"/progress", map[string]any{"current_progress": i}, fmt.Sprintf("%s-p%d", task, i)); err != nil {
			return err
		}
		written.Add(1)
		node = (node + 1) % len(urls)
		time.Sleep(5 * time.Millisecond)
	}
	return send("/v1/tasks/"+task+"/done", map[string]any{}, task+"-done")
}

// TestHeraldNodeKilled: 1,000 subscribers follow 10 tasks on herald node
// A while the tasks are written through both nodes. A is killed
// (SIGKILL) mid-stream; every subscriber reconnects to B with the id of
// the last event it got and ends with every event exactly once, in order
// (0 lost, 0 duplicated). Writes in flight on A are retried on B with the
// same Idempotency-Key and are applied once.
func TestHeraldNodeKilled(t *testing.T) {
	const tasks, perTask, writes = 10, 100, 40
	c := startCluster(t, clusterOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := c.nodes[0], c.nodes[1]

	ids := make([]string, tasks)
	for i := range ids {
		id, err := createTask(ctx, b.url)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	followers := make([]*follower, 0, tasks*perTask)
	var ready, done sync.WaitGroup
	for _, id := range ids {
		for range perTask {
			f := &follower{urls: []string{a.url, b.url}, task: id}
			followers = append(followers, f)
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				var once sync.Once
				f.run(ctx, func() { once.Do(ready.Done) })
				once.Do(ready.Done)
			}()
		}
	}
	ready.Wait()
	for _, f := range followers {
		if f.err != nil {
			t.Fatalf("follower of %s: %v", f.task, f.err)
		}
	}

	var written atomic.Int64
	errs := make(chan error, tasks)
	var ww sync.WaitGroup
	for _, id := range ids {
		ww.Add(1)
		go func() {
			defer ww.Done()
			if err := writeTask(ctx, []string{a.url, b.url}, id, writes, &written); err != nil {
				errs <- err
			}
		}()
	}
	// Kill A when about a third of the writes are acknowledged.
	for written.Load() < tasks*writes/3 && ctx.Err() == nil {
		time.Sleep(pollEvery)
	}
	killed := time.Now()
	a.kill()
	ww.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	done.Wait()

	var resume []time.Duration
	for i, f := range followers {
		if f.err != nil {
			t.Fatalf("follower %d: %v after %d events", i, f.err, len(f.evs))
		}
		if f.reconnects == 0 {
			t.Fatalf("follower %d never reconnected: it was not on A", i)
		}
		checkTaskRun(t, f.evs, writes)
		if !f.resumedAt.IsZero() {
			resume = append(resume, f.resumedAt.Sub(killed))
		}
	}
	sort.Slice(resume, func(i, j int) bool { return resume[i] < resume[j] })
	if len(resume) > 0 {
		t.Logf("%d subscribers resumed on B after A was killed: 0 lost, 0 duplicated; first event after the kill: median %s, max %s",
			len(followers), resume[len(resume)/2].Round(time.Millisecond), resume[len(resume)-1].Round(time.Millisecond))
	}
}
