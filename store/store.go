// Package store keeps herald's event-sourced state in a NATS JetStream
// stream: an embedded server by default, an external cluster with URLs.
//
// Every entity (session, task, job, node, auth object) has its own subject.
// One state transition is one message on that subject, appended with
// optimistic concurrency (Commit), carrying the entity's new snapshot and the
// SSE events the transition emitted. Every herald process follows the whole
// stream once (Tail) and reads filtered history from a position (Read).
package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the JetStream stream holding every herald record.
const StreamName = "HERALD"

const epochKey = "herald_epoch"

// Config configures Open.
type Config struct {
	// Dir is the data directory of the embedded server. Ignored with URLs.
	Dir string
	// URLs of an external NATS JetStream cluster; empty means embedded.
	URLs []string
	// Listen, when set, exposes the embedded NATS server on this
	// host:port (e.g. 127.0.0.1:4222) so other herald processes can share
	// the store with --nats.
	Listen string
	// SyncAlways fsyncs every append; otherwise the store syncs every
	// SyncInterval (default 1s).
	SyncAlways   bool
	SyncInterval time.Duration
	// Replicas of the stream in cluster mode (default 3, lowered to the
	// cluster's size when it is smaller).
	Replicas int
	// MaxBytes caps the stream's size, the last guard behind retention.
	MaxBytes int64
	// Dedup is how long an Idempotency-Key is remembered (default 10m).
	Dedup  time.Duration
	Logger *slog.Logger
}

// Store is an open herald store.
type Store struct {
	cfg    Config
	log    *slog.Logger
	ns     *server.Server // nil with an external cluster
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	epoch  string
	// replicas of the stream: reads use direct gets only when it is 1.
	replicas int
	// bulk holds a token per consumer that a long Read uses.
	bulk chan struct{}
}

// Open starts (or connects to) the store and makes sure the stream exists.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dedup == 0 {
		cfg.Dedup = 10 * time.Minute
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = time.Second
	}
	s := &Store{cfg: cfg, log: cfg.Logger, bulk: make(chan struct{}, maxBulkReads)}
	var err error
	if len(cfg.URLs) == 0 {
		err = s.startEmbedded()
	} else {
		s.nc, err = nats.Connect(strings.Join(cfg.URLs, ","),
			nats.Name("herald"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.ensureStream(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) startEmbedded() error {
	if s.cfg.Dir == "" {
		return errors.New("store: a data directory is required")
	}
	dir, err := filepath.Abs(s.cfg.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: create data directory: %w", err)
	}
	opts := &server.Options{
		ServerName:   "herald",
		JetStream:    true,
		StoreDir:     dir,
		NoSigs:       true,
		NoLog:        true,
		SyncAlways:   s.cfg.SyncAlways,
		SyncInterval: s.cfg.SyncInterval,
		DontListen:   true,
		MaxPayload:   8 << 20,
	}
	if s.cfg.Listen != "" {
		host, port, err := splitHostPort(s.cfg.Listen)
		if err != nil {
			return err
		}
		opts.DontListen = false
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("store: embedded NATS: %w", err)
	}
	s.ns = ns
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		return errors.New("store: embedded NATS did not start within 30s")
	}
	s.nc, err = nats.Connect("", nats.InProcessServer(ns), nats.Name("herald"))
	return err
}

// NATSURL is the address of the embedded server when Listen was set.
func (s *Store) NATSURL() string {
	if s.ns == nil || s.cfg.Listen == "" {
		return ""
	}
	return s.ns.ClientURL()
}

func (s *Store) ensureStream(ctx context.Context) error {
	st, err := s.js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		cfg := jetstream.StreamConfig{
			Name:              StreamName,
			Subjects:          []string{"herald.>"},
			Storage:           jetstream.FileStorage,
			Retention:         jetstream.LimitsPolicy,
			Discard:           jetstream.DiscardOld,
			Duplicates:        s.cfg.Dedup,
			MaxBytes:          s.cfg.MaxBytes,
			MaxMsgSize:        4 << 20,
			AllowDirect:       true,
			Metadata:          map[string]string{epochKey: newEpoch()},
			Replicas:          1,
			MaxMsgsPerSubject: -1,
		}
		if s.ns == nil {
			cfg.Replicas = s.cfg.Replicas
			if cfg.Replicas == 0 {
				cfg.Replicas = 3
			}
		}
		for {
			st, err = s.js.CreateStream(ctx, cfg)
			if err == nil || cfg.Replicas <= 1 || !isInsufficientResources(err) {
				break
			}
			cfg.Replicas-- // a cluster smaller than asked: replicate to what there is
		}
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, StreamName) // another herald created it first
		}
	}
	if err != nil {
		return fmt.Errorf("store: stream %s: %w", StreamName, err)
	}
	s.stream = st
	s.replicas = st.CachedInfo().Config.Replicas
	s.epoch = st.CachedInfo().Config.Metadata[epochKey]
	if s.epoch == "" {
		return fmt.Errorf("store: stream %s has no %s metadata; it was not created by herald", StreamName, epochKey)
	}
	return nil
}

func isInsufficientResources(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case 10005, // no suitable peers for placement
		10023, // insufficient resources
		10074: // replicas > 1 not supported in non-clustered mode
		return true
	}
	return false
}

// newEpoch returns 10 random characters of [a-z0-9]: the identity of one
// store instance, so ids of a wiped or foreign store are never recognized.
func newEpoch() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Epoch identifies this store instance; it is the first part of every id.
func (s *Store) Epoch() string { return s.epoch }

// Info returns the stream's first and last sequence.
func (s *Store) Info(ctx context.Context) (first, last uint64, firstTime time.Time, err error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	return info.State.FirstSeq, info.State.LastSeq, info.State.FirstTime, nil
}

// Ping checks that the store answers.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.stream.Info(ctx)
	return err
}

// Close closes the connection and shuts the embedded server down.
func (s *Store) Close() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
}

func splitHostPort(hp string) (string, int, error) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("store: listen address %q: want host:port", hp)
	}
	var port int
	if _, err := fmt.Sscanf(hp[i+1:], "%d", &port); err != nil {
		return "", 0, fmt.Errorf("store: listen address %q: bad port", hp)
	}
	return strings.Trim(hp[:i], "[]"), port, nil
}
