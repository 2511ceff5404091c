package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

type taskData struct {
	TaskID  string  `json:"task_id"`
	Current int64   `json:"current_progress"`
	Total   int64   `json:"total_progress"`
	Message *string `json:"message"`
}

// readTaskFeed reads a task feed to EOF and checks the SPEC §4 shape:
// task_updated…, one terminal event, server_close without id, then EOF.
// It returns the events before server_close.
func readTaskFeed(t *testing.T, f *testutil.Feed) ([]sse.Event, error) {
	var evs []sse.Event
	for {
		e, err := f.Next()
		if errors.Is(err, io.EOF) {
			return evs, fmt.Errorf("EOF before server_close after %d events", len(evs))
		}
		if err != nil {
			return evs, err
		}
		if e.Type == "server_close" {
			if len(evs) > 0 && e.ID != evs[len(evs)-1].ID {
				return evs, fmt.Errorf("server_close moved the last event id to %q", e.ID)
			}
			if _, err := f.Next(); !errors.Is(err, io.EOF) {
				return evs, fmt.Errorf("want EOF after server_close, got %v", err)
			}
			return evs, nil
		}
		evs = append(evs, e)
	}
}

// checkOrdered checks strictly increasing ids and non-decreasing progress.
func checkOrdered(t *testing.T, evs []sse.Event) {
	t.Helper()
	var last herald.ID
	var prog int64 = -1
	for i, e := range evs {
		id, ok := herald.ParseID(e.ID)
		if !ok {
			t.Fatalf("event %d: bad id %q", i, e.ID)
		}
		if i > 0 && !id.After(last) {
			t.Fatalf("event %d: id %s not after %s", i, e.ID, last)
		}
		last = id
		var d taskData
		if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
			t.Fatalf("event %d: data %q: %v", i, e.Data, err)
		}
		if d.Current < prog {
			t.Fatalf("event %d: progress went back %d → %d", i, prog, d.Current)
		}
		prog = d.Current
	}
}

func feedPath(taskID string) string {
	return "/events/background-task?taskId=" + url.QueryEscape(taskID)
}

// TestTaskFeedFanOut: 50 concurrent subscribers of a task with 100 progress
// updates each receive every event in order, then the terminal event,
// server_close and EOF.
func TestTaskFeedFanOut(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	id, err := c.CreateTask(ctx, 100, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	const subs = 50
	var wg sync.WaitGroup
	results := make([][]sse.Event, subs)
	errs := make([]error, subs)
	for i := 0; i < subs; i++ {
		f := s.OpenFeed(t, feedPath(id), svc.Token, nil)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = readTaskFeed(t, f)
		}(i)
	}
	for p := int64(1); p <= 100; p++ {
		if _, err := c.TaskProgress(ctx, id, p, -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.FinishTask(ctx, id, "done", nil); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := 0; i < subs; i++ {
		if errs[i] != nil {
			t.Fatalf("subscriber %d: %v", i, errs[i])
		}
		evs := results[i]
		if len(evs) != 102 {
			t.Fatalf("subscriber %d: %d events, want 102", i, len(evs))
		}
		checkOrdered(t, evs)
		for j, e := range evs[:101] {
			var d taskData
			_ = json.Unmarshal([]byte(e.Data), &d)
			if e.Type != "task_updated" || d.Current != int64(j) || d.TaskID != id {
				t.Fatalf("subscriber %d event %d: %s %s", i, j, e.Type, e.Data)
			}
		}
		if evs[101].Type != "task_done" {
			t.Fatalf("subscriber %d: last event %s", i, evs[101].Type)
		}
	}
}

// TestTaskFeedResume: a subscriber cut after event k resumes with
// Last-Event-ID or ?lastEventId= and receives exactly k+1…, also across a
// restart; an id from a wiped store is unrecognized (all events again).
func TestTaskFeedResume(t *testing.T) {
	s := testutil.Start(t)
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	id, err := c.CreateTask(ctx, 20, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for p := int64(1); p <= 10; p++ {
		if _, err := c.TaskProgress(ctx, id, p, -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Read the first 6 events (progress 0..5), then cut the connection.
	f := s.OpenFeed(t, feedPath(id), svc.Token, nil)
	var lastID string
	for i := 0; i < 6; i++ {
		e, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		lastID = e.ID
	}
	f.Close()

	finished := make(chan error, 1)
	finish := func() {
		for p := int64(11); p <= 20; p++ {
			if _, err := c.TaskProgress(ctx, id, p, -1, nil); err != nil {
				finished <- err
				return
			}
		}
		_, err := c.FinishTask(ctx, id, "fail", nil)
		finished <- err
	}
	resume := func(name string, header map[string]string, path string, wantFirst int64, wantLen int) {
		t.Helper()
		f := s.OpenFeed(t, path, svc.Token, header)
		evs, err := readTaskFeed(t, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkOrdered(t, evs)
		if len(evs) != wantLen {
			t.Fatalf("%s: %d events, want %d", name, len(evs), wantLen)
		}
		var d taskData
		_ = json.Unmarshal([]byte(evs[0].Data), &d)
		if d.Current != wantFirst {
			t.Fatalf("%s: first event has progress %d, want %d", name, d.Current, wantFirst)
		}
		if evs[len(evs)-1].Type != "task_failed" {
			t.Fatalf("%s: ends with %s", name, evs[len(evs)-1].Type)
		}
	}
	// While the task runs: resume by header, finish the task concurrently.
	go finish()
	resume("header", map[string]string{"Last-Event-ID": lastID}, feedPath(id), 6, 16)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	// Finished task: resume by query parameter; the header wins over it.
	resume("query", nil, feedPath(id)+"&lastEventId="+url.QueryEscape(lastID), 6, 16)
	resume("header wins", map[string]string{"Last-Event-ID": lastID}, feedPath(id)+"&lastEventId=garbage", 6, 16)

	// Across a restart: the same id still resumes at the same place.
	s.Restart(t)
	resume("after restart", map[string]string{"Last-Event-ID": lastID}, feedPath(id), 6, 16)
	// Finished task without an id (or with an unrecognized one): the
	// terminal event alone.
	for _, h := range []map[string]string{nil, {"Last-Event-ID": "nonsense"}, {"Last-Event-ID": "zzzzzzzzzz-3"}} {
		f := s.OpenFeed(t, feedPath(id), svc.Token, h)
		evs, err := readTaskFeed(t, f)
		if err != nil || len(evs) != 1 || evs[0].Type != "task_failed" {
			t.Fatalf("finished task, id %v: %v %v", h, evs, err)
		}
	}

	// A wiped store: a new task's feed with the old id treats it as
	// unrecognized and sends every event from the start.
	w := testutil.Start(t)
	wsvc := w.CreateKey(t, "service", "default", nil, "")
	wc := w.Client(wsvc.Token)
	wid, err := wc.CreateTask(ctx, 3, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for p := int64(1); p <= 3; p++ {
		if _, err := wc.TaskProgress(ctx, wid, p, -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := herald.ParseID(lastID)
	forged := herald.ID{Epoch: old.Epoch, Seq: 2}.String() // plausible seq, foreign epoch
	wf := w.OpenFeed(t, feedPath(wid), wsvc.Token, map[string]string{"Last-Event-ID": forged})
	for p := int64(0); p <= 3; p++ {
		e, err := wf.Next()
		var d taskData
		_ = json.Unmarshal([]byte(e.Data), &d)
		if err != nil || d.Current != p {
			t.Fatalf("wiped-store id: event %d: %v %s", p, err, e.Data)
		}
	}
}

// TestSlowSubscriberEnded: a subscriber that stops reading is ended once it
// owes more than its byte bound, while 100 others that keep up receive
// everything. The producer never runs more than fastLag events ahead of
// the slowest fast reader, so those owe at most a fifth of the bound
// however busy the machine is: the outcome does not depend on timing.
func TestSlowSubscriberEnded(t *testing.T) { streamModes(t, testSlowSubscriberEnded) }

func testSlowSubscriberEnded(t *testing.T, mode testutil.Option) {
	const (
		eventSize = 16 << 10
		bound     = 16 * eventSize // MaxPendingBytes
		fastLag   = 3              // events a fast reader may be behind
	)
	s := testutil.Start(t, mode, testutil.WithConfig(func(c *api.Config) {
		c.MaxPendingBytes = bound
		c.WriteTimeout = 2 * time.Second
	}))
	ctx := context.Background()
	svc := s.CreateKey(t, "service", "default", nil, "")
	c := s.Client(svc.Token)
	id, err := c.CreateTask(ctx, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	// The slow one: opens the feed and never reads, on a socket with a tiny
	// receive buffer, so the server's writes stall and what it owes grows.
	slowResp := openStalled(t, s.URL+feedPath(id), svc.Token)
	defer slowResp.Body.Close()
	const fast = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	moved := sync.NewCond(&mu)
	counts := make([]int, fast)
	over := make([]bool, fast) // the reader stopped (an error, or server_close)
	count := func(i int, end bool) {
		mu.Lock()
		if end {
			over[i] = true
		} else {
			counts[i]++
		}
		moved.Broadcast()
		mu.Unlock()
	}
	// slowest is the fewest events a fast reader that still runs has read.
	slowest := func() int {
		n := math.MaxInt
		for i, c := range counts {
			if !over[i] {
				n = min(n, c)
			}
		}
		return n
	}
	for i := 0; i < fast; i++ {
		f := s.OpenFeed(t, feedPath(id), svc.Token, nil)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer count(i, true)
			// Count frames cheaply: these events are 16 KB each.
			br := bufio.NewReaderSize(f.Resp.Body, 64<<10)
			for {
				line, err := br.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					continue
				}
				if err != nil {
					t.Errorf("fast subscriber %d: %v", i, err)
					return
				}
				if bytes.HasPrefix(line, []byte("event: ")) {
					if bytes.Equal(line, []byte("event: server_close\n")) {
						return
					}
					count(i, false)
				}
			}
		}(i)
	}
	msg := strings.Repeat("x", eventSize)
	// Write until the slow one is ended: once the socket buffers between it
	// and the server are full (4 MB here), it owes the bound within 16
	// events. maxUpdates (32 MB) only stops a broken server.
	const maxUpdates = 2000
	st := s.API.Hub().Stats()
	updates := 0
	for p := 1; p <= maxUpdates && st.EndedBy(hub.EndSlow) == 0; p++ {
		updates = p
		if _, err := c.TaskProgress(ctx, id, int64(p), -1, &msg); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for slowest() < p+1-fastLag { // +1: the task's first event
			moved.Wait()
		}
		mu.Unlock()
	}
	t.Logf("the slow subscriber was ended after %d updates", updates)
	if _, err := c.FinishTask(ctx, id, "done", nil); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, n := range counts {
		if n != updates+2 {
			t.Fatalf("fast subscriber %d got %d events, want %d", i, n, updates+2)
		}
	}
	if got := st.EndedBy(hub.EndSlow); got != 1 {
		t.Fatalf("%d subscribers ended as slow, want exactly 1", got)
	}
}

// openStalled opens an SSE request on a connection whose receive buffer is
// as small as the kernel allows, and never reads it.
func openStalled(t *testing.T, url, token string) *http.Response {
	t.Helper()
	d := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stalled subscriber: %v %v", err, resp)
	}
	return resp
}
