package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readBatch is how many records one direct-get request returns.
const readBatch = 256

type directGetRequest struct {
	Seq     uint64 `json:"seq"`
	NextFor string `json:"next_by_subj"`
	Batch   int    `json:"batch"`
}

// readDirect reads [from, upto] on subject with batched direct gets: the
// stream answers from its store, no consumer is created.
func (s *Store) readDirect(ctx context.Context, subject string, from, upto uint64, fn func(Msg) error) error {
	inbox := s.nc.NewRespInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("store: read %s: %w", subject, err)
	}
	defer sub.Unsubscribe()
	api := "$JS.API.DIRECT.GET." + StreamName
	for from <= upto {
		req, _ := json.Marshal(directGetRequest{Seq: from, NextFor: subject, Batch: readBatch})
		if err := s.nc.PublishRequest(api, inbox, req); err != nil {
			return fmt.Errorf("store: read %s: %w", subject, err)
		}
		pending := uint64(0)
		for {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m, err := sub.NextMsgWithContext(rctx)
			cancel()
			if err != nil {
				return fmt.Errorf("store: read %s: %w", subject, err)
			}
			switch m.Header.Get("Status") {
			case "404": // nothing (more) matches
				return nil
			case "204": // end of this batch; how many more match after it
				pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			case "":
				msg, err := decodeDirect(m)
				if err != nil {
					return err
				}
				if msg.Seq > upto {
					return nil
				}
				if err := fn(msg); err != nil {
					return err
				}
				from = msg.Seq + 1
				continue
			default:
				return fmt.Errorf("store: read %s: %s %s", subject, m.Header.Get("Status"), m.Header.Get("Description"))
			}
			break // end of batch
		}
		if pending == 0 {
			return nil
		}
	}
	return nil
}

func decodeDirect(m *nats.Msg) (Msg, error) {
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return Msg{}, fmt.Errorf("store: direct get without a sequence: %w", err)
	}
	out := Msg{Subject: m.Header.Get(jetstream.SubjectHeader), Seq: seq, MsgID: m.Header.Get(jetstream.MsgIDHeader)}
	out.Time, _ = time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	if err := decodeRecord(m.Data, &out.Record); err != nil {
		return Msg{}, fmt.Errorf("store: decode record %d: %w", seq, err)
	}
	return out, nil
}
