// Package client is herald's Go client: producer and admin calls over the
// HTTP API. The CLI, the agent and the tests use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client calls one herald server.
type Client struct {
	// Server is the base URL, e.g. http://127.0.0.1:8080.
	Server string
	// Token is the bearer token.
	Token string
	// HTTP is the client used; nil means http.DefaultClient.
	HTTP *http.Client
	// Retries bounds how many times a call is sent again after a 429,
	// 502, 503 or 504 answer (waiting at least its Retry-After) or a
	// refused or broken connection, with backoff from 100ms to 2s: 0
	// means DefaultRetries, negative none. A write without an
	// Idempotency-Key gets a generated one, the same for each attempt,
	// so a retried write is applied once.
	Retries int
}

// Error is a problem+json answer from the server.
type Error struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
	// RequestID names the request in the server's log.
	RequestID string `json:"request_id,omitempty"`
	// RetryAfter is the answer's Retry-After (0 when absent).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Title)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.RequestID != "" {
		s += " (request_id " + e.RequestID + ")"
	}
	return s
}

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (when out is non-nil). idemKey, when set, is sent as
// Idempotency-Key so the call can be retried safely.
func (c *Client) Do(ctx context.Context, method, path string, body, out any, idemKey string) error {
	_, err := c.DoHeader(ctx, method, path, body, out, idemKey)
	return err
}

// DoHeader is Do that also returns the response's headers. It retries
// as Client.Retries says.
func (c *Client) DoHeader(ctx context.Context, method, path string, body, out any, idemKey string) (http.Header, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	if idemKey == "" && isWrite(method) && c.retries() > 0 {
		idemKey = NewIdempotencyKey()
	}
	for attempt := 1; ; attempt++ {
		h, err := c.do(ctx, method, path, body != nil, b, out, idemKey)
		if err == nil || attempt > c.retries() || !retryable(err) || ctx.Err() != nil {
			return h, err
		}
		if err := sleep(ctx, retryDelay(err, attempt, retryMin, retryMax)); err != nil {
			return h, err
		}
	}
}

// do sends one attempt of a call.
func (c *Client) do(ctx context.Context, method, path string, hasBody bool, body []byte, out any, idemKey string) (http.Header, error) {
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Server, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		return resp.Header, problem(resp.StatusCode, resp.Header, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		return resp.Header, json.Unmarshal(data, out)
	}
	return resp.Header, nil
}

// problem decodes a problem+json body (or makes one from the status).
func problem(status int, h http.Header, data []byte) *Error {
	e := &Error{Status: status, Title: http.StatusText(status)}
	_ = json.Unmarshal(data, e)
	e.Status = status
	e.RetryAfter = parseRetryAfter(h)
	if e.RequestID == "" {
		e.RequestID = h.Get("X-Request-Id")
	}
	return e
}
