package main

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/pflag"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/netlimit"
)

// defaultReadTimeout bounds the reading of a request's headers, and of
// its body from the headers on.
const defaultReadTimeout = 10 * time.Second

// defaultMaxConnsPerIP caps the unauthenticated connections of one source
// address: far above what a browser or a NAT of browsers holds before its
// first authenticated request.
const defaultMaxConnsPerIP = 256

// limitOpts are herald serve's limits against hostile clients.
type limitOpts struct {
	maxConns, maxConnsPerIP, maxStreamsPerKey int
	readTimeout                               time.Duration
	rateWrites, rateLogins, rateAuthFailures  float64
}

func (l *limitOpts) flags(f *pflag.FlagSet) {
	f.IntVar(&l.maxConns, "max-connections", 0, "cap on open HTTP connections, streams included; past it new ones get 503 and are closed "+
		"(0: the open-files limit, raised to the hard one, less a reserve for the store of max(256, limit/64))")
	f.IntVar(&l.maxConnsPerIP, "max-conns-per-ip", defaultMaxConnsPerIP, "cap on the connections of one source address that have not made an authenticated request yet (0: no cap)")
	f.IntVar(&l.maxStreamsPerKey, "max-streams-per-key", api.DefaultMaxStreamsPerKey, "cap on the open SSE streams of one key, the superadmin's excepted; past it 429 (0: no cap)")
	f.DurationVar(&l.readTimeout, "read-timeout", defaultReadTimeout, "deadline for reading a request's headers, and its body from the headers on; streams are not cut (0: none)")
	f.Float64Var(&l.rateWrites, "rate-writes", api.DefaultRateWrites, "writes a second of one key, burst twice that; past it 429 (0: no limit)")
	f.Float64Var(&l.rateLogins, "rate-logins", api.DefaultRateLogins, "logins a second from one source address, burst twice that; past it 429 (0: no limit)")
	f.Float64Var(&l.rateAuthFailures, "rate-auth-failures", api.DefaultRateAuthFailures, "failed authentications a second from one source address, burst twice that; past it 429 (0: no limit)")
}

// validate refuses negative limits.
func (l *limitOpts) validate() error {
	if l.maxConns < 0 || l.maxConnsPerIP < 0 || l.maxStreamsPerKey < 0 || l.readTimeout < 0 ||
		l.rateWrites < 0 || l.rateLogins < 0 || l.rateAuthFailures < 0 {
		return errors.New("--max-connections, --max-conns-per-ip, --max-streams-per-key, --read-timeout and --rate-* " +
			"must not be negative (see herald serve --help for what 0 means)")
	}
	return nil
}

// listener raises the open-files limit and wraps ln with the connection
// caps. Over TLS a refused connection is only closed.
func (l *limitOpts) listener(ln net.Listener, tls bool, log *slog.Logger) *netlimit.Listener {
	limit, err := netlimit.RaiseFileLimit()
	if err != nil {
		log.Warn("could not raise the open-files limit", "err", err, "limit", limit)
	}
	maxConns := l.maxConns
	if maxConns <= 0 && limit > 0 {
		maxConns = netlimit.MaxConns(limit)
	}
	if limit > 0 && uint64(maxConns) > limit-netlimit.Reserve(limit) {
		log.Warn("--max-connections leaves the store less than its reserve of descriptors: under a flood it may fail to open its files",
			"max_connections", maxConns, "open_files_limit", limit, "reserve", netlimit.Reserve(limit))
	}
	cfg := netlimit.Config{MaxConns: maxConns, MaxPerIP: l.maxConnsPerIP, Log: log}
	if !tls {
		cfg.Refusal = netlimit.Refusal503("too many connections; retry later")
	}
	log.Info("connection budget", "open_files_limit", limit, "max_connections", maxConns,
		"max_conns_per_ip", l.maxConnsPerIP, "max_streams_per_key", l.maxStreamsPerKey, "read_timeout", l.readTimeout.String())
	return netlimit.New(ln, cfg)
}
