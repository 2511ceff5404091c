package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
)

// TestResumeFromReplayCache: a client resuming on the session feed gets
// the same events whether they come from the hub's memory of recent
// deliveries, from the store, or from both (a memory that reaches back only
// part of the way).
func TestResumeFromReplayCache(t *testing.T) {
	cases := []struct {
		name  string
		cache int64
		want  string // where the resume must read from
	}{
		{"store only", -1, "store"},
		{"part memory", 40 << 10, "both"},
		{"memory", 0, "memory"}, // the default
	}
	lifecycle := []string{"session_enqueued", "session_preparing", "session_creating", "session_started", "session_terminated"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testutil.Start(t, testutil.WithConfig(func(cfg *api.Config) { cfg.ReplayCache = c.cache }))
			ctx := context.Background()
			s.CreateGroup(t, "default", "g")
			u := s.CreateKey(t, "user", "default", []string{"g"}, "")
			v := s.CreateKey(t, "user", "default", []string{"g"}, "")
			feed := "/events/session?sessionId=*&ownerAccessKey=" + u.AccessKey
			live := s.OpenFeed(t, feed, s.Token, nil)
			const sessions = 60
			for i := range sessions {
				for _, ev := range lifecycle {
					if _, err := s.Admin().ReportSession(ctx, sessionReport(fmt.Sprintf("u%d", i), u.AccessKey, "g", ev), ""); err != nil {
						t.Fatal(err)
					}
					if i%3 == 0 { // another owner's events in between: not on this feed
						if _, err := s.Admin().ReportSession(ctx, sessionReport(fmt.Sprintf("v%d", i), v.AccessKey, "g", ev), ""); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			var truth []sse.Event
			for len(truth) < sessions*len(lifecycle) {
				e, err := live.Next()
				if err != nil {
					t.Fatal(err)
				}
				truth = append(truth, e)
			}
			const from = 40
			resumed := s.OpenFeed(t, feed, s.Token, map[string]string{"Last-Event-ID": truth[from-1].ID})
			cut := time.AfterFunc(30*time.Second, resumed.Close) // a missing event fails, not hangs
			defer cut.Stop()
			for i := from; i < len(truth); i++ {
				e, err := resumed.Next()
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if e.ID != truth[i].ID || e.Type != truth[i].Type || e.Data != truth[i].Data {
					t.Fatalf("event %d: got %s %s %s, want %s %s %s", i, e.ID, e.Type, e.Data, truth[i].ID, truth[i].Type, truth[i].Data)
				}
			}
			// Where it came from: the history's reach against the resume point.
			id, ok := herald.ParseID(truth[from-1].ID)
			if !ok {
				t.Fatalf("id %q", truth[from-1].ID)
			}
			seq := id.Seq
			ds, lo := s.API.Hub().History(seq-1, ^uint64(0), nil)
			got := "memory"
			switch {
			case len(ds) == 0:
				got = "store"
			case lo > seq:
				got = "both"
			}
			if got != c.want {
				t.Fatalf("resume read from %s (lo %d, %d remembered), want %s", got, lo, len(ds), c.want)
			}
		})
	}
}
