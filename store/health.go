package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrFull reports that the store refuses appends because it is full: the
// stream reached Config.MaxBytes, JetStream its own storage limit, or the
// disk has no space left. Writes work again once records are purged (or
// the limit raised, or disk space freed), without a restart.
var ErrFull = errors.New("store full")

// ErrUnavailable reports that the store cannot append now: it did not
// answer, or it failed to write. The store heals itself where it can.
var ErrUnavailable = errors.New("store unavailable")

// healthInterval is how often the store checks itself: the embedded
// server's write errors, and whether a failed store appends again.
const healthInterval = time.Second

// probeTimeout bounds one probe append of the health check.
const probeTimeout = 2 * time.Second

// probeSubject is where the health check appends a tiny record (kind
// "probe", ignored by every reader) to learn whether the store appends
// again after a failure; only its last record is kept.
const probeSubject = "herald.probe"

// Max backoff between two in-process restarts of JetStream.
const maxHealBackoff = 8 * time.Second

// health is the store's own view of whether it can append: the outcome
// of the last append (or probe), and since when it has been failing.
type health struct {
	bad    atomic.Bool // err != nil: lets ok() skip the lock on the hot path
	faulty atomic.Bool // fault != nil
	mu     sync.Mutex
	err    error // nil while appends succeed
	since  time.Time
	// fault is a known inability of the embedded server to write (set
	// and cleared by the health check): appends fail fast meanwhile.
	fault error
}

// fault returns the known write fault of the embedded server, if any.
func (s *Store) fault() error {
	if !s.health.faulty.Load() {
		return nil
	}
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.health.fault
}

// setFault records (or with nil clears) a write fault of the server.
func (s *Store) setFault(err error) {
	s.health.mu.Lock()
	s.health.fault = err
	s.health.faulty.Store(err != nil)
	s.health.mu.Unlock()
}

// faultError is the error a JetStream fault's cause stands for: a full
// disk is ErrFull (it heals once space is freed), anything else
// ErrUnavailable.
func faultError(cause string) error {
	if strings.Contains(cause, "no space left") {
		return fmt.Errorf("%w: no space left on the data directory's disk", ErrFull)
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, cause)
}

// fail records a failed append; it logs the first failure of a run.
func (s *Store) fail(err error) {
	h := &s.health
	h.mu.Lock()
	first := h.err == nil
	if first {
		h.since = time.Now()
	}
	h.err = err
	h.bad.Store(true)
	h.mu.Unlock()
	if first {
		s.log.Error("store: append failed; /readyz reports it until the store appends again", "err", err)
	}
}

// ok records a successful append; it logs the recovery of a failing store.
func (s *Store) ok() {
	h := &s.health
	if !h.bad.Load() {
		return
	}
	h.mu.Lock()
	if h.err == nil {
		h.mu.Unlock()
		return
	}
	since := h.since
	h.err = nil
	h.bad.Store(false)
	h.mu.Unlock()
	s.log.Warn("store: appends work again", "failing_for", time.Since(since).Round(time.Millisecond).String())
}

// failing returns the tracked failure, if any.
func (s *Store) failing() (error, time.Time) {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.health.err, s.health.since
}

// Health reports whether the store can append now: nil, or an error that
// wraps ErrFull or ErrUnavailable and says why and since when. It is cheap
// enough for every /readyz: the tracked outcome of the last append, then
// one stream-info round trip.
func (s *Store) Health(ctx context.Context) error {
	if err, since := s.failing(); err != nil {
		return fmt.Errorf("%w (since %s)", err, since.UTC().Format(time.RFC3339))
	}
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// classify turns an append's failure into ErrFull, ErrUnavailable or
// ErrConflict (which the caller handles), keeping the cause.
func classify(apiErr *jetstream.APIError, err error) error {
	if apiErr != nil {
		if isFull(apiErr) {
			return fmt.Errorf("%w: %s", ErrFull, apiErr.Description)
		}
		return fmt.Errorf("%w: nats: %w", ErrUnavailable, apiErr)
	}
	if errors.Is(err, context.Canceled) {
		return err // the caller gave up: says nothing about the store
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// isFull reports a JetStream refusal for want of space.
func isFull(e *jetstream.APIError) bool {
	const (
		insufficientResources = 10023 // the account's storage limit
		storeFailed           = 10077 // "maximum bytes exceeded", "no space left"
	)
	switch e.ErrorCode {
	case insufficientResources:
		return true
	case storeFailed:
		d := strings.ToLower(e.Description)
		return strings.Contains(d, "maximum bytes") || strings.Contains(d, "no space left")
	}
	return false
}

// counts reports whether err from publish says something about the
// store (and not only that the caller gave up).
func counts(err error) bool {
	return !errors.Is(err, context.Canceled) && !errors.Is(err, nats.ErrConnectionClosed)
}

// watch checks the store every healthInterval until stop closes: the
// embedded server's stream write errors (healed by restarting JetStream
// in-process) and, while appends fail, a probe append, so that the store
// reports healthy again as soon as it appends — without waiting for a
// client's write.
func (s *Store) watch(stop <-chan struct{}) {
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	cp := time.NewTicker(checkpointInterval)
	defer cp.Stop()
	var nextHeal time.Time
	backoff := healthInterval
	for {
		select {
		case <-stop:
			return
		case <-cp.C:
			if s.ns != nil {
				s.checkpoint()
			}
			continue
		case <-t.C:
		}
		if s.ns != nil {
			if cause := s.jetStreamFault(); cause != "" {
				err := faultError(cause)
				s.setFault(err)
				s.fail(err)
				if time.Now().Before(nextHeal) || !s.restartJetStream(cause) {
					continue
				}
				nextHeal = time.Now().Add(backoff)
				backoff = min(2*backoff, maxHealBackoff)
				if s.jetStreamFault() != "" {
					continue
				}
			}
			s.setFault(nil)
		}
		if err, _ := s.failing(); err != nil {
			s.probe()
		} else {
			backoff = healthInterval
		}
	}
}

// probe appends a tiny record to learn whether the store appends again;
// Commit records the outcome. It keeps only the last probe record.
func (s *Store) probe() {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	if _, err := s.commit(ctx, Append{Subject: probeSubject, NoCheck: true, Record: Record{Kind: "probe"}}); err == nil {
		_ = s.Compact(ctx, probeSubject, 1)
	}
}
