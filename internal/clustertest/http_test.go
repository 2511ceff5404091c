package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/sse"
)

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// hc is the tests' HTTP client: bounded, with room for many connections.
var hc = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// call does a request as the superadmin with a JSON body (nil: none)
// and extra headers given as name, value pairs.
func call(ctx context.Context, method, url string, body any, hdr ...string) (reply, error) {
	return callAs(ctx, testToken, method, url, body, hdr...)
}

// callAs is call with the given bearer token.
func callAs(ctx context.Context, token, method, url string, body any, hdr ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// decode reads the reply's JSON body into v.
func (r reply) decode(v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("status %d body %q: %w", r.status, r.body, err)
	}
	return nil
}

// createTask creates a task through the node at url and returns its id.
func createTask(ctx context.Context, url string) (string, error) {
	r, err := call(ctx, "POST", url+"/v1/tasks", map[string]any{})
	if err != nil {
		return "", err
	}
	if r.status != http.StatusCreated {
		return "", fmt.Errorf("create task: %d %s", r.status, r.body)
	}
	var out struct {
		ID string `json:"task_id"`
	}
	return out.ID, r.decode(&out)
}

// progress reports current progress n on a task through url, with an
// Idempotency-Key, and returns the reply.
func progress(ctx context.Context, url, task string, n int64, key string) (reply, error) {
	return call(ctx, "POST", url+"/v1/tasks/"+task+"/progress",
		map[string]any{"current_progress": n}, "Idempotency-Key", key)
}

// feed is an open SSE response.
type feed struct {
	resp *http.Response
	r    *sse.Reader
}

// openFeed opens the SSE feed at url (path and query included), resuming
// after lastID when it is set. A refusal is returned as an error with its
// status.
func openFeed(ctx context.Context, url, lastID string) (*feed, int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := streamClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, resp.StatusCode, fmt.Errorf("feed %s: %d %s", url, resp.StatusCode, b)
	}
	return &feed{resp: resp, r: sse.NewReader(bufio.NewReader(resp.Body))}, resp.StatusCode, nil
}

// streamClient has no overall timeout: feeds are bounded by their ctx.
var streamClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (f *feed) next() (sse.Event, error) { return f.r.Next() }
func (f *feed) close()                   { f.resp.Body.Close() }

// readTaskFeed reads a task feed from url to its server_close and returns
// its events (server_close excluded).
func readTaskFeed(ctx context.Context, url, task, lastID string) ([]sse.Event, error) {
	f, _, err := openFeed(ctx, url+"/events/background-task?taskId="+task, lastID)
	if err != nil {
		return nil, err
	}
	defer f.close()
	var evs []sse.Event
	for {
		e, err := f.next()
		if err != nil {
			return evs, fmt.Errorf("task feed ended without server_close after %d events: %w", len(evs), err)
		}
		if e.Type == "server_close" {
			return evs, nil
		}
		evs = append(evs, e)
	}
}

// taskEvent is the data of a task event.
type taskEvent struct {
	ID      string  `json:"task_id"`
	Current int64   `json:"current_progress"`
	Message *string `json:"message"`
}

func parseTask(e sse.Event) (taskEvent, error) {
	var d taskEvent
	err := json.Unmarshal([]byte(e.Data), &d)
	return d, err
}

// idAfter reports whether event id a comes after b (both must parse).
func idAfter(a, b string) bool {
	x, ok1 := herald.ParseID(a)
	y, ok2 := herald.ParseID(b)
	return ok1 && ok2 && x.After(y)
}
