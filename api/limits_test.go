package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// TestStreamCapPerKey: a key holds at most MaxStreamsPerKey streams, on
// every feed together, whether the stream is served by the hub's writers
// or by its handler; a request refused before its 200 (bad input) takes
// no place; an ended stream gives its place back; the superadmin is not
// capped.
func TestStreamCapPerKey(t *testing.T) {
	for _, handlerWrites := range []bool{false, true} {
		t.Run(fmt.Sprintf("handlerWrites=%v", handlerWrites), func(t *testing.T) {
			const limit = 2
			s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) {
				c.MaxStreamsPerKey, c.HandlerWrites, c.Keepalive = limit, handlerWrites, 200*time.Millisecond
			}))
			s.CreateGroup(t, "default", "g")
			user := s.CreateKey(t, "user", "default", []string{"g"}, "")
			ctx := context.Background()
			const feed = "/events/session?sessionId=*"

			// Bad input is refused before the 200 and holds no place.
			for range 2 * limit {
				resp := s.Get(t, ctx, "/events/session?group=not+a+slug", user.Token, nil)
				if resp.StatusCode != 400 {
					t.Fatalf("bad feed request: %d", resp.StatusCode)
				}
				resp.Body.Close()
			}
			feeds := []*testutil.Feed{s.OpenFeed(t, feed, user.Token, nil), s.OpenFeed(t, feed+"&group=g", user.Token, nil)}
			resp := s.Get(t, ctx, feed, user.Token, nil)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("stream %d of a key capped at %d: %d", limit+1, limit, resp.StatusCode)
			}
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if p := testutil.Problem(t, resp); p.Status != 429 || p.Type != "urn:herald:problem:too-many-requests" {
				t.Errorf("problem %+v", p)
			}
			for range limit + 1 {
				s.OpenFeed(t, feed, s.Token, nil) // the superadmin is not capped
			}

			feeds[0].Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				resp := s.Get(t, ctx, feed, user.Token, nil)
				st := resp.StatusCode
				resp.Body.Close()
				if st == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the place of a closed stream did not come back: %d", st)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestWriteRateCountsWritesOnly: a key gets its burst of writes (twice
// RateWrites), then 429 with Retry-After; its reads go on, and another
// key's writes too.
func TestWriteRateCountsWritesOnly(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.RateWrites = 1 })) // burst 2
	svc := s.CreateKey(t, "service", "default", nil, "")
	other := s.CreateKey(t, "service", "default", nil, "")
	post := func(token string) *http.Response {
		req, _ := http.NewRequest("POST", s.URL+"/v1/tasks", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := range 2 {
		if resp := post(svc.Token); resp.StatusCode != 201 {
			t.Fatalf("write %d of the burst: %d", i+1, resp.StatusCode)
		}
	}
	resp := post(svc.Token)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("write past the burst: %d", resp.StatusCode)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra != 1 {
		t.Errorf("Retry-After %q, want 1 (a token a second)", resp.Header.Get("Retry-After"))
	}
	if p := testutil.Problem(t, resp); p.Status != 429 {
		t.Errorf("problem %+v", p)
	}
	get := s.Get(t, context.Background(), "/v1/sessions", svc.Token, nil)
	get.Body.Close()
	if get.StatusCode != 200 {
		t.Errorf("a read of a key over its write rate: %d", get.StatusCode)
	}
	if resp := post(other.Token); resp.StatusCode != 201 {
		t.Errorf("another key's write: %d", resp.StatusCode)
	}
}
