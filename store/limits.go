package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxBytes is the stream's MaxBytes for Config.MaxBytes: JetStream's "no
// limit" (-1) unless a positive cap is configured.
func (s *Store) maxBytes() int64 {
	if s.cfg.MaxBytes > 0 {
		return s.cfg.MaxBytes
	}
	return -1
}

// applyLimits brings an existing stream to the configured size cap and to
// discard-new (a full store refuses appends; it never drops the oldest
// records, which may be credentials). The stream is updated only when it
// differs; a stream created by an older herald gets discard-new too.
func (s *Store) applyLimits(ctx context.Context, st jetstream.Stream) (jetstream.Stream, error) {
	cfg := st.CachedInfo().Config
	want := s.maxBytes()
	if s.cfg.MaxBytes == 0 && len(s.cfg.URLs) > 0 {
		want = cfg.MaxBytes // a shared stream: only an explicit cap changes it
	}
	if cfg.MaxBytes == want && cfg.Discard == jetstream.DiscardNew {
		return st, nil
	}
	old := cfg.MaxBytes
	cfg.MaxBytes, cfg.Discard = want, jetstream.DiscardNew
	updated, err := s.js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: stream %s: set max bytes %d: %w", StreamName, want, err)
	}
	s.log.Info("store: stream size cap changed", "max_bytes", want, "was", old)
	return updated, nil
}

// lastExisting returns the sequence of the stream's last record that
// exists, at most last: the stream's last sequence stays put when that
// record is purged (retention) or lost (a damaged file), and nobody would
// ever read it. One direct get of the record at last; only when it is
// gone, one of the last record on "herald.>" (which walks every subject).
func (s *Store) lastExisting(ctx context.Context, last uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	seq, err := s.directGetSeq(ctx, directGetRequest{Seq: last})
	if err != nil || seq != 0 {
		return min(seq, last), err
	}
	seq, err = s.directGetSeq(ctx, directGetRequest{LastFor: "herald.>"})
	return min(seq, last), err
}

// lastExistingReplicated is lastExisting on a replicated stream, asked of
// its leader (a replica may lag): after a leader change the stream's last
// sequence may name no record (a sequence the new leader skipped), which
// the tail never delivers, so whoever waits for it waits in vain.
func (s *Store) lastExistingReplicated(ctx context.Context, last uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := s.stream.GetMsg(ctx, last)
	if err == nil {
		return last, nil
	}
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, fmt.Errorf("store: last record: %w", err)
	}
	raw, err := s.stream.GetLastMsgForSubject(ctx, "herald.>")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: last record: %w", err)
	}
	return min(raw.Sequence, last), nil
}

// directGetSeq asks the stream for one record without its data and
// returns its sequence, 0 when there is none.
func (s *Store) directGetSeq(ctx context.Context, r directGetRequest) (uint64, error) {
	req, _ := json.Marshal(r)
	m, err := s.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+StreamName, req)
	if err != nil {
		return 0, fmt.Errorf("store: last record: %w", err)
	}
	switch m.Header.Get("Status") {
	case "404":
		return 0, nil
	case "":
		return parseSeq(m.Header.Get(jetstream.SequenceHeader))
	default:
		return 0, fmt.Errorf("store: last record: %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
	}
}

// parseSeq reads a sequence header.
func parseSeq(v string) (uint64, error) {
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: bad sequence %q: %w", v, err)
	}
	return seq, nil
}
