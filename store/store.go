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
	"strings"
	"sync"
	"sync/atomic"
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
	// Replicas of the stream in cluster mode. 0 means 3, lowered to what
	// the cluster places when it is smaller; an explicit count that the
	// cluster cannot place is an error (createStream).
	Replicas int
	// MaxBytes caps the stream's size, the last guard behind retention:
	// past it JetStream refuses appends (ErrFull) and keeps every record
	// (discard new). 0 (or negative) sets no cap of herald's own: the
	// embedded JetStream's storage limit (75% of the disk space free at
	// start, plus what it holds) refuses the same way.
	MaxBytes int64
	// Dedup is how long an Idempotency-Key is remembered (default 10m).
	Dedup  time.Duration
	Logger *slog.Logger
	// LogDebug passes the embedded server's debug lines to Logger.
	LogDebug bool
	// Credentials authenticate to the external cluster of URLs (the
	// embedded server's own are generated into Dir: CredentialsFile).
	Credentials *Credentials
	// Lock is the data directory's lock when the caller took it already
	// (LockDir); Open takes it otherwise. Close releases it either way.
	Lock *DirLock
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

	dir    string          // absolute data directory (embedded)
	lock   *DirLock        // the data directory's lock (embedded)
	nsOpts *server.Options // the embedded server's options
	// jsMaxStore is the embedded JetStream's storage limit at start.
	jsMaxStore int64
	health     health // whether appends succeed (health.go)
	// skipped counts records the tail could not decode (tail.go).
	skipped atomic.Uint64
	// applied is the last sequence the tail handed to its callback,
	// recorded in the data directory's checkpoint (continuity.go).
	applied atomic.Uint64
	// tailCancel ends the tail's current consumer (resetTail).
	tailMu     sync.Mutex
	tailCancel context.CancelFunc
	// checkpointed is the sequence of the last checkpoint written.
	checkpointed uint64
	stop         chan struct{}  // closed by Close: ends the store's goroutines
	wg           sync.WaitGroup // the store's goroutines
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
	s := &Store{cfg: cfg, log: cfg.Logger, bulk: make(chan struct{}, maxBulkReads), stop: make(chan struct{})}
	var err error
	if len(cfg.URLs) == 0 {
		err = s.startEmbedded()
	} else {
		// Ping every 10 s and give up on a connection after 3 unanswered
		// pings, so a node cut off from its NATS server moves to another
		// within about 40 s (nats.go's default takes minutes); not
		// shorter, so a busy server in an election is not dropped.
		opts := []nats.Option{nats.Name("herald"), nats.MaxReconnects(-1),
			nats.ReconnectWait(250 * time.Millisecond), nats.PingInterval(10 * time.Second),
			nats.MaxPingsOutstanding(3), s.connErrors()}
		if c := cfg.Credentials; c != nil {
			opts = append(opts, nats.UserInfo(c.User, c.Password))
		}
		s.nc, err = nats.Connect(strings.Join(cfg.URLs, ","), opts...)
		if errors.Is(err, nats.ErrAuthorization) {
			err = fmt.Errorf("store: %w: the NATS server wants credentials (user:password; a herald serving --nats-listen keeps them in its data directory's %s)", err, CredentialsFile)
		}
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
	if s.ns != nil {
		if err := s.checkContinuity(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.watchAdvisories(); err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.watch(s.stop)
	}()
	return s, nil
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
			Discard:           jetstream.DiscardNew,
			Duplicates:        s.cfg.Dedup,
			MaxBytes:          s.maxBytes(),
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
		st, err = s.createStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = s.js.Stream(ctx, StreamName) // another herald created it first
		}
	}
	if err != nil {
		return fmt.Errorf("store: stream %s: %w", StreamName, err)
	}
	if st, err = s.applyLimits(ctx, st); err != nil {
		return err
	}
	s.stream = st
	s.replicas = st.CachedInfo().Config.Replicas
	s.epoch = st.CachedInfo().Config.Metadata[epochKey]
	if s.epoch == "" {
		return fmt.Errorf("store: stream %s has no %s metadata; it was not created by herald", StreamName, epochKey)
	}
	return nil
}

// placementWait is how long creating the stream retries while the
// cluster cannot place its replicas: servers still meeting one another at
// start answer "insufficient resources" for a moment.
var placementWait = 15 * time.Second

// createStream creates the stream at cfg.Replicas. A cluster that cannot
// place that many replicas is asked again for placementWait (it may still
// be forming). After that, replicas asked for explicitly (Config.Replicas)
// are an error; the default of 3 steps down to what the cluster places,
// with a warning. A server without clustering takes 1 at once.
func (s *Store) createStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	asked := cfg.Replicas
	deadline := time.Now().Add(placementWait)
	for {
		st, err := s.js.CreateStream(ctx, cfg)
		if err == nil || cfg.Replicas <= 1 || !isInsufficientResources(err) {
			if err == nil && cfg.Replicas < asked {
				s.log.Warn("the cluster places fewer replicas of the stream than asked; stepped down",
					"asked", asked, "replicas", cfg.Replicas)
			}
			return st, err
		}
		notClustered := isNotClustered(err)
		switch {
		case !notClustered && time.Now().Before(deadline):
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx.Done():
				return nil, err
			}
			continue
		case s.cfg.Replicas > 1:
			return nil, fmt.Errorf("the NATS server(s) cannot place %d replicas of the stream (fewer servers with JetStream, or not clustered): lower --replicas: %w", cfg.Replicas, err)
		case notClustered:
			cfg.Replicas = 1
		default:
			cfg.Replicas-- // a cluster smaller than the default: replicate to what there is
		}
	}
}

// isNotClustered reports a server that runs JetStream without clustering.
func isNotClustered(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10074
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

// Info returns the stream's first sequence and time, and the sequence of
// its last record: on a single-replica stream the last one that exists,
// so that a reader waiting to have seen "the last record" is not left
// waiting for one that was purged or lost (the stream's own last sequence
// stays where it was).
func (s *Store) Info(ctx context.Context) (first, last uint64, firstTime time.Time, err error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	last = info.State.LastSeq
	switch {
	case last == 0:
	case s.replicas <= 1:
		if last, err = s.lastExisting(ctx, last); err != nil {
			return 0, 0, time.Time{}, err
		}
	default:
		if last, err = s.lastExistingReplicated(ctx, last); err != nil {
			return 0, 0, time.Time{}, err
		}
	}
	return info.State.FirstSeq, last, info.State.FirstTime, nil
}

// Ping checks that the store answers.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.stream.Info(ctx)
	return err
}

// Close stops the store's goroutines, writes the continuity checkpoint,
// closes the connection, shuts the embedded server down and releases the
// data directory. Stop the tail (cancel its context) first.
func (s *Store) Close() {
	select {
	case <-s.stop:
		return // closed already
	default:
		close(s.stop)
	}
	s.wg.Wait()
	if s.ns != nil && s.stream != nil && s.nc != nil {
		s.checkpoint()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
	s.lock.Unlock()
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
	if port == 0 {
		port = server.RANDOM_PORT // nats-server reads 0 as its default, 4222
	}
	return strings.Trim(hp[:i], "[]"), port, nil
}
