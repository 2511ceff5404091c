// Package bench is the load generator behind `herald bench`: scenarios
// that put a herald server (a `herald serve` process it starts, or
// --target) or a peer (nginx + nchan, Centrifugo) under load and report throughput,
// latency, CPU and memory, checking that no event is lost or duplicated.
//
// Subscribers read as a real client does: each event's data is decoded as
// JSON (an EventSource hands the page the data, which the page parses).
// Options.Client picks the implementation: "decode" (default: raw TCP
// connections with the bench's own SSE scanner, no net/http per
// subscriber), "go-sse" (an independent one, github.com/tmaxmax/go-sse on
// net/http, to cross-check the first) or "fast" (the scanner alone,
// decoding nothing: not a real client). Connections are spread over
// loopback source addresses 127.0.0.2… so the ephemeral ports of one
// address are not the limit; producers write HTTP/1.1 requests by hand on
// keep-alive connections. Server CPU and
// memory are those of the server process alone (/proc/PID), or of
// herald's /metrics for --target.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Options are shared by every scenario.
type Options struct {
	// Target is the base URL of a running server; empty starts one.
	Target string
	// Token is a superadmin token of Target (herald).
	Token string
	// Peer is "herald" (default), "nchan" or "centrifugo".
	Peer string
	// ServerPID, with Target, is the server's process: its CPU and memory
	// come from /proc (for nchan, the nginx master; its workers count too).
	ServerPID int
	// Binary is the herald binary to run as the server (default: this
	// executable).
	Binary string
	// ServerArgs are extra `herald serve` flags; ServerEnv extra
	// environment (e.g. GOGC=50).
	ServerArgs []string
	ServerEnv  []string
	// NchanScript starts nchan (default scripts/nchan/run.sh);
	// NchanWorkers is its worker_processes (default 2, one per core).
	NchanScript  string
	NchanWorkers int
	// CentrifugoScript starts Centrifugo (default
	// scripts/centrifugo/run.sh); CentrifugoBinary is the centrifugo
	// binary it runs (default: $HERALD_CENTRIFUGO, else the script builds
	// one into the user's cache directory).
	CentrifugoScript string
	CentrifugoBinary string
	// Client is the subscribers' implementation: ClientDecode (default),
	// ClientGoSSE or ClientFast.
	Client string
	// Sources is how many loopback source addresses connections use
	// (127.0.0.2 …); default 8.
	Sources int
	// Runs repeats the scenario (each on a fresh server) and reports
	// medians; default 1.
	Runs int
	// Progress reports long phases (nil: none).
	Progress Progress
	// Verbose, when set, receives the peer's stderr.
	Verbose io.Writer

	// wrap, when set (tests), wraps the target: fault injection.
	wrap func(target) target
	// serverCPUs, when set, are the CPUs the server the bench starts runs
	// on (the isolation scenario's --pin); nil: any of the bench's.
	serverCPUs []int
}

func (o *Options) defaults() {
	if o.Peer == "" {
		o.Peer = "herald"
	}
	if o.Sources <= 0 {
		o.Sources = 8
	}
	if o.Client == "" {
		o.Client = ClientDecode
	}
	if o.Runs <= 0 {
		o.Runs = 1
	}
	if o.NchanWorkers <= 0 {
		o.NchanWorkers = 2
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
}

// open starts or connects to the target of o.
func (o *Options) open(ctx context.Context, keepalive time.Duration) (target, error) {
	var t target
	var err error
	if err := checkClient(o.Client); err != nil {
		return nil, err
	}
	switch o.Peer {
	case "herald":
		t, err = openHerald(ctx, o, keepalive)
	case "nchan":
		t, err = openNchan(ctx, o, keepalive)
	case "centrifugo":
		t, err = openCentrifugo(ctx, o, keepalive)
	default:
		return nil, fmt.Errorf("unknown peer %q: use herald, nchan or centrifugo", o.Peer)
	}
	if err != nil || o.wrap == nil {
		return t, err
	}
	return o.wrap(t), nil
}

// Progress shows the progress of a long phase (connecting, publishing,
// draining) on the terminal.
type Progress interface {
	// Phase starts a phase of total steps (0 if unknown).
	Phase(name string, total int64) Bar
}

// Bar is one phase's progress.
type Bar interface {
	Set(n int64)
	Done()
}

type nopProgress struct{}
type nopBar struct{}

func (nopProgress) Phase(string, int64) Bar { return nopBar{} }
func (nopBar) Set(int64)                    {}
func (nopBar) Done()                        {}

// Metric is one reported figure.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	// Runs holds every run's value when there were several; Value is
	// their median (for lost/duplicated counts: their sum).
	Runs []float64 `json:"runs,omitempty"`
	sum  bool
}

// Result is one scenario's report.
type Result struct {
	Scenario string            `json:"scenario"`
	Peer     string            `json:"peer"`
	Params   map[string]string `json:"params"`
	Metrics  []Metric          `json:"metrics"`
	Notes    []string          `json:"notes,omitempty"`
	// Lost and Duplicated are events lost or duplicated, over all runs.
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	// Undecodable are events whose data the subscribers could not decode
	// as JSON (a page's JSON.parse would throw), over all runs.
	Undecodable uint64 `json:"undecodable,omitempty"`
}

// add appends a metric.
func (r *Result) add(name string, v float64, unit string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Unit: unit})
}

// addCount appends a count that is summed over runs (lost, duplicated,
// reconnects).
func (r *Result) addCount(name string, v float64) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, sum: true})
}

// Get returns the value of the named metric.
func (r *Result) Get(name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// OK reports whether no event was lost, duplicated or undecodable.
func (r *Result) OK() bool { return r.Lost == 0 && r.Duplicated == 0 && r.Undecodable == 0 }

// Err is an error when events were lost, duplicated or undecodable.
func (r *Result) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("%s on %s: %s", r.Scenario, r.Peer, r.failure())
}

// failure says what went wrong: "N events lost, M duplicated[, K undecodable]".
func (r *Result) failure() string {
	s := fmt.Sprintf("%d events lost, %d duplicated", r.Lost, r.Duplicated)
	if r.Undecodable > 0 {
		s += fmt.Sprintf(", %d undecodable", r.Undecodable)
	}
	return s
}

// combine merges the results of several runs of one scenario: medians,
// sums for counts.
func combine(runs []*Result) *Result {
	if len(runs) == 1 {
		return runs[0]
	}
	out := &Result{Scenario: runs[0].Scenario, Peer: runs[0].Peer, Params: runs[0].Params}
	out.Params["runs"] = fmt.Sprint(len(runs))
	for i, m := range runs[0].Metrics {
		var vs []float64
		for _, r := range runs {
			if i < len(r.Metrics) && r.Metrics[i].Name == m.Name {
				vs = append(vs, r.Metrics[i].Value)
			}
		}
		v := median(vs)
		if m.sum {
			v = 0
			for _, x := range vs {
				v += x
			}
		}
		out.Metrics = append(out.Metrics, Metric{Name: m.Name, Value: v, Unit: m.Unit, Runs: vs, sum: m.sum})
	}
	for _, r := range runs {
		out.Lost += r.Lost
		out.Duplicated += r.Duplicated
		out.Undecodable += r.Undecodable
		out.Notes = append(out.Notes, r.Notes...)
	}
	return out
}

// repeat runs one scenario o.Runs times and combines the results.
func repeat(ctx context.Context, o *Options, run func(context.Context) (*Result, error)) (*Result, error) {
	var runs []*Result
	for i := 0; i < o.Runs; i++ {
		r, err := run(ctx)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
		if ctx.Err() != nil {
			break
		}
	}
	return combine(runs), nil
}

// WriteTable prints results as a table: one column per result.
func WriteTable(w io.Writer, results ...*Result) error {
	if len(results) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "\t"
	for _, r := range results {
		head += r.Scenario + " · " + r.Peer + "\t"
	}
	fmt.Fprintln(tw, head)
	var names []string
	units := map[string]string{}
	seen := map[string]bool{}
	for _, r := range results {
		for _, m := range r.Metrics {
			if !seen[m.Name] {
				seen[m.Name] = true
				names = append(names, m.Name)
				units[m.Name] = m.Unit
			}
		}
	}
	for _, n := range names {
		line := n
		if u := units[n]; u != "" {
			line += " (" + u + ")"
		}
		line += "\t"
		for _, r := range results {
			v, ok := r.Get(n)
			if ok {
				line += formatValue(v)
			} else {
				line += "–"
			}
			line += "\t"
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		var ps []string
		for k, v := range r.Params {
			ps = append(ps, k+"="+v)
		}
		slices.Sort(ps)
		fmt.Fprintf(w, "%s · %s: %s\n", r.Scenario, r.Peer, strings.Join(ps, " "))
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		if !r.OK() {
			fmt.Fprintf(w, "  FAILED: %s\n", r.failure())
		}
	}
	return nil
}

// WriteJSON prints v (a *Result, or Compare's comparisons) as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e15:
		return groupDigits(fmt.Sprintf("%.0f", v))
	case a >= 100:
		return groupDigits(fmt.Sprintf("%.0f", v))
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// groupDigits puts thousands separators into an integer string.
func groupDigits(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
