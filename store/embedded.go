package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"
)

// minFreeToHeal is the free space JetStream needs on the data
// directory's filesystem before the store restarts it after a full disk.
const minFreeToHeal = 1 << 20

// startEmbedded locks the data directory, starts the embedded NATS server
// on it (logging to herald's logger, requiring the directory's
// credentials) and connects to it in-process.
func (s *Store) startEmbedded() error {
	if s.cfg.Dir == "" {
		return errors.New("store: a data directory is required")
	}
	dir, err := filepath.Abs(s.cfg.Dir)
	if err != nil {
		return err
	}
	if s.lock = s.cfg.Lock; s.lock == nil {
		if s.lock, err = LockDir(dir); err != nil {
			return err
		}
	}
	s.dir = dir
	creds, err := loadCredentials(dir)
	if err != nil {
		return err
	}
	// The server keeps a bcrypt hash, never the password. The cost is the
	// lowest: the password is 256 random bits, not guessable anyway.
	h, err := bcrypt.GenerateFromPassword([]byte(creds.Password), bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("store: hash NATS password: %w", err)
	}
	hashed := string(h)
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
		Username:     creds.User,
		Password:     hashed,
	}
	if s.cfg.MaxBytes > 0 {
		// The stream's cap is the whole store's: JetStream's own account
		// limit (75% of the free disk at start by default) must not be
		// lower, or it refuses to create the stream.
		opts.JetStreamMaxStore = s.cfg.MaxBytes
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
	ns.SetLoggerV2(natsLogger{s.log}, s.cfg.LogDebug, false, false)
	s.ns, s.nsOpts = ns, opts
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		return errors.New("store: embedded NATS did not start within 30s")
	}
	if !ns.JetStreamEnabled() {
		return errors.New("store: embedded NATS started without JetStream; see the log")
	}
	// A restart of JetStream (heal) keeps the storage limit computed now:
	// computed on a full disk it would be nothing.
	s.jsMaxStore = ns.JetStreamConfig().MaxStore
	s.nc, err = nats.Connect("", nats.InProcessServer(ns), nats.Name("herald"),
		nats.UserInfo(creds.User, creds.Password), s.connErrors())
	return err
}

// jetStreamFault reports why the embedded JetStream cannot append, or "":
// JetStream disabled (nats-server turns it off when it runs out of
// resources) or a write error on the stream (a full disk, no file
// descriptor left), which JetStream keeps until the stream is reloaded.
func (s *Store) jetStreamFault() string {
	if !s.ns.JetStreamEnabled() {
		return "JetStream is disabled"
	}
	hs := s.ns.Healthz(&server.HealthzOptions{Stream: StreamName, Account: server.DEFAULT_GLOBAL_ACCOUNT})
	if hs == nil || hs.Error == "" || !strings.Contains(hs.Error, "write error") {
		return ""
	}
	return hs.Error
}

// restartJetStream shuts JetStream down and enables it again in the same
// server: the stream is reloaded from its files, which clears a write
// error once its cause (a full disk, too many open files) is gone. The
// connection and its subscriptions stay; the tail's consumer is
// recreated where it stopped. It reports whether it restarted.
func (s *Store) restartJetStream(cause string) bool {
	if strings.Contains(cause, "no space left") {
		if free, err := freeBytes(s.dir); err == nil && free < minFreeToHeal {
			return false // still full: a restart would fail the same way
		}
	}
	s.log.Error("store: JetStream cannot append; restarting it in-process", "cause", cause)
	if s.ns.JetStreamEnabled() {
		if err := s.ns.ShutdownJetStream(); err != nil {
			s.log.Warn("store: JetStream shutdown", "err", err)
		}
	}
	cfg := &server.JetStreamConfig{StoreDir: s.dir, MaxStore: s.jsMaxStore,
		SyncInterval: s.nsOpts.SyncInterval, SyncAlways: s.nsOpts.SyncAlways}
	if err := s.ns.EnableJetStream(cfg); err != nil {
		s.log.Error("store: JetStream did not restart; retrying", "err", err)
		return true
	}
	s.log.Warn("store: JetStream restarted")
	s.resetTail()
	return true
}

// connErrors logs the client connection's trouble: disconnects,
// reconnects and asynchronous errors (a slow consumer).
func (s *Store) connErrors() nats.Option {
	return func(o *nats.Options) error {
		o.DisconnectedErrCB = func(_ *nats.Conn, err error) {
			if err != nil {
				s.log.Warn("store: NATS connection lost", "err", err)
			}
		}
		o.ReconnectedCB = func(nc *nats.Conn) {
			s.log.Warn("store: NATS connection restored", "server", nc.ConnectedServerName())
		}
		o.AsyncErrorCB = func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			s.log.Error("store: NATS error", "subject", subj, "err", err)
		}
		return nil
	}
}
