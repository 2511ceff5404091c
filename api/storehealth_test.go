package api_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/store"
)

// withStore changes a test server's store settings.
func withStore(f func(*store.Config)) testutil.Option {
	return func(_ *api.Config, c *store.Config) { f(c) }
}

// getText GETs path without credentials and returns status and body.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postTask creates a task with message and returns the response.
func postTask(t *testing.T, srv *testutil.Server, message string) *http.Response {
	t.Helper()
	body := `{"total_progress":10,"message":"` + message + `"}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/tasks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// waitReadyz polls /readyz until it answers want (or fails after 10s).
func waitReadyz(t *testing.T, srv *testutil.Server, want int) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, body := getText(t, srv.URL+"/readyz")
		if st == want {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("/readyz still %d %q after 10s, want %d", st, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStoreFullRefusedAndHealed fills a store capped by MaxBytes: writes
// get 503 "store full" with Retry-After and /readyz says "store full";
// once retention purges records, /readyz turns 200 by itself and writes
// succeed again — no restart.
func TestStoreFullRefusedAndHealed(t *testing.T) {
	srv := testutil.Start(t, withStore(func(c *store.Config) { c.MaxBytes = 128 << 10 }))
	msg := strings.Repeat("m", 1000)
	var resp *http.Response
	for i := 0; i < 500; i++ {
		resp = postTask(t, srv, msg)
		if resp.StatusCode != http.StatusCreated {
			break
		}
		resp.Body.Close()
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("write to a full store: %d, want 503", resp.StatusCode)
	}
	ra := resp.Header.Get("Retry-After")
	p := testutil.Problem(t, resp)
	if p.Title != "store full" || !strings.Contains(p.Detail, "store full") || ra == "" {
		t.Fatalf("refusal: %+v Retry-After %q; want title \"store full\" and a Retry-After", p, ra)
	}
	if st, body := getText(t, srv.URL+"/readyz"); st != 503 || !strings.Contains(body, "store full") {
		t.Fatalf("/readyz of a full store: %d %q", st, body)
	}
	if err := srv.Store.Purge(context.Background(), "herald.task.>"); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready %v after the purge", waitReadyz(t, srv, 200))
	resp = postTask(t, srv, "after")
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("write after the purge: %d", resp.StatusCode)
	}
}

// TestGarbageRecordSkipped publishes bytes that are not a herald record
// onto the stream with a raw NATS connection: it is skipped and counted
// (herald_store_skipped_records_total), and writes, feeds and a restart
// still work.
func TestGarbageRecordSkipped(t *testing.T) {
	srv := testutil.Start(t, withStore(func(c *store.Config) { c.Listen = "127.0.0.1:0" }))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := srv.Admin()
	id, err := adm.CreateTask(ctx, 10, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	feed := srv.OpenFeed(t, "/events/background-task?taskId="+id, srv.Token, nil)
	if _, err := feed.Next(); err != nil { // the task's first event
		t.Fatal(err)
	}
	creds, err := store.ReadCredentials(filepath.Join(srv.Dir, store.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.Store.NATSURL(), nats.UserInfo(creds.User, creds.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request("herald.task.garbage.x", []byte("not json"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	if _, err := adm.TaskProgress(wctx, id, 5, 10, nil); err != nil {
		t.Fatalf("write after the garbage: %v", err)
	}
	wcancel()
	e, err := feed.Next()
	if err != nil || !strings.Contains(e.Data, `"current_progress":5`) {
		t.Fatalf("feed after the garbage: %v %+v", err, e)
	}
	if n := skipped(t, srv); n != 1 {
		t.Fatalf("herald_store_skipped_records_total %v, want 1", n)
	}
	feed.Close()
	srv.Restart(t)
	if _, err := adm.TaskProgress(ctx, id, 6, 10, nil); err != nil {
		t.Fatalf("write after a restart: %v", err)
	}
	if n := skipped(t, srv); n != 1 {
		t.Fatalf("after a restart herald_store_skipped_records_total %v, want 1", n)
	}
}

// skipped is the server's herald_store_skipped_records_total.
func skipped(t *testing.T, srv *testutil.Server) float64 {
	t.Helper()
	n, ok := scrapeMetrics(t, srv)["herald_store_skipped_records_total"]
	if !ok {
		t.Fatal("no herald_store_skipped_records_total in /metrics")
	}
	return n
}

// TestDamagedStoreNewEpochAndReady stops a server, truncates the last
// block of its store, and starts it again: it becomes ready without a
// write (the old code waited at 503 for the lost last record until the
// next write), the epoch changed so the old last id is no longer
// recognized, and new ids never equal old ones.
func TestDamagedStoreNewEpochAndReady(t *testing.T) {
	for _, dropIndex := range []bool{false, true} {
		t.Run(map[bool]string{false: "truncated block", true: "and lost index"}[dropIndex], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir := t.TempDir()
			srv := testutil.Start(t, testutil.WithDir(dir))
			adm := srv.Admin()
			id, err := adm.CreateTask(ctx, 1000, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			for i := int64(1); i <= 300; i++ {
				if _, err := adm.TaskProgress(ctx, id, i, 1000, nil); err != nil {
					t.Fatal(err)
				}
			}
			oldIDs := map[string]bool{}
			feed := srv.OpenFeed(t, "/events/background-task?taskId="+id, srv.Token, nil)
			var lastOld string
			for len(oldIDs) < 301 {
				e, err := feed.Next()
				if err != nil {
					t.Fatal(err)
				}
				oldIDs[e.ID], lastOld = true, e.ID
			}
			feed.Close()
			srv.Close()
			truncateLastBlock(t, dir, dropIndex)

			start := time.Now()
			srv2 := testutil.Start(t, testutil.WithDir(dir)) // waits until ready
			t.Logf("ready %v after the restart", time.Since(start).Round(time.Millisecond))
			if st, body := getText(t, srv2.URL+"/readyz"); st != 200 {
				t.Fatalf("/readyz %d %q", st, body)
			}
			oldEpoch, _, _ := strings.Cut(lastOld, "-")
			if srv2.Store.Epoch() == oldEpoch {
				t.Fatalf("epoch %s kept after records were lost", oldEpoch)
			}
			// The old last id names nothing now: resuming the old task's
			// feed with it replays the task's retained events from the
			// start (the unrecognized-id behaviour), under the new epoch.
			f1 := srv2.OpenFeed(t, "/events/background-task?taskId="+id, srv2.Token, map[string]string{"Last-Event-ID": lastOld})
			stop := time.AfterFunc(5*time.Second, f1.Close)
			e1, err := f1.Next()
			stop.Stop()
			if err != nil {
				t.Fatalf("resume with the old last id %s: nothing replayed (%v): it is still recognized", lastOld, err)
			}
			if !strings.HasPrefix(e1.ID, srv2.Store.Epoch()+"-") {
				t.Fatalf("replayed event id %s, want the new epoch %s", e1.ID, srv2.Store.Epoch())
			}
			f1.Close()
			id2, err := srv2.Admin().CreateTask(ctx, 10, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			f2 := srv2.OpenFeed(t, "/events/background-task?taskId="+id2, srv2.Token, map[string]string{"Last-Event-ID": lastOld})
			e, err := f2.Next()
			if err != nil {
				t.Fatal(err)
			}
			if oldIDs[e.ID] || strings.HasPrefix(e.ID, oldEpoch+"-") {
				t.Fatalf("new event id %s reuses the old epoch %s", e.ID, oldEpoch)
			}
		})
	}
}

// truncateLastBlock cuts the last JetStream message block of a stopped
// store in half and, with dropIndex, deletes its index.db.
func truncateLastBlock(t *testing.T, dir string, dropIndex bool) {
	t.Helper()
	msgs := filepath.Join(dir, "jetstream", "$G", "streams", store.StreamName, "msgs")
	blks, _ := filepath.Glob(filepath.Join(msgs, "*.blk"))
	if len(blks) == 0 {
		t.Fatalf("no message blocks in %s", msgs)
	}
	sort.Strings(blks)
	last := blks[len(blks)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()*3/4); err != nil {
		t.Fatal(err)
	}
	if dropIndex {
		_ = os.Remove(filepath.Join(msgs, "index.db"))
	}
}
