package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/sse"
)

// TestCrossNodeDelivery: on a 3-node cluster with the stream at R3, tasks
// are created and advanced through both herald nodes in turn while feeds
// follow them live on both: every feed sees the same events with the same
// ids in the same order, each write exactly once, and a replay from the
// store after the end (on either node) is the same again.
func TestCrossNodeDelivery(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	if _, replicas := c.streamLeader(); replicas != 3 {
		t.Fatalf("stream replicas %d, want 3", replicas)
	}
	const tasks, writes = 4, 60
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := c.nodes[0], c.nodes[1]
	urls := []string{a.url, b.url}

	ids := make([]string, tasks)
	for i := range ids {
		id, err := createTask(ctx, urls[i%2])
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	// Live feeds on both nodes, each started before the first write.
	type result struct {
		evs []sse.Event
		err error
	}
	got := make([][2]result, tasks)
	var wg sync.WaitGroup
	for i, id := range ids {
		for n, url := range urls {
			f := openKnown(t, ctx, url+"/events/background-task?taskId="+id)
			first, err := f.next()
			if err != nil || first.Type != "task_updated" {
				t.Fatalf("task %d on node %d: first event %+v %v", i, n, first, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer f.close()
				evs := []sse.Event{first}
				for {
					e, err := f.next()
					if err != nil {
						got[i][n] = result{evs, err}
						return
					}
					if e.Type == "server_close" {
						got[i][n] = result{evs, nil}
						return
					}
					evs = append(evs, e)
				}
			}()
		}
	}
	// Writes through both nodes in turn, the tasks advanced concurrently.
	var ww sync.WaitGroup
	errs := make(chan error, tasks)
	for i, id := range ids {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for n := int64(1); n <= writes; n++ {
				r, err := progress(ctx, urls[(i+int(n))%2], id, n, fmt.Sprintf("%s-%d", id, n))
				if err != nil || r.status != http.StatusOK {
					errs <- fmt.Errorf("task %d progress %d: %d %s %v", i, n, r.status, r.body, err)
					return
				}
			}
			r, err := call(ctx, "POST", urls[i%2]+"/v1/tasks/"+id+"/done", map[string]any{})
			if err != nil || r.status != http.StatusOK {
				errs <- fmt.Errorf("task %d done: %d %s %v", i, r.status, r.body, err)
			}
		}()
	}
	ww.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wg.Wait()
	for i, id := range ids {
		for n := range urls {
			if got[i][n].err != nil {
				t.Fatalf("task %d on node %d: %v", i, n, got[i][n].err)
			}
		}
		evA, evB := got[i][0].evs, got[i][1].evs
		if !reflect.DeepEqual(evA, evB) {
			t.Fatalf("task %d: the nodes disagree:\nA %v\nB %v", i, evA, evB)
		}
		checkTaskRun(t, evA, writes)
		// A finished task's feed resumed after its first event replays
		// the rest from the store.
		for n, url := range urls {
			again, err := readTaskFeed(ctx, url, id, evA[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, evA[1:]) {
				t.Fatalf("task %d: replay on node %d differs from the live feed:\n%v\n%v", i, n, again, evA)
			}
		}
	}
	t.Run("session feed", func(t *testing.T) { crossNodeSessions(t, ctx, urls) })
}

// openKnown opens a feed for an entity that may not have reached this node
// yet: a 404 is retried for up to 5 s (this test checks delivery, not the
// read-your-writes barrier).
func openKnown(t *testing.T, ctx context.Context, url string) *feed {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, status, err := openFeed(ctx, url, "")
		if err == nil {
			return f
		}
		if status != http.StatusNotFound || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(pollEvery)
	}
}

// checkTaskRun checks a task's events: task_updated 0, 1, …, writes, each
// once and in order, then task_done; ids strictly increasing.
func checkTaskRun(t *testing.T, evs []sse.Event, writes int64) {
	t.Helper()
	if int64(len(evs)) != writes+2 {
		t.Fatalf("%d events, want %d: %v", len(evs), writes+2, evs)
	}
	for n, e := range evs {
		d, err := parseTask(e)
		if err != nil {
			t.Fatal(err)
		}
		want := "task_updated"
		cur := int64(n)
		if int64(n) == writes+1 {
			want, cur = "task_done", writes
		}
		if e.Type != want || d.Current != cur {
			t.Fatalf("event %d: %s %d, want %s %d", n, e.Type, d.Current, want, cur)
		}
		if n > 0 && !idAfter(e.ID, evs[n-1].ID) {
			t.Fatalf("event %d: id %s not after %s", n, e.ID, evs[n-1].ID)
		}
	}
}

// crossNodeSessions: a session feed on each node, opened before the
// reports, while 20 sessions go through their lifecycle, each report
// through the other node than the one before: both feeds carry the same
// 100 events, with the same ids, in the same order.
func crossNodeSessions(t *testing.T, ctx context.Context, urls []string) {
	const sessions = 20
	owner := sessionOwner(t, ctx, urls[0])
	lifecycle := []string{"enqueued", "preparing", "creating", "started", "terminated"}
	feeds := make([]*feed, len(urls))
	for n, url := range urls {
		f, _, err := openFeed(ctx, url+"/events/session?sessionId=*&ownerAccessKey="+owner, "")
		if err != nil {
			t.Fatal(err)
		}
		defer f.close()
		feeds[n] = f
	}
	for i := range sessions {
		for j, ev := range lifecycle {
			r, err := call(ctx, "POST", urls[(i+j)%2]+"/v1/sessions/events", map[string]any{
				"sessionId": fmt.Sprintf("s%d", i), "ownerAccessKey": owner, "group": "g1", "event": "session_" + ev})
			if err != nil || r.status != http.StatusCreated {
				t.Fatalf("session %d %s: %d %s %v", i, ev, r.status, r.body, err)
			}
		}
	}
	var got [2][]sse.Event
	for n, f := range feeds {
		for len(got[n]) < sessions*len(lifecycle) {
			e, err := f.next()
			if err != nil {
				t.Fatalf("node %d: %v after %d events", n, err, len(got[n]))
			}
			if e.ID != "" {
				got[n] = append(got[n], e)
			}
		}
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Fatalf("the nodes' session feeds differ:\nA %v\nB %v", got[0], got[1])
	}
	for k := 1; k < len(got[0]); k++ {
		if !idAfter(got[0][k].ID, got[0][k-1].ID) {
			t.Fatalf("event %d: id %s not after %s", k, got[0][k].ID, got[0][k-1].ID)
		}
	}
}
