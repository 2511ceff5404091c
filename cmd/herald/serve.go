package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/netlimit"
	"github.com/herald-sse/herald/internal/version"
	"github.com/herald-sse/herald/store"
	"github.com/herald-sse/herald/views"
)

type serveOpts struct {
	listen, data, fsync, natsURLs, natsListen, bootstrap string
	tlsCert, tlsKey, logFormat, logLevel, sseRetry       string
	keepalive, retention, votingTimeout, heartbeat       time.Duration
	corsOrigins                                          []string
	strictLookup                                         bool
	queueSize                                            int
	cpuprofile, memprofile                               string
	replayCacheMB                                        int
	handlerWrites                                        bool
	idempotencyCacheMB                                   int
	publicURL                                            string
	maxOpenJobs                                          int
	bootstrapFile                                        string
	maxRunningTasks                                      int
	limits                                               limitOpts
	maxStoreBytes, natsCreds                             string
	replicas                                             int
	maxPendingBytes                                      int64
	shutdownSpread                                       time.Duration
	writerNice                                           int
	compat                                               compatOpts
}

func newServeCmd() *cobra.Command {
	var o serveOpts
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the herald server",
		Long: `Run the herald server. With no flags it keeps its store in ./herald-data
(an embedded NATS JetStream), listens on 127.0.0.1:8080, and on first start
prints a superadmin token (also saved to <data>/bootstrap-token, mode 0600).`,
		Example: `  herald serve
  herald serve --listen 0.0.0.0:8080 --data /var/lib/herald --fsync always
  herald serve --listen 127.0.0.1:0 --keepalive 5s --retention 1h
  HERALD_NATS=nats://n1:4222,nats://n2:4222 herald serve   # external cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	f.StringVar(&o.data, "data", "./herald-data", "data directory of the embedded store")
	f.DurationVar(&o.keepalive, "keepalive", 15*time.Second, "send a keepalive comment after this long without a write (0 disables)")
	f.DurationVar(&o.retention, "retention", 24*time.Hour, "keep the history of finished entities this long")
	f.StringVar(&o.fsync, "fsync", "1s", "fsync policy of the embedded store: a Go duration (sync every interval) or \"always\"")
	f.StringVar(&o.natsURLs, "nats", "", "comma-separated URLs of an external NATS JetStream cluster (instead of the embedded store)")
	f.IntVar(&o.replicas, "replicas", 0, "copies of the stream kept by an external cluster (--nats): 0 means 3, stepped down to what the cluster places (after 15 s of retries while it forms); an explicit N must be placed; the embedded store keeps 1")
	f.StringVar(&o.natsListen, "nats-listen", "", "expose the embedded NATS server on host:port so other herald processes can share it with --nats")
	f.StringVar(&o.maxStoreBytes, "max-store-bytes", "0", "cap on the store's size (bytes, or with a unit: 500MB, 8GiB); past it writes get 503 \"store full\" until retention frees space (0: no cap of herald's own; the embedded store then stops at 75% of the disk space free at start plus what it holds)")
	f.StringVar(&o.natsCreds, "nats-credentials", "", "file holding user:password for the NATS server at --nats (another herald's <data>/"+store.CredentialsFile+"); user:pass@ in the URL works too")
	f.StringVar(&o.bootstrap, "bootstrap-token", "", "token of the bootstrap superadmin (generated on first start when empty)")
	f.StringVar(&o.bootstrapFile, "bootstrap-token-file", "", "read the bootstrap superadmin's token from this file (keeps it off the command line)")
	f.StringSliceVar(&o.corsOrigins, "cors-origin", nil, "exact origin allowed to call herald from a browser, with credentials (repeatable)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (serves HTTPS and HTTP/2)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS key file")
	f.StringVar(&o.sseRetry, "sse-retry", "0", "send \"retry: MS\" at stream start (milliseconds or a Go duration; 0 = off)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&o.votingTimeout, "voting-timeout", 60*time.Second, "push jobs: how long nodes may take to vote")
	f.DurationVar(&o.heartbeat, "heartbeat-interval", 10*time.Second, "push jobs: node heartbeat interval (down after 3 missed)")
	f.BoolVar(&o.strictLookup, "strict-session-lookup", false, "refuse /events/session for a sessionId that matches no visible session")
	f.IntVar(&o.queueSize, "queue-size", 0, "deprecated: also bound the events queued per subscriber by count (0 = no count bound; --max-pending-bytes bounds them)")
	_ = f.MarkDeprecated("queue-size", "streams are bounded in bytes now; use --max-pending-bytes (a count given here still applies)")
	f.Int64Var(&o.maxPendingBytes, "max-pending-bytes", hub.DefaultMaxPendingBytes, "bytes a stream may owe its client (events queued plus written and not yet taken) before it is ended as slow; the client resumes by id")
	f.IntVar(&o.writerNice, "writer-nice", defaultWriterNice, "nice steps below the rest of the server at which the stream writers run a fan-out to thousands of streams (Linux), so that when the CPU is short a write's acknowledgement goes first; 0 keeps all fan-out at the server's priority (use it when other CPU-bound programs on the machine must not slow the fan-out)")
	f.IntVar(&o.replayCacheMB, "replay-cache-mb", api.DefaultReplayCache>>20, "MiB of recent events kept in memory for resuming clients, so they need not read the store (0 disables)")
	f.StringVar(&o.publicURL, "public-url", "", "scheme://host[:port] of the Location, uri and Link URLs herald answers with (default: the scheme and the address it listens on; never the Host header)")
	f.IntVar(&o.maxOpenJobs, "max-open-jobs", api.DefaultMaxOpenJobs, "push jobs: unfinished jobs one organization may have; past it a start is refused with 429 (0: no cap)")
	f.IntVar(&o.maxRunningTasks, "max-running-tasks", api.DefaultMaxRunningTasks, "unfinished background tasks one domain may have; past it a creation is refused with 429 (0: no cap)")
	f.IntVar(&o.idempotencyCacheMB, "idempotency-cache-mb", views.DefaultIdempotencyBytes>>20, "MiB of recent Idempotency-Keys remembered (for an hour); past it the oldest are forgotten (0: no bound)")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the server to this file until it stops (for herald bench --server-arg)")
	_ = f.MarkHidden("cpuprofile")
	f.StringVar(&o.memprofile, "memprofile", "", "record every allocation and write a heap profile to this file on SIGUSR1 (else when the server begins to stop); for herald bench idle --server-arg; slows the server")
	_ = f.MarkHidden("memprofile")
	f.DurationVar(&o.shutdownSpread, "shutdown-spread", 2*time.Second, "on shutdown, end the open streams at random moments over this window, so clients do not all reconnect at once (0 ends them at once)")
	f.BoolVar(&o.handlerWrites, "handler-writes", false, "write every stream from its own goroutine, as TLS and HTTP/2 streams are (for comparison)")
	_ = f.MarkHidden("handler-writes")
	o.limits.flags(f)
	o.compat.flags(f)
	return cmd
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func parseRetry(s string) (time.Duration, error) {
	if ms, err := strconv.Atoi(s); err == nil && ms >= 0 {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--sse-retry %q: give milliseconds (3000) or a duration (3s)", s)
	}
	return d, nil
}

func runServe(ctx context.Context, o serveOpts) error {
	log, err := newLogger(o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	retry, err := parseRetry(o.sseRetry)
	if err != nil {
		return err
	}
	if err := o.compat.check(); err != nil {
		return err
	}
	if o.bootstrap, err = bootstrapToken(o.bootstrap, o.bootstrapFile); err != nil {
		return err
	}
	scfg := store.Config{Dir: o.data, Listen: o.natsListen, Logger: log, LogDebug: o.logLevel == "debug"}
	if scfg.MaxBytes, err = parseBytes(o.maxStoreBytes); err != nil {
		return fmt.Errorf("--max-store-bytes: %w", err)
	}
	if o.natsCreds != "" {
		c, err := store.ReadCredentials(o.natsCreds)
		if err != nil {
			return fmt.Errorf("--nats-credentials: %w", err)
		}
		scfg.Credentials = &c
	}
	if o.fsync == "always" {
		scfg.SyncAlways = true
	} else if scfg.SyncInterval, err = time.ParseDuration(o.fsync); err != nil || scfg.SyncInterval <= 0 {
		return fmt.Errorf("--fsync %q: use \"always\" or a positive duration such as 1s", o.fsync)
	}
	if o.natsURLs != "" {
		scfg.URLs = strings.Split(o.natsURLs, ",")
	}
	if o.replicas < 0 || o.replicas > 5 || (o.replicas > 1 && o.natsURLs == "") {
		return fmt.Errorf("--replicas %d: use 1 to 5 with --nats (0 means 3); the embedded store keeps 1", o.replicas)
	}
	scfg.Replicas = o.replicas
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if err := o.limits.validate(); err != nil {
		return err
	}
	if o.maxPendingBytes < 4<<10 {
		return fmt.Errorf("--max-pending-bytes %d: give at least 4096 (default %d)", o.maxPendingBytes, hub.DefaultMaxPendingBytes)
	}
	if o.writerNice < 0 || o.writerNice > 19 {
		return fmt.Errorf("--writer-nice %d: give 0 (the server's priority) to 19 (the lowest); default %d", o.writerNice, defaultWriterNice)
	}
	if o.shutdownSpread < 0 {
		return errors.New("--shutdown-spread must not be negative")
	}
	if o.votingTimeout <= 0 || o.heartbeat <= 0 {
		return errors.New("--voting-timeout and --heartbeat-interval must be positive durations, such as 60s and 10s")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	heapProf := startHeapProfiler(o.memprofile, log)
	defer heapProf.close()

	if len(scfg.URLs) == 0 {
		// One process per data directory: a second herald on it stops
		// here, before it listens, naming the holder.
		if scfg.Lock, err = store.LockDir(o.data); err != nil {
			return err
		}
		defer scfg.Lock.Unlock() // Close releases it; this covers an early return
	}
	rawLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another herald running? try --listen 127.0.0.1:0)", o.listen, err)
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	started := time.Now()
	writers := procs()
	log.Info("herald starting", "url", scheme+"://"+rawLn.Addr().String(), "ready", false,
		"procs", runtime.GOMAXPROCS(0), "stream_writers", writers, "writer_nice", o.writerNice,
		"note", "not ready yet: the API answers 503 with Retry-After until the \"herald listening\" line")
	publicURL, err := listenPublicURL(o.publicURL, scheme, rawLn.Addr())
	if err != nil {
		rawLn.Close()
		return err
	}
	ln := o.limits.listener(rawLn, o.tlsCert != "", log)

	openCtx, cancelOpen := context.WithTimeout(ctx, time.Minute)
	st, err := store.Open(openCtx, scfg)
	cancelOpen()
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()
	if u := st.NATSURL(); u != "" {
		log.Info("embedded NATS exposed", "url", u)
	}
	cfg := api.Config{
		HandlerWrites:    o.handlerWrites,
		ReplayCache:      replayCache(o.replayCacheMB),
		IdempotencyCache: idempotencyCache(o.idempotencyCacheMB),
		PublicURL:        publicURL,
		MaxOpenJobs:      maxOpenJobs(o.maxOpenJobs),
		MaxRunningTasks:  maxOpenJobs(o.maxRunningTasks),
		Keepalive:        o.keepalive, Retention: o.retention, SSERetry: retry, CORSOrigins: o.corsOrigins,
		StrictSessionLookup: o.strictLookup, TLS: o.tlsCert != "", QueueSize: o.queueSize,
		MaxPendingBytes: o.maxPendingBytes, ShutdownSpread: o.shutdownSpread,
		VotingTimeout: o.votingTimeout, HeartbeatInterval: o.heartbeat,
		MaxStreamsPerKey: o.limits.maxStreamsPerKey, RateWrites: o.limits.rateWrites,
		RateLogins: o.limits.rateLogins, RateAuthFailures: o.limits.rateAuthFailures, Listener: ln,
		Writers: writers, WriterNice: o.writerNice,
	}
	o.compat.apply(&cfg)
	a := api.New(cfg, st, log)

	runCtx, cancelRun := context.WithCancel(context.Background())
	var runErr error
	runDone := make(chan struct{})
	go func() { runErr = a.Run(runCtx); close(runDone) }()
	// The tail stops (Run returns) before the store closes (deferred above),
	// and the api releases its writers after both.
	defer func() { cancelRun(); <-runDone; _ = a.Close() }()

	srv := &http.Server{Handler: netlimit.BodyDeadline(a, o.limits.readTimeout), ReadHeaderTimeout: o.limits.readTimeout,
		IdleTimeout: 2 * time.Minute, ConnContext: netlimit.ConnContext,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	serveDone := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			serveDone <- srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			serveDone <- srv.Serve(ln)
		}
	}()

	if err := a.WaitReady(ctx); err != nil {
		return shutdown(a, srv, log, o.shutdownSpread)
	}
	token, err := a.Bootstrap(ctx, o.bootstrap)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	tokenFile := filepath.Join(o.data, "bootstrap-token")
	switch {
	case token != "" && o.bootstrap == "" && len(scfg.URLs) == 0:
		if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
			log.Warn("could not save the bootstrap token", "file", tokenFile, "err", err)
		}
		fmt.Fprintf(os.Stderr, "\nherald: superadmin token (shown once; saved to %s):\n\n    %s\n\n"+
			"    export HERALD_TOKEN=%s\n\n", tokenFile, token, token)
	case token != "" && o.bootstrap == "":
		fmt.Fprintf(os.Stderr, "\nherald: superadmin token (shown once):\n\n    %s\n\n", token)
	case o.bootstrap == "" && len(scfg.URLs) == 0:
		if _, err := os.Stat(tokenFile); err == nil {
			log.Info("superadmin token from the first start is in " + tokenFile)
		}
	}

	records, seq, catchUp := a.CatchUp()
	log.Info("herald listening", "url", scheme+"://"+rawLn.Addr().String(), "version", version.Read().Version,
		"took", time.Since(started).Round(time.Millisecond).String(),
		"catch_up", catchUp.Round(time.Millisecond).String(), "records", records, "seq", seq)

	select {
	case <-ctx.Done():
		heapProf.atStop() // with the streams still open
		return shutdown(a, srv, log, o.shutdownSpread)
	case err := <-serveDone:
		return err
	case <-runDone:
		if runErr != nil {
			return fmt.Errorf("following the store: %w", runErr)
		}
		return nil
	}
}

// shutdown stops taking streams, ends the open ones spread over spread,
// then lets in-flight requests finish (writes need the tail, which runs
// until runServe's deferred stop, after this). Past spread+10s what is
// left is cut.
func shutdown(a *api.API, srv *http.Server, log *slog.Logger, spread time.Duration) error {
	log.Info("shutting down: ending streams", "spread", spread)
	ctx, cancel := context.WithTimeout(context.Background(), spread+10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		log.Warn("streams did not end in time; their connections were closed", "err", err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
	log.Info("stopped")
	return nil
}

// replayCache is api.Config.ReplayCache for --replay-cache-mb (0: none).
func replayCache(mb int) int64 {
	if mb <= 0 {
		return -1
	}
	return int64(mb) << 20
}

// idempotencyCache is api.Config.IdempotencyCache for --idempotency-cache-mb
// (0: no bound).
func idempotencyCache(mb int) int64 {
	if mb <= 0 {
		return -1
	}
	return int64(mb) << 20
}

// listenPublicURL is api.Config.PublicURL: --public-url checked, or else
// scheme://the listen address when that names one host ("" for 0.0.0.0 or
// [::]: each answer then names the local address its connection came to).
func listenPublicURL(flag, scheme string, addr net.Addr) (string, error) {
	if flag != "" {
		u, err := api.ParsePublicURL(flag)
		if err != nil {
			return "", fmt.Errorf("--public-url %q: %w", flag, err)
		}
		return u, nil
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return "", nil
	}
	return scheme + "://" + addr.String(), nil
}

// maxOpenJobs is api.Config.MaxOpenJobs for --max-open-jobs, and
// MaxRunningTasks for --max-running-tasks (0: no cap).
func maxOpenJobs(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// bootstrapToken is the bootstrap token of --bootstrap-token or, kept off
// the command line, the first line of --bootstrap-token-file.
func bootstrapToken(token, file string) (string, error) {
	if file == "" {
		return token, nil
	}
	if token != "" {
		return "", errors.New("give --bootstrap-token or --bootstrap-token-file, not both")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--bootstrap-token-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("--bootstrap-token-file %s: the file has no token on its first line", file)
	}
	return line, nil
}
