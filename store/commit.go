package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrConflict reports that the subject moved since the expected sequence:
// another writer won. The caller re-reads and re-decides.
var ErrConflict = errors.New("store: entity changed concurrently")

// ErrTooLarge reports a record over MaxRecordBytes: nothing was written.
var ErrTooLarge = errors.New("store: record too large")

// MaxRecordBytes bounds one encoded record (the stream's MaxMsgSize less
// room for headers). The largest record herald's own limits allow, a push
// job started on 10,000 nodes with the largest env and file, is ~2.9 MB.
const MaxRecordBytes = 4<<20 - 4<<10

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
//
// While the embedded server is known unable to write (a full disk), it
// fails at once with ErrFull or ErrUnavailable instead of waiting for an
// acknowledgement that cannot come.
func (s *Store) Commit(ctx context.Context, a Append) (Ack, error) {
	if err := s.fault(); err != nil {
		return Ack{}, fmt.Errorf("store: append to %s: %w", a.Subject, err)
	}
	return s.commit(ctx, a)
}

// commit is Commit without the fast failure (the health probe's append).
func (s *Store) commit(ctx context.Context, a Append) (Ack, error) {
	data, err := a.Record.AppendJSON(make([]byte, 0, 1024))
	if err != nil {
		return Ack{}, fmt.Errorf("store: encode record: %w", err)
	}
	if len(data) > MaxRecordBytes {
		return Ack{}, fmt.Errorf("%w: %d bytes; at most %d", ErrTooLarge, len(data), MaxRecordBytes)
	}
	hdr := make(nats.Header, 3)
	hdr[jetstream.ExpectedStreamHeader] = []string{StreamName}
	if !a.NoCheck {
		hdr[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(a.ExpectSeq, 10)}
	}
	if a.MsgID != "" {
		hdr[jetstream.MsgIDHeader] = []string{a.MsgID}
	}
	msg := &nats.Msg{Subject: a.Subject, Header: hdr, Data: data}
	resp, err := s.publish(ctx, msg)
	if err != nil {
		err = classify(nil, err)
		if s.ns != nil && counts(err) {
			// No answer: JetStream answers nothing when its write
			// fails. If that is why, say so (a full disk is "store
			// full") and fail the next appends at once.
			if cause := s.jetStreamFault(); cause != "" {
				err = faultError(cause)
				s.setFault(err)
			}
		}
		if counts(err) {
			s.fail(err)
		}
		return Ack{}, fmt.Errorf("store: append to %s: %w", a.Subject, err)
	}
	ack, apiErr, err := parsePubAck(resp)
	if apiErr != nil {
		if apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant {
			s.ok()
			return Ack{}, ErrConflict
		}
		err := classify(apiErr, nil)
		s.fail(err)
		return Ack{}, fmt.Errorf("store: append to %s: %w", a.Subject, err)
	}
	if err != nil {
		err = classify(nil, err)
		s.fail(err)
		return Ack{}, fmt.Errorf("store: append to %s: %w", a.Subject, err)
	}
	s.ok()
	return ack, nil
}

// publishTimeout bounds the wait for JetStream's acknowledgement when ctx
// has no deadline (jetstream.PublishMsg's default).
const publishTimeout = 5 * time.Second

// publish sends msg to JetStream and returns its acknowledgement message,
// retrying twice after a short wait when no stream answered (a leader
// election in a cluster), as jetstream.PublishMsg does.
func (s *Store) publish(ctx context.Context, msg *nats.Msg) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var resp *nats.Msg
		var err error
		if _, ok := ctx.Deadline(); ok {
			resp, err = s.nc.RequestMsgWithContext(ctx, msg)
		} else {
			// Without a deadline (a request's context), the
			// acknowledgement is awaited at most publishTimeout, on a
			// pooled timer (cheaper than a derived context).
			resp, err = s.nc.RequestMsg(msg, publishTimeout)
		}
		if err == nil {
			return resp.Data, nil
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return nil, err
		}
		if attempt == 2 {
			return nil, jetstream.ErrNoStreamResponse
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Stream    string              `json:"stream"`
	Sequence  uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
}

// parsePubAck reads JetStream's answer to a publish: the plain
// {"stream":"HERALD","seq":N[,"duplicate":true]} by hand, anything else
// with encoding/json. A refusal is returned as the *jetstream.APIError.
func parsePubAck(b []byte) (Ack, *jetstream.APIError, error) {
	const prefix = `{"stream":"` + StreamName + `","seq":`
	if len(b) > len(prefix) && string(b[:len(prefix)]) == prefix {
		rest := b[len(prefix):]
		n := 0
		for n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if seq, err := strconv.ParseUint(string(rest[:n]), 10, 64); err == nil && seq > 0 {
			switch string(rest[n:]) {
			case "}":
				return Ack{Seq: seq}, nil, nil
			case `,"duplicate":true}`:
				return Ack{Seq: seq, Duplicate: true}, nil, nil
			}
		}
	}
	var r pubAck
	if err := json.Unmarshal(b, &r); err != nil {
		return Ack{}, nil, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return Ack{}, r.Error, nil
	}
	if r.Stream == "" {
		return Ack{}, nil, jetstream.ErrInvalidJSAck
	}
	return Ack{Seq: r.Sequence, Duplicate: r.Duplicate}, nil, nil
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
	if err := decodeRecord(raw.Data, &m.Record); err != nil {
		return Msg{}, fmt.Errorf("store: decode record %d: %w", raw.Sequence, err)
	}
	return m, nil
}
