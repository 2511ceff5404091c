package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/herald-sse/herald/bench"
)

type benchOpts struct {
	o          bench.Options
	json       bool
	quiet      bool
	verbose    bool
	cpuprofile string
}

// options are the shared options with the run's progress display.
func (b *benchOpts) options(prog bench.Progress) bench.Options {
	o := b.o
	o.Progress = prog
	if b.verbose {
		o.Verbose = os.Stderr
	}
	return o
}

// profile starts a CPU profile of the load generator itself when asked;
// the returned function stops it.
func (b *benchOpts) profile() (func(), error) {
	if b.cpuprofile == "" {
		return func() {}, nil
	}
	f, err := os.Create(b.cpuprofile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func newBenchCmd() *cobra.Command {
	var b benchOpts
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test herald (or nchan or Centrifugo, for comparison): fanout, idle, ingest, resume, isolation",
		Long: `Load-test a herald server and report throughput, latency, server CPU and
memory, checking that no event is lost or duplicated (the command fails
if one is).

Without --target, each run starts its own server: this executable as
"herald serve --listen 127.0.0.1:0" with a temporary --data and a random
--bootstrap-token, so the CPU and memory measured (/proc/PID) are the
server's alone. With --target URL (and --token, a superadmin token) it
loads a running server and reads its CPU and memory from /metrics (or
/proc with --server-pid).

--peer nchan runs fanout and idle against nginx + nchan instead, started
with scripts/nchan/run.sh (run from the repository root, or give
--nchan-script); events go through nchan's publisher endpoint.
--peer centrifugo runs them against Centrifugo, started with
scripts/centrifugo/run.sh (or --centrifugo-script) from --centrifugo-bin,
$HERALD_CENTRIFUGO, or a build of scripts/centrifugo/build.sh the script
makes in the user's cache directory the first time; subscribers use its
unidirectional SSE transport, events go through its HTTP API.

Subscribers read as a real client does: each event's data is decoded as
JSON, as a page does with what its EventSource hands it, and checked by
event id (herald) or the publisher's counter (nchan; Centrifugo: inside
its envelope). --client picks the implementation, and the results'
params name it:
  decode   (default) raw TCP connections and the bench's own SSE scanner,
           no net/http per subscriber; each event's data decoded as JSON
  go-sse   an independent client to cross-check decode: the
           github.com/tmaxmax/go-sse library's connections (net/http), SSE
           parser and reconnection with Last-Event-ID, one reader per
           subscriber, each event's data decoded as JSON; it does not see
           keepalive comments (idle then reports no keepalive timing)
  fast     fast reader: scans frames, decodes nothing — not a real client
           (the bench's figures before issue 11)
Connections come from 127.0.0.2, 127.0.0.3, … (--sources); the open-files
limit is raised to the hard limit. Progress goes to stderr; the results
table (or --json) to stdout.`,
		Example: `  herald bench fanout --subscribers 1000 --duration 5s
  herald bench fanout --subscribers 1000 --rate 20 --duration 10s --peer nchan
  herald bench idle --conns 5000 --peer centrifugo
  herald bench idle --conns 19000
  herald bench ingest --writers 64 --duration 10s
  herald bench resume --backlog 100000
  herald bench isolation --subscribers 10000 --duration 10s
  herald bench compare --runs 5 > results.md
  herald bench fanout --subscribers 10000 --client go-sse     # cross-check with go-sse
  herald bench fanout --target http://127.0.0.1:8080 --token $HERALD_TOKEN --json`,
		Args: cobra.NoArgs,
	}
	f := cmd.PersistentFlags()
	f.StringVar(&b.o.Target, "target", "", "base URL of a running server to load instead of starting one (http only)")
	f.StringVar(&b.o.Token, "token", "", "superadmin token of --target (herald): creates the run's group and keys, reads /metrics")
	f.StringVar(&b.o.Peer, "peer", "herald", "server to load: herald, nchan or centrifugo (fanout and idle)")
	f.IntVar(&b.o.ServerPID, "server-pid", 0, "with --target: the server's pid, to read its CPU and memory from /proc (nginx: the master)")
	f.IntVar(&b.o.Runs, "runs", 1, "repeat the scenario on a fresh server and report medians")
	f.StringVar(&b.o.Client, "client", bench.ClientDecode, "subscribers' implementation: decode (own reader, JSON-decodes each event), go-sse (tmaxmax/go-sse, JSON-decodes each event) or fast (decodes nothing — not a real client)")
	f.IntVar(&b.o.Sources, "sources", 8, "loopback source addresses for connections (127.0.0.2 …)")
	f.StringVar(&b.o.NchanScript, "nchan-script", "scripts/nchan/run.sh", "script that runs nginx + nchan in the foreground")
	f.IntVar(&b.o.NchanWorkers, "nchan-workers", 2, "nginx worker_processes for --peer nchan")
	f.StringVar(&b.o.CentrifugoScript, "centrifugo-script", "scripts/centrifugo/run.sh", "script that runs Centrifugo in the foreground")
	f.StringVar(&b.o.CentrifugoBinary, "centrifugo-bin", "", "centrifugo binary for --peer centrifugo (default $HERALD_CENTRIFUGO, else built by scripts/centrifugo/build.sh into the user's cache directory)")
	f.StringArrayVar(&b.o.ServerArgs, "server-arg", nil, "extra flag for the herald serve the bench starts (repeatable), e.g. --server-arg=--fsync=always")
	f.StringArrayVar(&b.o.ServerEnv, "server-env", nil, "extra environment for the herald serve the bench starts (repeatable), e.g. GOGC=50")
	f.StringVar(&b.o.Binary, "binary", "", "herald binary to run as the server (default: this one); another build, to compare it with this one under the same load generator")
	f.BoolVar(&b.json, "json", false, "print the results as JSON")
	f.BoolVarP(&b.quiet, "quiet", "q", false, "no progress on stderr")
	f.BoolVarP(&b.verbose, "verbose", "v", false, "pass the peer's (nginx's, Centrifugo's) stderr through")
	f.StringVar(&b.cpuprofile, "cpuprofile", "", "write a CPU profile of the load generator (not the server) to this file")
	_ = f.MarkHidden("cpuprofile")
	cmd.AddCommand(newBenchFanoutCmd(&b), newBenchIdleCmd(&b), newBenchIngestCmd(&b), newBenchResumeCmd(&b), newBenchCompareCmd(&b), newBenchIsolationCmd(&b), newBenchIsolationWriterCmd())
	return cmd
}

// run runs one scenario with progress on stderr and prints its result.
func (b *benchOpts) run(cmd *cobra.Command, scenario func(context.Context, bench.Options) (*bench.Result, error)) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := bench.RaiseFileLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "herald bench: could not raise the open-files limit:", err)
	}
	prog := newBenchProgress(os.Stderr, b.quiet)
	o := b.options(prog)
	stopProfile, err := b.profile()
	if err != nil {
		return err
	}
	r, err := scenario(ctx, o)
	stopProfile()
	prog.wait()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if b.json {
		err = bench.WriteJSON(out, r)
	} else {
		err = bench.WriteTable(out, r)
	}
	if err != nil {
		return err
	}
	return r.Err()
}

func newBenchFanoutCmd(b *benchOpts) *cobra.Command {
	var c bench.FanoutConfig
	cmd := &cobra.Command{
		Use:   "fanout",
		Short: "S subscribers on one feed, events published at a rate; deliveries/s, latency, CPU/delivery",
		Long: `S subscribers follow one feed (herald: GET /events/session?sessionId=*&ownerAccessKey=…
as superadmin; nchan: one channel). One or more sequential publishers send
session lifecycle reports (POST /v1/sessions/events) whose "reason" is the
send time in ns. Reports deliveries/s, publish→receive latency
p50/p99/p99.9, server CPU per delivery and RSS, how many events the
server packs into one write call and the clients get per read, and events
lost or duplicated per subscriber (by event id) or undecodable (data not
JSON, with a decoding --client), which must be 0.`,
		Example: `  herald bench fanout                                      # 1000 subscribers, max rate, 5s
  herald bench fanout --subscribers 10000 --duration 5s
  herald bench fanout --subscribers 1000 --rate 20 --duration 10s   # latency at 20 events/s
  herald bench fanout --peer nchan --subscribers 1000
  herald bench fanout --runs 5 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return b.run(cmd, func(ctx context.Context, o bench.Options) (*bench.Result, error) { return bench.Fanout(ctx, o, c) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Subscribers, "subscribers", 1000, "subscribers on the feed")
	f.IntVar(&c.Events, "events", 0, "events to publish (0: publish for --duration)")
	f.DurationVar(&c.Duration, "duration", 5*time.Second, "how long to publish when --events is 0")
	f.Float64Var(&c.Rate, "rate", 0, "events/s over all publishers (0: as fast as acknowledged)")
	f.IntVar(&c.Publishers, "publishers", 1, "concurrent publishers, each one request at a time")
	f.DurationVar(&c.Drain, "drain", time.Minute, "how long to wait for deliveries after the last publish")
	f.DurationVar(&c.Keepalive, "keepalive", 15*time.Second, "keepalive of the server the bench starts")
	return cmd
}

func newBenchIdleCmd(b *benchOpts) *cobra.Command {
	var c bench.IdleConfig
	cmd := &cobra.Command{
		Use:   "idle",
		Short: "N idle SSE connections with keepalives; server RSS per connection, keepalive punctuality",
		Long: `Opens N SSE connections on the feed fanout uses and holds them. Reports the
server's memory growth per connection (VmRSS; for nginx the sum of Pss of
its processes) after a settle, herald's heap and stacks per connection
from /metrics, and the intervals between keepalive comments. At the end
one event is published: every connection must receive it exactly once.

Where the memory goes: --server-arg=--memprofile=FILE has the server
record its allocations and write a heap profile to FILE right after the
memory reading, with the connections open (go tool pprof
-sample_index=inuse_space -lines -top FILE). It slows the server: read
no figures from such a run.

One process here cannot raise its open-files hard limit above 20,000, so
the default is 19,000 connections (the server and the bench each hold one
end).`,
		Example: `  herald bench idle                         # 19000 connections, keepalive 5s
  herald bench idle --conns 5000 --keepalive 2s
  herald bench idle --peer nchan
  herald bench idle --server-env GOGC=50
  herald bench idle --conns 10000 --server-arg=--memprofile=/tmp/idle.heap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return b.run(cmd, func(ctx context.Context, o bench.Options) (*bench.Result, error) { return bench.Idle(ctx, o, c) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Conns, "conns", 19000, "connections to hold open")
	f.DurationVar(&c.Keepalive, "keepalive", 5*time.Second, "keepalive of the server the bench starts (with --target: the server's)")
	f.DurationVar(&c.Hold, "hold", 0, "how long to hold the connections to time keepalives (default 2 keepalives + 1s)")
	f.DurationVar(&c.Settle, "settle", 3*time.Second, "pause before each memory reading")
	return cmd
}

func newBenchIngestCmd(b *benchOpts) *cobra.Command {
	var c bench.IngestConfig
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "C concurrent writers of session events or task progress; acknowledged writes/s and latency",
		Long: `C writers, each on its own connection and session, report session lifecycle
events (POST /v1/sessions/events), each acknowledged only once stored per
the server's --fsync policy. Reports acknowledged writes/s and latency
p50/p99/p99.9. With --rate the offered load is fixed and latency counts from
when each write was due. One subscriber checks every acknowledged event is
delivered exactly once.

With --kind task each writer creates a background task and reports its
progress (POST /v1/tasks/{id}/progress) instead; afterwards every task is
read back, and its stored progress must be the last acknowledged step.`,
		Example: `  herald bench ingest                        # 64 writers, as fast as acknowledged, 10s
  herald bench ingest --writers 128 --duration 20s
  herald bench ingest --rate 15000            # latency at a fixed offered rate
  herald bench ingest --kind task             # task progress instead of session reports
  herald bench ingest --server-arg=--fsync=always`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return b.run(cmd, func(ctx context.Context, o bench.Options) (*bench.Result, error) { return bench.Ingest(ctx, o, c) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Writers, "writers", 64, "concurrent writers")
	f.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to write")
	f.Float64Var(&c.Rate, "rate", 0, "offered writes/s over all writers (0: closed loop)")
	f.StringVar(&c.Kind, "kind", bench.IngestSessions, "what each write is: session (a lifecycle report) or task (a task's progress)")
	return cmd
}

func newBenchResumeCmd(b *benchOpts) *cobra.Command {
	var c bench.ResumeConfig
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "K clients reconnect with a Last-Event-ID B events behind; catch-up time",
		Long: `Writes a backlog of B session events, then K clients connect at once to the
owner's session feed with a Last-Event-ID just before it. Reports the time
each takes to receive the whole backlog and the events/s that makes, and
checks each got every backlog event exactly once.`,
		Example: `  herald bench resume                         # 1 client, 100000 events behind
  herald bench resume --clients 10 --backlog 20000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return b.run(cmd, func(ctx context.Context, o bench.Options) (*bench.Result, error) { return bench.Resume(ctx, o, c) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Clients, "clients", 1, "clients reconnecting at once")
	f.IntVar(&c.Backlog, "backlog", 100000, "events each client is behind")
	f.IntVar(&c.Writers, "writers", 32, "concurrent writers building the backlog")
	return cmd
}

func newBenchIsolationCmd(b *benchOpts) *cobra.Command {
	var c bench.IsolationConfig
	var inProcess bool
	cmd := &cobra.Command{
		Use:   "isolation",
		Short: "tenant B writes at a fixed rate while tenant A fans out to S subscribers; B's write-ack latency idle vs loaded",
		Long: `Two tenants (domains, each with its own group, owner and service key made
through the admin API) on one server. Tenant A has S subscribers on its
owner's session feed; tenant B reports session events at --b-rate through
its own service key and times each acknowledgement. The writes are spread
over --b-writers connections, one write at a time each; latency counts from
when each write was due, and writes sent late because every connection was
still waiting for an acknowledgement are counted as "held back". B's writer
is a process of its own, as another tenant's service would be: timed from
the bench process, B's latency would include the bench's own scheduling of
A's thousands of readers (--b-in-process shows that).

On a machine of two or more CPUs the bench pins the processes (--pin, on
by default when the bench starts the server): the server and B's writer run
on the first half of the CPUs, the bench itself (A's subscribers and
publishers) on the rest, as if A's clients were other machines. Unpinned
(--pin=false), A's 10,000 decoding readers share the server's cores, and
B's latency then includes waiting for a CPU behind them. The results'
params name the split.

Phase 1: B alone for --duration (A's subscribers connected, A idle).
Phase 2: A's publishers fan out to A's subscribers as fast as they are
acknowledged (or at --a-rate); after a ramp of up to 1 s, B writes as in
phase 1 for --duration.

Reports B's write-ack p50/p99/max in both phases and p99 loaded/idle, B's
delivery p50/p99 in both phases (from each write's send to a subscriber of
B's feed in B's writer process), A's deliveries/s, and "A subscribers
cut": A subscribers the server ended although they kept reading (their
stream ended without the client closing it; they resume with
Last-Event-ID). Every event of both tenants is checked: none may be lost
or duplicated.`,
		Example: `  herald bench isolation                                   # 10000 subscribers, B at 200/s, 10s phases
  herald bench isolation --subscribers 1000 --duration 5s
  herald bench isolation --runs 3 --json
  herald bench isolation --pin=false                       # the load generator on the server's cores too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !inProcess {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find this executable to run B's writer: %w (or use --b-in-process)", err)
				}
				c.WriterCommand = []string{exe, "bench", "isolation-writer"}
				// B's client stands for a service on a machine of its
				// own: ahead of A's readers for the CPU when the bench
				// may raise a priority (root), so the load generator's
				// own scheduling is not timed as the server's.
				if nice, err := exec.LookPath("nice"); err == nil && os.Geteuid() == 0 {
					c.WriterCommand = append([]string{nice, "-n", "-10"}, c.WriterCommand...)
				}
			}
			return b.run(cmd, func(ctx context.Context, o bench.Options) (*bench.Result, error) { return bench.Isolation(ctx, o, c) })
		},
	}
	f := cmd.Flags()
	f.BoolVar(&inProcess, "b-in-process", false, "time B's writes from the bench process itself, among A's subscribers (its scheduling of them then adds to B's latency; by default B's writer is a process of its own)")
	f.BoolVar(&c.Pin, "pin", true, "run the server and B's writer on the first half of the CPUs and the bench (A's clients) on the rest; needs two or more CPUs and the bench to start the server (ignored with --target)")
	f.IntVar(&c.Subscribers, "subscribers", 10000, "tenant A's subscribers")
	f.IntVar(&c.Publishers, "a-publishers", 1, "tenant A's concurrent publishers, each one request at a time")
	f.Float64Var(&c.RateA, "a-rate", 0, "tenant A's events/s over its publishers (0: as fast as acknowledged)")
	f.Float64Var(&c.RateB, "b-rate", 200, "tenant B's fixed write rate, writes/s")
	f.IntVar(&c.WritersB, "b-writers", 0, "connections tenant B's writes are spread over, one write at a time each (0: one second's worth at --b-rate, at least 16)")
	f.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each phase")
	f.DurationVar(&c.Drain, "drain", time.Minute, "how long to wait for A's deliveries after the loaded phase")
	f.DurationVar(&c.Keepalive, "keepalive", 15*time.Second, "keepalive of the server the bench starts")
	return cmd
}

// newBenchIsolationWriterCmd is tenant B's writer process of `herald bench
// isolation`: it reads its task as JSON on standard input and answers on
// standard output. Hidden: the isolation scenario runs it.
func newBenchIsolationWriterCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "isolation-writer",
		Short: "tenant B's writer process of herald bench isolation (run by it, not by hand)",
		Long: `Tenant B's writer process of herald bench isolation: it reads its task (the
server, B's keys, the rate and duration) as one JSON line on standard input,
writes, and answers with what it measured as one JSON line on standard output.`,
		Example: `  herald bench isolation          # starts herald bench isolation-writer for tenant B`,
		Hidden:  true,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if _, err := bench.RaiseFileLimit(); err != nil {
				fmt.Fprintln(os.Stderr, "herald bench isolation-writer: could not raise the open-files limit:", err)
			}
			return bench.IsolationWriter(ctx, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

func newBenchCompareCmd(b *benchOpts) *cobra.Command {
	c := bench.DefaultCompare()
	var idleConns int
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "herald vs nchan and Centrifugo: fanout to 1,000 and 10,000 subscribers at full speed and at a fixed rate, 19,000 idle",
		Long: `Runs the cases of docs/benchmarks.md against herald and nchan, or the
--peers given (herald, nchan, centrifugo: Centrifugo's first build from the
Go module proxy takes minutes), --runs times each, interleaving the peers
run by run, and prints a Markdown table of the medians with herald's
advantage over each other peer (its throughput divided by the peer's, or
the peer's cost divided by herald's).

The cases: fanout to 1,000 and to 10,000 subscribers from one publisher
as fast as it is acknowledged (--duration), 1,000 subscribers at 20
events/s and 10,000 at 25 events/s (10 s each; the same load for every
server, so latency and CPU per delivery compare servers or builds whose
maximum rates differ), and --idle-conns idle streams.`,
		Example: `  herald bench compare --runs 5
  herald bench compare --runs 1 --idle-conns 2000 --duration 2s   # quick look
  herald bench compare --runs 3 --peers herald,nchan,centrifugo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c.Idle.Conns = idleConns
			for i := range c.Fanout {
				if c.Fanout[i].Rate == 0 {
					c.Fanout[i].Duration = duration
				}
			}
			prog := newBenchProgress(os.Stderr, b.quiet)
			cs, err := bench.Compare(ctx, b.options(prog), c)
			prog.wait()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if b.json {
				err = bench.WriteJSON(out, cs)
			} else {
				err = bench.WriteComparison(out, cs, c.Peers)
			}
			if err != nil {
				return err
			}
			for _, cmp := range cs {
				for _, r := range cmp.Results {
					if err := r.Err(); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&idleConns, "idle-conns", 19000, "connections of the idle case (negative: leave it out)")
	cmd.Flags().DurationVar(&duration, "duration", 5*time.Second, "publishing time of the max-rate fanout cases")
	cmd.Flags().StringSliceVar(&c.Peers, "peers", c.Peers, "peers to compare")
	return cmd
}

// benchProgress shows phases as mpb bars on a terminal, as plain lines
// otherwise (or nothing with --quiet).
type benchProgress struct {
	w     io.Writer
	quiet bool
	tty   bool
	p     *mpb.Progress
}

func newBenchProgress(w io.Writer, quiet bool) *benchProgress {
	bp := &benchProgress{w: w, quiet: quiet, tty: !quiet && isTerminal(w)}
	if bp.tty {
		bp.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	}
	return bp
}

func (bp *benchProgress) wait() {
	if bp.p != nil {
		bp.p.Wait()
	}
}

func (bp *benchProgress) Phase(name string, total int64) bench.Bar {
	switch {
	case bp.quiet:
		return &lineBar{}
	case bp.tty:
		bar := bp.p.New(total, mpb.BarStyle(),
			mpb.PrependDecorators(decor.Name(name+" "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace)),
			mpb.BarRemoveOnComplete())
		return &mpbBar{b: bar, total: total}
	}
	fmt.Fprintf(bp.w, "%s herald bench: %s…\n", time.Now().Format("15:04:05"), name)
	return &lineBar{w: bp.w, name: name, start: time.Now(), last: time.Now()}
}

type mpbBar struct {
	b     *mpb.Bar
	total int64
	n     int64
}

func (m *mpbBar) Set(n int64) {
	m.n = n
	if m.total <= 0 || n > m.total {
		m.b.SetTotal(n+1, false)
	}
	m.b.SetCurrent(n)
}

func (m *mpbBar) Done() { m.b.SetTotal(m.n, true) }

// lineBar prints a phase's progress every 5 s and its end.
type lineBar struct {
	w     io.Writer
	name  string
	start time.Time
	last  time.Time
	n     int64
}

func (l *lineBar) Set(n int64) {
	if l.w == nil {
		return
	}
	l.n = n
	if time.Since(l.last) >= 5*time.Second {
		l.last = time.Now()
		fmt.Fprintf(l.w, "%s herald bench: %s: %d\n", time.Now().Format("15:04:05"), l.name, n)
	}
}

func (l *lineBar) Done() {
	if l.w == nil {
		return
	}
	fmt.Fprintf(l.w, "%s herald bench: %s: %d in %v\n", time.Now().Format("15:04:05"), l.name, l.n, time.Since(l.start).Round(time.Millisecond))
}
