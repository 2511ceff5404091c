// Package api is herald's HTTP surface: the SSE feeds, the producer and read
// API, the admin API, login, health and metrics. It is the only package
// where errors become HTTP statuses.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-sse/herald/hub"
	"github.com/herald-sse/herald/internal/clock"
	"github.com/herald-sse/herald/internal/netlimit"
	"github.com/herald-sse/herald/internal/seqwait"
	"github.com/herald-sse/herald/store"
	"github.com/herald-sse/herald/views"
)

// Config holds the api's settings (SPEC §8 flags).
type Config struct {
	Keepalive           time.Duration // comment after this long without a write; 0 disables
	Retention           time.Duration // history of finished entities (default 24h)
	SSERetry            time.Duration // retry: sent at stream start when > 0
	CORSOrigins         []string      // exact origins allowed, with credentials
	StrictSessionLookup bool
	TLS                 bool          // cookies get Secure
	WriteTimeout        time.Duration // per SSE write; a client that does not read is dropped
	// QueueSize, when > 0, also bounds the deliveries queued per subscriber
	// (deprecated: MaxPendingBytes bounds them in bytes).
	QueueSize int
	// MaxPendingBytes bounds what one stream may owe its client: events
	// queued plus written but not yet taken. A stream that would owe more
	// is ended as slow (it resumes by id). 0 means hub.DefaultMaxPendingBytes.
	MaxPendingBytes int64
	// Writers is how many goroutines may write streams at once (hub.Config);
	// 0 means GOMAXPROCS-1.
	Writers int
	// WriterNice runs the hub's writers that many nice steps below the
	// rest of the process (hub.Config); 0 leaves them at its priority.
	WriterNice int
	// HandlerWrites keeps every stream on its handler goroutine instead of
	// handing HTTP/1.1 streams to the hub's writers (for comparison and
	// tests; TLS and HTTP/2 streams always stay on their handler).
	HandlerWrites bool
	// ReplayCache bounds (in bytes) the memory of recent deliveries that
	// resuming clients are served from without reading the store; 0 means
	// DefaultReplayCache, negative none.
	ReplayCache int64
	// ShutdownSpread is the window over which Shutdown ends the open
	// streams, each at a random moment, so their clients do not all
	// reconnect at once; 0 ends them all at once.
	ShutdownSpread time.Duration
	// Clock is the time source of keepalives and the shutdown spread (tests
	// pass a clock.Fake); nil means the system clock.
	Clock clock.Clock
	// VotingTimeout is how long push-job nodes may take to vote (default 60s).
	VotingTimeout time.Duration
	// HeartbeatInterval is the push nodes' heartbeat pace (default 10s); a
	// node is down after 3 missed intervals.
	HeartbeatInterval time.Duration
	// IdempotencyCache bounds (in bytes) the index of recent
	// Idempotency-Keys; past it the oldest are forgotten. 0 means
	// views.DefaultIdempotencyBytes, negative no bound.
	IdempotencyCache int64
	// PublicURL is the scheme://host[:port] of the absolute URIs herald
	// answers with (Location, uri, Link); "" means the scheme and local
	// address of the connection. The Host header is never used.
	PublicURL string
	// MaxOpenJobs caps the unfinished push jobs of one domain; past it a
	// job start is refused with 429. 0 means DefaultMaxOpenJobs, negative
	// no cap.
	MaxOpenJobs int
	// LoginTTL is how long a browser login lasts (default LoginTTL); the
	// janitor prunes expired ones.
	LoginTTL time.Duration
	// MaxListBytes bounds the body of one list answer (default
	// DefaultMaxListBytes); past it the answer ends with Link rel="next".
	MaxListBytes int
	// MaxRunningTasks caps the unfinished tasks of one domain; past it a
	// task creation is refused with 429. 0 means DefaultMaxRunningTasks,
	// negative no cap.
	MaxRunningTasks int
	// TaskEventNames names the task feed's events: TaskNamesHerald (or
	// "", the default) or TaskNamesBackendAI (tasknames.go).
	TaskEventNames string
	// JobFeedLinger is how long after a job ended its feed, opened
	// without a recognized id, still replays the job's whole history
	// rather than the summary; 0 means DefaultJobFeedLinger, negative
	// never.
	JobFeedLinger time.Duration
	// TaskStaleAfter fails a running task whose producer has not
	// reported for this long (taskstale.go); 0 never does.
	TaskStaleAfter time.Duration

	// Limits against hostile clients (limits.go); zero disables each.
	// MaxStreamsPerKey caps the open SSE streams of one key (the
	// superadmin's are not capped).
	MaxStreamsPerKey int
	// RateWrites is the writes a second of one key (burst twice that).
	RateWrites float64
	// RateLogins is the logins a second of one source address (burst
	// twice that).
	RateLogins float64
	// RateAuthFailures is the failed authentications a second of one
	// source address (burst twice that); past it even good credentials
	// get 429 until the bucket refills.
	RateAuthFailures float64
	// Listener, when herald serves through one, gives /metrics its
	// connection counts.
	Listener *netlimit.Listener
}

// DefaultMaxRunningTasks is the default Config.MaxRunningTasks.
const DefaultMaxRunningTasks = 10000

// DefaultMaxOpenJobs is the default Config.MaxOpenJobs.
const DefaultMaxOpenJobs = 1000

// DefaultReplayCache is the default Config.ReplayCache: 64 MiB, about
// 60,000 recent session events.
const DefaultReplayCache = 64 << 20

// API serves herald's HTTP endpoints.
type API struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	views   *views.Views
	hub     *hub.Hub
	metrics *metrics
	mux     *http.ServeMux
	ready   atomic.Bool   // views caught up with the store
	readyC  chan struct{} // closed when ready turns true
	catch   catchUp       // progress of the catch-up at start (ready.go)
	booted  atomic.Bool   // Bootstrap ran: credentials exist
	closing atomic.Bool
	streams atomic.Int64
	drained chan struct{}  // signalled when a stream closes while closing (see Shutdown)
	writes  sync.WaitGroup // goroutines finishing blocked writes of served streams
	clock   clock.Clock
	wheel   wheel                            // streams served by the hub's writers, for keepalives
	gone    *goneWatch                       // notices departed clients of served streams (nil: the wheel looks)
	pushy   pushyRuntime                     // push jobs: per-job write locks, readiness (pushy_write.go)
	limits  limits                           // rate limits, streams per key (limits.go)
	head    storeHead                        // the store's last sequence, for catch-ups (barrier.go)
	fanned  seqwait.Position                 // the last record fanned out (fanout.go)
	fans    fanLog                           // the writers' turns after each recent fan-out
	fanHook atomic.Pointer[func(seq uint64)] // tests: called before each fan-out
	// fanning is the domains fanning out to thousands (hold.go).
	fanning fanningDomains
	// lastWrite is each access key's last writes, for keyTurn (fanout.go).
	lastWrite struct {
		mu   sync.Mutex
		keys map[string]*keyWrites
	}
	// renames maps stored event names to the names frames carry (nil:
	// none; tasknames.go).
	renames map[string]string
	// incarnation is this process's random id (pushy_status.go).
	incarnation string
}

// New returns the API over an open store. Call Run to follow the store.
func New(cfg Config, st *store.Store, log *slog.Logger) *API {
	if cfg.Retention == 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.LoginTTL <= 0 {
		cfg.LoginTTL = LoginTTL
	}
	if cfg.ReplayCache == 0 {
		cfg.ReplayCache = DefaultReplayCache
	}
	a := &API{cfg: cfg, log: log, store: st, views: views.New(), hub: hub.New(hub.Config{
		MaxPendingBytes: cfg.MaxPendingBytes, MaxQueue: cfg.QueueSize, Writers: cfg.Writers, WriterNice: cfg.WriterNice, Log: log}), readyC: make(chan struct{})}
	a.clock = clock.Or(cfg.Clock)
	a.gone = newGoneWatch(&a.wheel)
	a.drained = make(chan struct{}, 1)
	a.lastWrite.keys = map[string]*keyWrites{}
	a.hub.KeepHistory(cfg.ReplayCache, cfg.Retention)
	if cfg.IdempotencyCache != 0 {
		a.views.SetIdempotencyBytes(cfg.IdempotencyCache)
	}
	a.views.OnRevoke = a.hub.EndKey
	a.views.OnLogout = a.hub.EndLogin
	a.limits = newLimits(cfg)
	a.renames = taskEventRenames(cfg.TaskEventNames)
	a.incarnation = newIncarnation()
	a.metrics = newMetrics(a)
	a.routes()
	return a
}

// Views exposes the in-memory state (tests, bootstrap).
func (a *API) Views() *views.Views { return a.views }

// Hub exposes the fan-out (tests, benchmarks).
func (a *API) Hub() *hub.Hub { return a.hub }

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v,
				"request_id", requestID(w, r))
			a.writeError(w, r, errPanic)
		}
	}()
	echoRequestID(w, r)
	if a.cors(w, r) {
		return
	}
	if !a.open() && !ungated(r.URL.Path) {
		a.writeError(w, r, errStarting)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// Ready reports whether the views caught up with the store. The API
// answers requests once it is ready and Bootstrap ran (see open).
func (a *API) Ready() bool { return a.ready.Load() }

// WaitReady blocks until the views caught up with the store.
func (a *API) WaitReady(ctx context.Context) error {
	select {
	case <-a.readyC:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
