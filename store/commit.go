package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrConflict reports that the subject moved since the expected sequence:
// another writer won. The caller re-reads and re-decides.
var ErrConflict = errors.New("store: entity changed concurrently")

// ErrNotFound reports that no record exists.
var ErrNotFound = errors.New("store: not found")

// Append is one state transition to commit.
type Append struct {
	Subject string
	// ExpectSeq is the subject's last sequence the transition was decided
	// on; 0 means the subject must be empty.
	ExpectSeq uint64
	// NoCheck skips the concurrency check (auth objects written once).
	NoCheck bool
	// MsgID deduplicates retries (the Idempotency-Key, scoped by caller).
	MsgID  string
	Record Record
}

// Ack is the store's acknowledgement of an Append.
type Ack struct {
	Seq       uint64
	Duplicate bool // a retry of MsgID: nothing new was written; Seq is the first write
}

// Commit appends one record atomically. It returns only after JetStream
// acknowledged the write (durably stored per the fsync policy), ErrConflict
// if the subject moved past ExpectSeq.
func (s *Store) Commit(ctx context.Context, a Append) (Ack, error) {
	data, err := json.Marshal(a.Record)
	if err != nil {
		return Ack{}, fmt.Errorf("store: encode record: %w", err)
	}
	msg := &nats.Msg{Subject: a.Subject, Data: data}
	opts := make([]jetstream.PublishOpt, 0, 3)
	opts = append(opts, jetstream.WithExpectStream(StreamName))
	if !a.NoCheck {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(a.ExpectSeq))
	}
	if a.MsgID != "" {
		opts = append(opts, jetstream.WithMsgID(a.MsgID))
	}
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return Ack{}, ErrConflict
		}
		return Ack{}, fmt.Errorf("store: append to %s: %w", a.Subject, err)
	}
	return Ack{Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// Last returns the last record on subject, ErrNotFound if there is none.
func (s *Store) Last(ctx context.Context, subject string) (Msg, error) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Msg{}, ErrNotFound
	}
	if err != nil {
		return Msg{}, err
	}
	return decodeRaw(raw)
}

// Get returns the record at seq.
func (s *Store) Get(ctx context.Context, seq uint64) (Msg, error) {
	raw, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Msg{}, ErrNotFound
	}
	if err != nil {
		return Msg{}, err
	}
	return decodeRaw(raw)
}

func decodeRaw(raw *jetstream.RawStreamMsg) (Msg, error) {
	m := Msg{Subject: raw.Subject, Seq: raw.Sequence, Time: raw.Time}
	if raw.Header != nil {
		m.MsgID = raw.Header.Get(jetstream.MsgIDHeader)
	}
	if err := json.Unmarshal(raw.Data, &m.Record); err != nil {
		return Msg{}, fmt.Errorf("store: decode record %d: %w", raw.Sequence, err)
	}
	return m, nil
}
