package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// DefaultRetries is how many times a call is retried when Client.Retries
// is 0: with the delays below, about 13 s of a server restarting.
const DefaultRetries = 10

// Delays between the attempts of a call: retryMin doubling up to
// retryMax, or the server's Retry-After when longer (up to retryMax).
const (
	retryMin = 100 * time.Millisecond
	retryMax = 2 * time.Second
)

// retries is how many retries a call gets.
func (c *Client) retries() int {
	switch {
	case c.Retries < 0:
		return 0
	case c.Retries == 0:
		return DefaultRetries
	}
	return c.Retries
}

// retryable reports whether a call that failed with err may be sent again
// (writes carry an Idempotency-Key, so a retried one is applied once): the
// server is starting, overloaded or behind an unavailable proxy (429, 502,
// 503, 504), or the connection could not be made or broke.
func retryable(err error) bool {
	var ce *Error
	if errors.As(err, &ce) {
		switch ce.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	return connectionError(err)
}

// connectionError reports whether err is a connection that was refused,
// reset or cut (a server restarting), as opposed to a bad URL, a TLS
// failure or a canceled context.
func connectionError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false // a name that does not exist: a wrong URL, not a restart
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryDelay is the wait before retry number attempt (1-based): the
// backoff, or the server's Retry-After when it asks for longer, at most
// max.
func retryDelay(err error, attempt int, min, max time.Duration) time.Duration {
	d := backoff(attempt, min, max)
	var ce *Error
	if errors.As(err, &ce) && ce.RetryAfter > d {
		d = ce.RetryAfter
	}
	if d > max {
		d = max
	}
	return d
}

// parseRetryAfter reads a Retry-After header given in seconds (the form
// herald sends); other forms count as absent.
func parseRetryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isWrite reports whether method changes state (and so needs an
// Idempotency-Key to be retried safely).
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// NewIdempotencyKey returns a random key for one logical write.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
