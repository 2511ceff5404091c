package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

// TestResumeLongHistoryFromStore: with the replay cache off, a client
// resuming far behind gets its history from the store through a bulk
// read (a consumer after the first direct-get batch, unfiltered when the
// range is mostly its owner's records, filtered when it is not). It must
// get exactly what a live client got after its Last-Event-ID: same ids,
// types, data and order, nothing of the other owner.
func TestResumeLongHistoryFromStore(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~5,000 reports")
	}
	s := testutil.Start(t, testutil.WithConfig(func(cfg *api.Config) { cfg.ReplayCache = -1 }))
	ctx := context.Background()
	s.CreateGroup(t, "default", "g")
	u := s.CreateKey(t, "user", "default", []string{"g"}, "")
	v := s.CreateKey(t, "user", "default", []string{"g"}, "")
	feed := "/events/session?sessionId=*&ownerAccessKey=" + u.AccessKey
	live := s.OpenFeed(t, feed, s.Token, nil)
	lifecycle := []string{"session_enqueued", "session_preparing", "session_creating", "session_started", "session_terminated"}
	// Phase 1: 1 record in 10 is the other owner's (dense); phase 2: 1 in 2.
	report := func(writers, perWriter, otherEvery int, phase string) {
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				step := map[string]int{} // each session goes through its lifecycle in turn
				for i := range perWriter {
					owner, sid := u.AccessKey, fmt.Sprintf("%s-u%d", phase, w)
					if i%otherEvery == otherEvery-1 {
						owner, sid = v.AccessKey, fmt.Sprintf("%s-v%d", phase, w)
					}
					ev := lifecycle[step[sid]%len(lifecycle)]
					step[sid]++
					if _, err := s.Admin().ReportSession(ctx, sessionReport(sid, owner, "g", ev), ""); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	report(8, 500, 10, "a") // 4,000 records, 3,600 of u
	report(8, 200, 2, "b")  // 1,600 records, 800 of u
	const want = 3600 + 800
	var truth []sse.Event
	cut := time.AfterFunc(time.Minute, live.Close)
	for len(truth) < want {
		e, err := live.Next()
		if err != nil {
			t.Fatalf("live event %d: %v", len(truth), err)
		}
		truth = append(truth, e)
	}
	cut.Stop()
	// From 1 and 7 the range is mostly u's records (a wide read), from 3000 not.
	for _, from := range []int{1, 7, 3000} {
		resumed := s.OpenFeed(t, feed, s.Token, map[string]string{"Last-Event-ID": truth[from-1].ID})
		cut := time.AfterFunc(time.Minute, resumed.Close) // a missing event fails, not hangs
		for i := from; i < len(truth); i++ {
			e, err := resumed.Next()
			if err != nil {
				t.Fatalf("resumed after %d: event %d: %v", from, i, err)
			}
			if e.ID != truth[i].ID || e.Type != truth[i].Type || e.Data != truth[i].Data {
				t.Fatalf("resumed after %d: event %d: got %s %s %s, want %s %s %s", from, i, e.ID, e.Type, e.Data, truth[i].ID, truth[i].Type, truth[i].Data)
			}
		}
		cut.Stop()
		resumed.Close()
	}
}
