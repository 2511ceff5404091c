package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
// stops and returns the next sequence to read with more = true and how
// many records match from there to the end of the stream (pending).
func (s *Store) readDirect(ctx context.Context, subject string, from, upto uint64, bulk bool, fn func(Msg) error) (next uint64, more bool, pending uint64, err error) {
	inbox := s.nc.NewRespInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return 0, false, 0, fmt.Errorf("store: read %s: %w", subject, err)
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
			return 0, false, 0, fmt.Errorf("store: read %s: %w", subject, err)
		}
		pending, done, err := s.readBatch(ctx, sub, subject, &from, upto, fn)
		if err != nil || done || pending == 0 {
			return 0, false, 0, err
		}
		// pending counts matches up to the end of the stream; the range
		// may end before.
		if bulk && from <= upto && min(pending, upto-from+1) > bulkRead {
			return from, true, pending, nil
		}
	}
	return 0, false, 0, nil
}

// dense reports whether at least 3/4 of the records in [from, upto] are
// known to match, given that pending records match from `from` to the end
// of the stream and the stream ends at or before last: those of them past
// upto are at most last-upto. A bulk read of a dense range reads the
// stream without a filter (readConsumer's wide).
func dense(from, upto, pending, last uint64) bool {
	if upto < from {
		return false
	}
	last = max(last, upto)
	if pending <= last-upto {
		return false
	}
	inRange := min(pending-(last-upto), upto-from+1)
	return inRange >= (upto-from+1)-(upto-from+1)/4
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

// A bulk read's consumer asks for up to pullBatch records or pullBytes
// bytes at once (and again when half have arrived): larger batches than
// the tail's keep JetStream delivering while the reader decodes, and the
// bytes bound what a read buffers (maxBulkReads of them at most).
const (
	pullBatch = 2048
	pullBytes = 2 << 20
)

// readConsumer reads [from, upto] on subject with one short-lived ordered
// consumer. wide reads the stream without a subject filter and skips the
// records of other subjects by their subject alone, before decoding
// them: for a range that holds mostly matching records this spares
// JetStream matching each record against a wildcard filter. A record
// that cannot be decoded is skipped (the tail logged it).
func (s *Store) readConsumer(ctx context.Context, subject string, from, upto uint64, wide bool, fn func(Msg) error) error {
	if from == 0 {
		from = 1
	}
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
		// The consumer is removed at the end; should that fail, the
		// server drops it soon after it goes idle.
		InactiveThreshold: 5 * time.Second,
	}
	if subject != "" && !wide {
		cfg.FilterSubjects = []string{subject}
	}
	filter := subject
	if !wide || filter == ">" {
		filter = ""
	}
	cons, err := s.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(pullBatch, pullBytes))
	if err != nil {
		return fmt.Errorf("store: consumer: %w", err)
	}
	defer it.Stop()
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.stream.DeleteConsumer(dctx, info.Name)
			cancel()
		}
	}()
	// Nothing left to read (purged since the caller looked): a bounded
	// read must not wait for records that never come.
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return errStop
	}
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
			return fmt.Errorf("store: read %s: %w", subject, err)
		}
		seq, ts, pending, ok := ackInfo(m.Reply())
		if !ok {
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("store: read %s: %w", subject, err)
			}
			seq, ts, pending = meta.Sequence.Stream, meta.Timestamp.UnixNano(), meta.NumPending
		}
		if seq > upto {
			return errStop
		}
		last := seq >= upto || pending == 0
		if filter != "" && !MatchSubject(filter, m.Subject()) {
			if last {
				return errStop
			}
			continue
		}
		msg := Msg{Subject: m.Subject(), Seq: seq, Time: time.Unix(0, ts)}
		if h := m.Headers(); h != nil {
			msg.MsgID = h.Get(jetstream.MsgIDHeader)
		}
		if err := decodeRecord(m.Data(), &msg.Record); err == nil {
			if err := fn(msg); err != nil {
				return err
			}
		}
		if last {
			return errStop
		}
	}
}

// ackInfo reads the stream sequence, timestamp and pending count from the
// reply subject of a consumer's message, without allocating:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
//	$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>[.<token>]
//
// ok is false for any other shape (jetstream's Metadata then decides).
func ackInfo(reply string) (seq uint64, ts int64, pending uint64, ok bool) {
	const prefix = "$JS.ACK."
	if len(reply) <= len(prefix) || reply[:len(prefix)] != prefix {
		return 0, 0, 0, false
	}
	var tok [12]string
	n := 0
	rest := reply
	for n < len(tok) {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			tok[n] = rest
			n++
			rest = ""
			break
		}
		tok[n] = rest[:i]
		n++
		rest = rest[i+1:]
	}
	if rest != "" {
		return 0, 0, 0, false // more than 12 tokens
	}
	var base int // index of <delivered>
	switch {
	case n == 9:
		base = 4
	case n == 11 || n == 12:
		base = 6
	default:
		return 0, 0, 0, false
	}
	var okSeq, okTs, okPending bool
	seq, okSeq = parseUint(tok[base+1])
	t, okTs := parseUint(tok[base+3])
	pending, okPending = parseUint(tok[base+4])
	if !okSeq || !okTs || !okPending || t > 1<<63-1 {
		return 0, 0, 0, false
	}
	return seq, int64(t), pending, true
}

// parseUint parses a decimal uint64 without sign or overflow.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
