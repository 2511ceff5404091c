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
)

// Client calls one herald server.
type Client struct {
	// Server is the base URL, e.g. http://127.0.0.1:8080.
	Server string
	// Token is the bearer token.
	Token string
	// HTTP is the client used; nil means http.DefaultClient.
	HTTP *http.Client
}

// Error is a problem+json answer from the server.
type Error struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Title)
}

// Do sends a request with an optional JSON body and decodes a JSON answer
// into out (when out is non-nil). idemKey, when set, is sent as
// Idempotency-Key so the call can be retried safely.
func (c *Client) Do(ctx context.Context, method, path string, body, out any, idemKey string) error {
	_, err := c.DoHeader(ctx, method, path, body, out, idemKey)
	return err
}

// DoHeader is Do that also returns the response's headers.
func (c *Client) DoHeader(ctx context.Context, method, path string, body, out any, idemKey string) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Server, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
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
		return resp.Header, problem(resp.StatusCode, data)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		return resp.Header, json.Unmarshal(data, out)
	}
	return resp.Header, nil
}

// problem decodes a problem+json body (or makes one from the status).
func problem(status int, data []byte) *Error {
	e := &Error{Status: status, Title: http.StatusText(status)}
	_ = json.Unmarshal(data, e)
	e.Status = status
	return e
}
