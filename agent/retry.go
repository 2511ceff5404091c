package agent

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/herald-sse/herald/client"
)

// Retry pacing: every retry of a heartbeat, of the command feed or of a
// message waits between minRetry and maxRetry (doubling), so the agent is
// back within about maxRetry of the server.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 2 * time.Second
	// DefaultGiveUpAfter is how long the server may refuse the node (401,
	// 403, 404) before the agent gives up: longer than a server restart.
	DefaultGiveUpAfter = 60 * time.Second
	// messageRefusalWindow is how long one message is retried while the
	// server refuses it (a restarting server does not know the node or the
	// job yet); then it is dropped, so the messages after it go out.
	messageRefusalWindow = 15 * time.Second
)

// verdict is what an error from the server means for the agent.
type verdict int

const (
	transient verdict = iota // network error, 408, 425, 429, 5xx: retry
	refusal                  // 401, 403, 404: retry for a while (a restarting server), then give up
	permanent                // any other 4xx: retrying cannot help
)

// classify sorts an error from a call to the server.
func classify(err error) verdict {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return transient
	}
	switch {
	case ce.Status == http.StatusUnauthorized, ce.Status == http.StatusForbidden, ce.Status == http.StatusNotFound:
		return refusal
	case ce.Status == http.StatusRequestTimeout, ce.Status == http.StatusTooEarly,
		ce.Status == http.StatusTooManyRequests, ce.Status >= 500:
		return transient
	case ce.Status >= 400:
		return permanent
	}
	return transient
}

// nextDelay doubles d within [minRetry, maxRetry].
func nextDelay(d time.Duration) time.Duration {
	return min(max(2*d, minRetry), maxRetry)
}

// refusals tracks how long the server has been refusing the node without a
// single success in between: a restarting server may refuse it for a
// moment, a wrong key or node forever.
type refusals struct {
	mu     sync.Mutex
	since  time.Time // first refusal of the current run; zero after a success
	giveUp time.Duration
}

// ok records an answer that accepted the node.
func (r *refusals) ok() {
	r.mu.Lock()
	r.since = time.Time{}
	r.mu.Unlock()
}

// refused records a refusal; it returns an error once the refusals have
// lasted longer than giveUp.
func (r *refusals) refused(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.since.IsZero() {
		r.since = now
	}
	if d := now.Sub(r.since); d >= r.giveUp {
		return fmt.Errorf("the server has refused this node for %v (%w): check the node key (--token or --token-file), --org and --node", d.Round(time.Second), err)
	}
	return nil
}

// refusesReason reports whether err is a 400 naming the field "reason": a
// server that does not know it yet.
func refusesReason(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == http.StatusBadRequest && ce.Field == "reason"
}
