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

// readBatch is how many records one direct-get request returns at most.
const readBatch = 256

// bulkRead is how many matching records a Read must still have ahead of
// it, after its first direct-get batch, to finish with a short-lived
// consumer instead: a consumer delivers a long history for about half the
// server CPU per record (no per-message headers rebuilt, no per-batch
// pending count), but costs a JetStream API round trip to create and
// delete, and JetStream caps consumers per stream.
const bulkRead = 2048

// maxBulkReads bounds the consumers bulk reads hold at once, far below
// JetStream's per-stream consumer limit (1,000): a Read that finds every
// slot taken goes on with direct gets.
const maxBulkReads = 8

type directGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
}

// readDirect reads [from, upto] on subject with batched direct gets: the
// stream answers from its store, no consumer is created. When bulk is
// set and more than bulkRead matching records remain after a batch, it
// stops and returns the next sequence to read with more = true.
func (s *Store) readDirect(ctx context.Context, subject string, from, upto uint64, bulk bool, fn func(Msg) error) (next uint64, more bool, err error) {
	inbox := s.nc.NewRespInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, false, fmt.Errorf("store: read %s: %w", subject, err)
	}
	defer sub.Unsubscribe()
	api := "$JS.API.DIRECT.GET." + StreamName
	for from <= upto {
		// At most the rest of the range: a batch never reads past upto.
		batch := uint64(readBatch)
		if n := upto - from + 1; n < batch {
			batch = n
		}
		req, _ := json.Marshal(directGetRequest{Seq: from, NextFor: subject, Batch: int(batch)})
		if err := s.nc.PublishRequest(api, inbox, req); err != nil {
			return 0, false, fmt.Errorf("store: read %s: %w", subject, err)
		}
		pending, done, err := s.readBatch(ctx, sub, subject, &from, upto, fn)
		if err != nil || done || pending == 0 {
			return 0, false, err
		}
		// pending counts matches up to the end of the stream; the range
		// may end before.
		if bulk && from <= upto && min(pending, upto-from+1) > bulkRead {
			return from, true, nil
		}
	}
	return 0, false, nil
}

// readBatch receives the answer to one direct-get batch request, moving
// *from past every record it hands to fn. It returns how many records
// match after the batch, or done when nothing (more) in range matches.
func (s *Store) readBatch(ctx context.Context, sub *nats.Subscription, subject string, from *uint64, upto uint64, fn func(Msg) error) (pending uint64, done bool, err error) {
	// One deadline per batch: the stream answers a batch at once.
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(bctx)
		if err != nil {
			return 0, false, fmt.Errorf("store: read %s: %w", subject, err)
		}
		switch m.Header.Get("Status") {
		case "404": // nothing (more) matches
			return 0, true, nil
		case "204": // end of this batch; how many more match after it
			pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return pending, false, nil
		case "":
			msg, err := decodeDirect(m)
			if errors.Is(err, errUndecodable) {
				// A record that cannot be decoded is skipped (the
				// tail logged it); the read goes on after it.
				if msg.Seq >= upto {
					return 0, true, nil
				}
				*from = msg.Seq + 1
				continue
			}
			if err != nil {
				return 0, false, err
			}
			if msg.Seq > upto {
				return 0, true, nil
			}
			if err := fn(msg); err != nil {
				return 0, false, err
			}
			*from = msg.Seq + 1
		default:
			return 0, false, fmt.Errorf("store: read %s: %s %s", subject, m.Header.Get("Status"), m.Header.Get("Description"))
		}
	}
}

func decodeDirect(m *nats.Msg) (Msg, error) {
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return Msg{}, fmt.Errorf("store: direct get without a sequence: %w", err)
	}
	out := Msg{Subject: m.Header.Get(jetstream.SubjectHeader), Seq: seq, MsgID: m.Header.Get(jetstream.MsgIDHeader)}
	out.Time, _ = time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	if err := decodeRecord(m.Data, &out.Record); err != nil {
		return Msg{Seq: seq}, fmt.Errorf("store: decode record %d: %w: %w", seq, errUndecodable, err)
	}
	return out, nil
}

// errUndecodable marks a record that is not herald's JSON.
var errUndecodable = errors.New("undecodable record")
