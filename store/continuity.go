package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CheckpointFile is the file in the data directory where herald keeps
// what it last knew of the store: the epoch, the last sequence the tail
// applied and a checksum of that record. At start the store is checked
// against it (checkContinuity).
const CheckpointFile = "herald-checkpoint.json"

// checkpointInterval is how often the checkpoint is rewritten while the
// tail moves (and at Close). A crash loses at most this much of it, which
// can only hide a loss of the last records, never invent one.
const checkpointInterval = 5 * time.Second

// checkpoint is the content of CheckpointFile.
type checkpointState struct {
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
	// Sum is the hex SHA-256 of the record at Seq (subject, NUL, data);
	// empty when that record no longer existed (purged by retention).
	Sum string `json:"sum,omitempty"`
}

// checkContinuity compares the store with the checkpoint. If the stream
// went backwards (its last sequence is below the checkpoint's), or the
// record at the checkpoint's sequence is gone or different, records were
// lost (damaged or replaced files): the store logs an error naming the
// range and starts a new epoch, so that no event id ever names two events
// and clients resuming with an old id get the unrecognized-id behaviour.
func (s *Store) checkContinuity(ctx context.Context) error {
	path := filepath.Join(s.dir, CheckpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // first start (or the file is new to this store)
	}
	if err != nil {
		return fmt.Errorf("store: read %s: %w", path, err)
	}
	var cp checkpointState
	if err := json.Unmarshal(b, &cp); err != nil {
		s.log.Warn("store: unreadable checkpoint; not checking the store against it", "file", path, "err", err)
		return nil
	}
	if cp.Epoch != s.epoch || cp.Seq == 0 {
		return nil // another store instance: its ids are unrecognized anyway
	}
	info, err := s.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("store: stream %s: %w", StreamName, err)
	}
	last := info.State.LastSeq
	var lost string
	switch sum, found, err := s.recordSum(ctx, cp.Seq); {
	case err != nil:
		return err
	case last < cp.Seq:
		lost = fmt.Sprintf("records %d to %d are missing: the store ends at %d", last+1, cp.Seq, last)
	case cp.Sum != "" && !found:
		from, err := s.lastExisting(ctx, cp.Seq)
		if err != nil {
			return err
		}
		lost = fmt.Sprintf("records %d to %d are missing (the stream claims %d)", from+1, cp.Seq, last)
	case cp.Sum != "" && sum != cp.Sum:
		lost = fmt.Sprintf("record %d is not the one herald applied: records up to %d were replaced", cp.Seq, cp.Seq)
	}
	if lost == "" {
		return nil
	}
	old := s.epoch
	if err := s.renewEpoch(ctx); err != nil {
		return err
	}
	s.log.Error("store: records were lost or changed while herald was stopped (damaged or replaced store files); "+
		"started a new epoch so that no event id names two events: clients resuming with an old id start over",
		"lost", lost, "old_epoch", old, "new_epoch", s.epoch, "dir", s.dir)
	s.applied.Store(0)
	return nil
}

// renewEpoch gives the stream a new epoch (its metadata).
func (s *Store) renewEpoch(ctx context.Context) error {
	cfg := s.stream.CachedInfo().Config
	md := make(map[string]string, len(cfg.Metadata)+1)
	for k, v := range cfg.Metadata {
		md[k] = v
	}
	md[epochKey] = newEpoch()
	cfg.Metadata = md
	st, err := s.js.UpdateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: new epoch: %w", err)
	}
	s.stream = st
	s.epoch = md[epochKey]
	return s.writeCheckpoint(ctx, 0)
}

// recordSum returns the checksum of the record at seq and whether it exists.
func (s *Store) recordSum(ctx context.Context, seq uint64) (string, bool, error) {
	raw, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: read record %d: %w", seq, err)
	}
	h := sha256.New()
	h.Write([]byte(raw.Subject))
	h.Write([]byte{0})
	h.Write(raw.Data)
	return hex.EncodeToString(h.Sum(nil)), true, nil
}

// checkpoint writes the checkpoint for the last applied sequence, when it
// moved since the last one written.
func (s *Store) checkpoint() {
	seq := s.applied.Load()
	if seq == 0 || seq == s.checkpointed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.writeCheckpoint(ctx, seq); err != nil {
		s.log.Warn("store: checkpoint not written", "err", err)
	}
}

// writeCheckpoint records seq (and its record's checksum) durably.
func (s *Store) writeCheckpoint(ctx context.Context, seq uint64) error {
	cp := checkpointState{Epoch: s.epoch, Seq: seq}
	if seq > 0 {
		sum, _, err := s.recordSum(ctx, seq)
		if err != nil {
			return err
		}
		cp.Sum = sum
	}
	b, _ := json.Marshal(cp)
	if err := writeFileSync(filepath.Join(s.dir, CheckpointFile), b, 0o600); err != nil {
		return fmt.Errorf("store: write checkpoint: %w", err)
	}
	s.checkpointed = seq
	return nil
}
