package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/herald-sse/herald/sse"
)

// Event is one server-sent event as the client received it.
type Event = sse.Event

// ErrStop, returned by a Subscribe callback, ends the subscription cleanly.
var ErrStop = errors.New("client: stop")

// FeedOptions tune Subscribe. The zero value works.
type FeedOptions struct {
	// LastEventID resumes after this id (as Last-Event-ID).
	LastEventID string
	// StopAfter lists event names after which the feed is complete (the
	// callback has seen them); "server_close" always ends a feed.
	StopAfter []string
	// MinBackoff and MaxBackoff bound the reconnect delay (defaults 250ms
	// and 30s). A retry: field from the server raises MinBackoff.
	MinBackoff, MaxBackoff time.Duration
	// OnReconnect, if set, is told of each reconnection and why.
	OnReconnect func(attempt int, delay time.Duration, err error)
	// OnComment, if set, receives comment lines (keepalives).
	OnComment func(text string)
	// NeverConnectedLimit, when positive, ends Subscribe with the last
	// error if no connection was answered 200 within that time of its
	// start (a wrong URL, a server that is not running). Once one was,
	// reconnecting goes on without limit.
	NeverConnectedLimit time.Duration
}

// ErrNeverConnected is what Subscribe returns (wrapping the last error)
// when FeedOptions.NeverConnectedLimit passed without a connection.
var ErrNeverConnected = errors.New("client: no connection to the feed")

// Subscribe follows an SSE feed (path and query, e.g.
// "/events/background-task?taskId=…") and calls fn for every event, in
// order. When the connection drops it reconnects with exponential backoff
// and jitter and resumes with Last-Event-ID, so fn sees no gap and no
// duplicate. It returns nil when the feed is complete (server_close, an
// event in StopAfter, or fn returned ErrStop), ctx's error when ctx ends,
// and the server's *Error for a refusal that retrying cannot fix (4xx).
// A 503 (a server starting) or 429 waits at least its Retry-After.
func (c *Client) Subscribe(ctx context.Context, path string, opt FeedOptions, fn func(Event) error) error {
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 250 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 30 * time.Second
	}
	stop := map[string]bool{"server_close": true}
	for _, n := range opt.StopAfter {
		stop[n] = true
	}
	last := opt.LastEventID
	attempt := 0
	began, connected := time.Now(), false
	for {
		progressed, done, err := c.follow(ctx, path, &last, &opt, stop, &connected, fn)
		if done || errors.Is(err, ErrStop) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ce *Error
		if errors.As(err, &ce) && ce.Status >= 400 && ce.Status < 500 && ce.Status != http.StatusTooManyRequests {
			return err
		}
		if progressed {
			attempt = 0
		}
		attempt++
		delay := retryDelay(err, attempt, opt.MinBackoff, opt.MaxBackoff)
		if limit := opt.NeverConnectedLimit; limit > 0 && !connected {
			left := limit - time.Since(began)
			if left <= 0 {
				return fmt.Errorf("%w in %v: %w", ErrNeverConnected, limit, err)
			}
			delay = min(delay, left)
		}
		if opt.OnReconnect != nil {
			opt.OnReconnect(attempt, delay, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is min·2^(attempt-1) capped at max, with "full jitter" on the
// upper half so reconnecting clients spread out.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// follow runs one connection. progressed reports whether any event came.
// connected is set once the server answers 200.
func (c *Client) follow(ctx context.Context, path string, last *string, opt *FeedOptions, stop map[string]bool, connected *bool, fn func(Event) error) (progressed, done bool, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(c.Server, "/")+path, nil)
	if err != nil {
		return false, false, &Error{Status: 400, Title: "Bad Request", Detail: err.Error()}
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if *last != "" {
		req.Header.Set("Last-Event-ID", *last)
	}
	hc := c.HTTP
	if hc == nil || hc.Timeout != 0 {
		// A whole-request timeout would cut a long-lived stream.
		hc = &http.Client{Transport: transportOf(hc)}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		// The feed has ended and nothing is left after our last id
		// (SPEC §4, §5.3): it is done, as after its last event.
		return false, true, nil
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return false, false, problem(resp.StatusCode, resp.Header, data)
	}
	*connected = true
	r := sse.NewReader(bufio.NewReaderSize(resp.Body, 16<<10))
	r.OnComment = opt.OnComment
	for {
		e, err := r.Next()
		if rt := r.Retry(); rt > 0 && time.Duration(rt)*time.Millisecond > opt.MinBackoff {
			opt.MinBackoff = time.Duration(rt) * time.Millisecond
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the server ended the stream: reconnect
			}
			return progressed, false, fmt.Errorf("feed %s: %w", path, err)
		}
		progressed = true
		if e.ID != "" {
			*last = e.ID
		}
		if err := fn(e); err != nil {
			return true, false, err
		}
		if stop[e.Type] {
			return true, true, nil
		}
	}
}

func transportOf(hc *http.Client) http.RoundTripper {
	if hc != nil && hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}
