package api_test

import (
	"bufio"
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
	"github.com/herald-sse/herald/sse"
	"github.com/herald-sse/herald/store"
)

// twoNodes starts two herald servers in this process on one store: a
// runs the embedded NATS server and exposes it, b connects to it (as
// --nats-listen and --nats do).
func twoNodes(t *testing.T) (a, b *testutil.Server) {
	t.Helper()
	a = testutil.Start(t, func(_ *api.Config, s *store.Config) { s.Listen = "127.0.0.1:0" })
	creds, err := store.ReadCredentials(filepath.Join(a.Dir, store.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	b = testutil.Start(t, func(_ *api.Config, s *store.Config) {
		s.URLs, s.Credentials = []string{a.Store.NATSURL()}, &creds
	})
	return a, b
}

// openSSE opens url's SSE feed (resuming after lastID when set); it is
// closed when the test ends.
func openSSE(t *testing.T, ctx context.Context, url, token, lastID string) *sse.Reader {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	return sse.NewReader(bufio.NewReader(resp.Body))
}

// firstEvent opens url's SSE feed and returns its first event.
func firstEvent(t *testing.T, ctx context.Context, url, token, lastID string) sse.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e, err := openSSE(t, ctx, url, token, lastID).Next()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestBarrierReadYourWrites: a task created through node a is found at
// once through node b (no 404), however little b's tail lags.
func TestBarrierReadYourWrites(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	ca, cb := a.Admin(), b.Admin()
	const tries = 100
	for i := range tries {
		id, err := ca.CreateTask(ctx, 0, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cb.GetTask(ctx, id); err != nil {
			t.Fatalf("try %d: the task a just created, read through b: %v", i, err)
		}
	}
}

// TestBarrierAnswersAtOnce: what no node will ever know costs no wait:
// an unknown task is 404 and an unknown token 401, well within the
// barrier's bound; an id from beyond the store's end is unrecognized (the
// feed starts from the beginning) after StaleLastWait, not the barrier's
// whole bound.
func TestBarrierAnswersAtOnce(t *testing.T) {
	a, b := twoNodes(t)
	ctx := context.Background()
	id, err := a.Admin().CreateTask(ctx, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	const quick = api.CatchUpWait / 5
	for _, tc := range []struct {
		name   string
		path   string
		token  string
		header map[string]string
		status int
	}{
		{"unknown task", "/v1/tasks/" + uuid.NewString(), b.Token, nil, http.StatusNotFound},
		{"unknown task feed", "/events/background-task?taskId=" + uuid.NewString(), b.Token, nil, http.StatusNotFound},
		{"unknown token", "/v1/tasks/" + id, "hrld_no-such-token-0123456789abcdefghijklmnopqrstu", nil, http.StatusUnauthorized},
	} {
		start := time.Now()
		resp := b.Get(t, ctx, tc.path, tc.token, tc.header)
		resp.Body.Close()
		if resp.StatusCode != tc.status || time.Since(start) > quick {
			t.Fatalf("%s: %d after %s, want %d within %s", tc.name, resp.StatusCode, time.Since(start), tc.status, quick)
		}
	}
	first := firstEvent(t, ctx, a.URL+"/events/background-task?taskId="+id, a.Token, "")
	start := time.Now()
	future := b.Store.Epoch() + "-1099511627776"
	// The store's "past my end" may be a lagging replica's: the id gets
	// api.StaleLastWait, not the whole barrier.
	if e := firstEvent(t, ctx, b.URL+"/events/background-task?taskId="+id, b.Token, future); e.ID != first.ID || time.Since(start) > api.StaleLastWait+quick {
		t.Fatalf("resume from beyond the store: first event %s after %s, want %s (from the start) within %s", e.ID, time.Since(start), first.ID, api.StaleLastWait+quick)
	}
}

// TestBarrierResumeOnOtherNode: a feed resumed through node b with the id
// node a just sent continues exactly after it: the next event, not the
// same one again (an id b had not applied yet was unrecognized before, and
// the task feed started over).
func TestBarrierResumeOnOtherNode(t *testing.T) {
	a, b := twoNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ca := a.Admin()
	id, err := ca.CreateTask(ctx, 0, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	fa := openSSE(t, ctx, a.URL+"/events/background-task?taskId="+id, a.Token, "")
	if _, err := fa.Next(); err != nil {
		t.Fatal(err)
	}
	const tries = 100
	for n := int64(1); n <= tries; n++ {
		if _, err := ca.TaskProgress(ctx, id, 2*n-1, -1, nil); err != nil {
			t.Fatal(err)
		}
		e, err := fa.Next()
		if err != nil {
			t.Fatal(err)
		}
		bctx, bcancel := context.WithCancel(ctx)
		fb := openSSE(t, bctx, b.URL+"/events/background-task?taskId="+id, b.Token, e.ID)
		if _, err := ca.TaskProgress(ctx, id, 2*n, -1, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := fa.Next(); err != nil {
			t.Fatal(err)
		}
		next, err := fb.Next()
		bcancel()
		if err != nil {
			t.Fatal(err)
		}
		x, _ := herald.ParseID(next.ID)
		y, _ := herald.ParseID(e.ID)
		if !x.After(y) {
			t.Fatalf("try %d: resumed after %s through b, got %s again or before it", n, e.ID, next.ID)
		}
	}
}
