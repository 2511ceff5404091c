package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Tail delivers every record of the stream with a sequence ≥ from, in
// order, to fn, then every new record as it is appended, until ctx ends.
// It uses one ordered consumer: each herald process tails the stream once.
// fn runs on Tail's goroutine; Tail returns when ctx is done or fn fails.
//
// A record that cannot be decoded (not written by herald, or damaged) is
// logged with its sequence, counted (Skipped) and handed to fn with an
// empty Record (Kind ""), so every position still advances. When the
// consumer fails (JetStream restarted, the connection lost), Tail logs it
// and resumes after the last record it delivered.
func (s *Store) Tail(ctx context.Context, from uint64, fn func(Msg) error) error {
	next := from
	deliver := func(m Msg) error {
		if err := fn(m); err != nil {
			return &callbackError{err}
		}
		next = m.Seq + 1
		s.applied.Store(m.Seq)
		return nil
	}
	backoff := tailRetryMin
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.watchTail(wctx, from)
	for {
		cctx, cancel := context.WithCancel(ctx)
		s.tailMu.Lock()
		s.tailCancel = cancel
		s.tailMu.Unlock()
		err := s.consume(cctx, "", next, deliver)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ce *callbackError
		if errors.As(err, &ce) {
			return ce.err
		}
		if cctx.Err() != nil {
			// resetTail: JetStream restarted, its consumers are gone;
			// a new one at once, not after missed heartbeats.
			s.log.Info("store: tail follows the restarted JetStream", "from", next)
			continue
		}
		s.log.Warn("store: tail interrupted; resuming", "from", next, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return fmt.Errorf("store: tail: %w", ErrUnavailable)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, tailRetryMax)
	}
}

// watchTail recreates a tail consumer that stalled: when the stream holds
// records beyond the last one the tail delivered and the tail has not
// moved for tailStall, its consumer is replaced where it stopped. (A
// stream leader change under load can leave an ordered consumer waiting
// without an error; every write of this node would then wait for its
// views in vain.)
func (s *Store) watchTail(ctx context.Context, from uint64) {
	t := time.NewTicker(tailStall / 2)
	defer t.Stop()
	seen, since := s.applied.Load(), time.Now()
	wait := tailStall // doubles while resets do not help (e.g. the newest records were purged)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-t.C:
		}
		applied := s.applied.Load()
		if applied != seen {
			seen, since, wait = applied, time.Now(), tailStall
			continue
		}
		if time.Since(since) < wait {
			continue
		}
		ictx, cancel := context.WithTimeout(ctx, tailStall/2)
		_, last, _, err := s.Info(ictx)
		cancel()
		if err != nil || last <= applied || last < from {
			continue
		}
		s.log.Warn("store: the tail stalled behind the stream; recreating its consumer",
			"applied", applied, "stream_last", last, "for", time.Since(since).Round(time.Millisecond).String())
		s.resetTail()
		since, wait = time.Now(), min(2*wait, time.Minute)
	}
}

// tailStall is how long the tail may stand still while the stream holds
// newer records before its consumer is recreated.
const tailStall = 4 * time.Second

// The tail's wait before it resumes a failed consumer, doubling.
const (
	tailRetryMin = 100 * time.Millisecond
	tailRetryMax = 5 * time.Second
)

// resetTail makes the tail drop its consumer and create a new one where
// it stopped (after JetStream restarted in-process).
func (s *Store) resetTail() {
	s.tailMu.Lock()
	defer s.tailMu.Unlock()
	if s.tailCancel != nil {
		s.tailCancel()
	}
}

// callbackError carries the error of Tail's callback through consume.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// Skipped is how many records the tail skipped because they could not be
// decoded.
func (s *Store) Skipped() uint64 { return s.skipped.Load() }

// skip logs and counts an undecodable record met by the tail.
func (s *Store) skip(seq uint64, subject string, err error) {
	s.skipped.Add(1)
	s.log.Error("store: skipping a record that cannot be decoded", "seq", seq, "subject", subject, "err", err)
}

// errStop ends a bounded consume.
var errStop = errors.New("stop")

// Read calls fn for every record on subject (a subject or a wildcard filter)
// with after < seq ≤ upto, in order. It returns nil once the range is
// exhausted, even if fewer records exist. On a single-replica stream it
// reads with batched direct gets, and finishes a long history (more than
// bulkRead records left after the first batch) with a short-lived
// consumer, at most maxBulkReads of them at once; on a replicated stream
// it uses a short-lived consumer served by the leader, so a lagging
// replica cannot leave a gap.
func (s *Store) Read(ctx context.Context, subject string, after, upto uint64, fn func(Msg) error) error {
	if upto <= after {
		return nil
	}
	var err error
	if s.replicas <= 1 {
		err = s.readSingle(ctx, subject, after+1, upto, fn)
	} else {
		err = s.readConsumer(ctx, subject, after+1, upto, false, fn)
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// readSingle reads a single-replica stream: direct gets, then a consumer
// for the bulk of a long history when a slot is free.
func (s *Store) readSingle(ctx context.Context, subject string, from, upto uint64, fn func(Msg) error) error {
	next, more, pending, err := s.readDirect(ctx, subject, from, upto, true, fn)
	if err != nil || !more {
		return err
	}
	select {
	case s.bulk <- struct{}{}:
		defer func() { <-s.bulk }()
		return s.readConsumer(ctx, subject, next, upto, dense(next, upto, pending, s.applied.Load()), fn)
	default:
		_, _, _, err = s.readDirect(ctx, subject, next, upto, false, fn)
		return err
	}
}

// consume follows the stream from sequence from with an ordered
// consumer (the tail): every record, then each new one, until ctx ends or
// fn fails. Bounded reads use readConsumer (read.go).
func (s *Store) consume(ctx context.Context, subject string, from uint64, fn func(Msg) error) error {
	if from == 0 {
		from = 1
	}
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	}
	if subject != "" {
		cfg.FilterSubjects = []string{subject}
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return fmt.Errorf("store: consumer: %w", err)
	}
	defer it.Stop()
	stopped := context.AfterFunc(ctx, it.Stop)
	defer stopped()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("store: consume: %w", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("store: consume: %w", err)
		}
		msg := Msg{Subject: m.Subject(), Seq: meta.Sequence.Stream, Time: meta.Timestamp}
		if h := m.Headers(); h != nil {
			msg.MsgID = h.Get(jetstream.MsgIDHeader)
		}
		if err := decodeRecord(m.Data(), &msg.Record); err != nil {
			msg.Record = Record{}
			s.skip(msg.Seq, msg.Subject, err)
		}
		if err := fn(msg); err != nil {
			return err
		}
	}
}

// Purge removes every record on subject (retention).
func (s *Store) Purge(ctx context.Context, subject string) error {
	return s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject))
}
