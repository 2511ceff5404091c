package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// CompareConfig configures Compare: the cases run against each peer.
type CompareConfig struct {
	// Peers compared (default herald and nchan; add centrifugo with
	// Peers, its first build takes minutes).
	Peers []string
	// Fanout cases (default: 1,000 and 10,000 subscribers with one
	// sequential publisher as fast as it goes for 5 s, 1,000 subscribers
	// at 20 events/s and 10,000 at 25 events/s for 10 s each). The
	// fixed-rate cases give every server the same load, so their latency
	// and CPU compare builds whose maximum rates differ.
	Fanout []FanoutConfig
	// Idle case (default 19,000 connections, keepalive 5 s); Conns < 0
	// leaves it out.
	Idle IdleConfig
}

// DefaultCompare is the comparison of docs/benchmarks.md.
func DefaultCompare() CompareConfig {
	return CompareConfig{
		Peers: []string{"herald", "nchan"},
		Fanout: []FanoutConfig{
			{Subscribers: 1000, Duration: 5 * time.Second},
			{Subscribers: 10000, Duration: 5 * time.Second},
			{Subscribers: 1000, Rate: 20, Duration: 10 * time.Second},
			{Subscribers: 10000, Rate: 25, Duration: 10 * time.Second},
		},
		Idle: IdleConfig{Conns: 19000},
	}
}

// Comparison is one case run against every peer (medians over runs).
type Comparison struct {
	Case    string             `json:"case"`
	Results map[string]*Result `json:"results"`
}

// Compare runs every case against every peer o.Runs times, interleaving
// the peers run by run so slow drift of a shared machine hits both alike,
// and returns the medians.
func Compare(ctx context.Context, o Options, c CompareConfig) ([]Comparison, error) {
	o.defaults()
	if len(c.Peers) == 0 {
		c.Peers = DefaultCompare().Peers
	}
	type kase struct {
		name string
		run  func(context.Context, *Options) (*Result, error)
	}
	var cases []kase
	for _, f := range c.Fanout {
		f.defaults()
		name := fmt.Sprintf("fanout %d subscribers, rate %s", f.Subscribers, rateString(f.Rate))
		cases = append(cases, kase{name, func(ctx context.Context, o *Options) (*Result, error) { return fanoutOnce(ctx, o, f) }})
	}
	if c.Idle.Conns >= 0 {
		idle := c.Idle
		idle.defaults()
		if lim, err := RaiseFileLimit(); err != nil || lim < uint64(idle.Conns)+100 {
			return nil, fmt.Errorf("open-files limit %d is below %d connections + 100 (%v)", lim, idle.Conns, err)
		}
		cases = append(cases, kase{fmt.Sprintf("idle %d connections", idle.Conns),
			func(ctx context.Context, o *Options) (*Result, error) { return idleOnce(ctx, o, idle) }})
	}
	runs := make([]map[string][]*Result, len(cases))
	for i := range runs {
		runs[i] = map[string][]*Result{}
	}
	for run := 0; run < o.Runs; run++ {
		for i, k := range cases {
			for _, peer := range c.Peers {
				po := o
				po.Peer = peer
				if peer != "herald" {
					po.Target, po.Token = "", ""
				}
				bar := o.Progress.Phase(fmt.Sprintf("run %d/%d: %s on %s", run+1, o.Runs, k.name, peer), 0)
				r, err := k.run(ctx, &po)
				bar.Done()
				if err != nil {
					return nil, fmt.Errorf("%s on %s: %w", k.name, peer, err)
				}
				runs[i][peer] = append(runs[i][peer], r)
			}
		}
	}
	out := make([]Comparison, len(cases))
	for i, k := range cases {
		out[i] = Comparison{Case: k.name, Results: map[string]*Result{}}
		for _, peer := range c.Peers {
			out[i].Results[peer] = combine(runs[i][peer])
		}
	}
	return out, nil
}

// compareRows are the figures a comparison table shows per case; higher
// is better unless lower says so.
var compareRows = []struct {
	metric string
	lower  bool
}{
	{"publish rate", false},
	{"deliveries/s", false},
	{"server CPU/delivery", true},
	{"server CPU", true},
	{"load-generator CPU/delivery", true},
	{"deliveries/server write", false},
	{"deliveries/client read", false},
	{"latency p50", true},
	{"latency p99", true},
	{"latency p99.9", true},
	{"server RSS", true},
	{"server RSS/conn", true},
	{"heap in use/conn", true},
	{"stacks/conn", true},
	{"keepalive late p50", true},
	{"keepalive late p99", true},
	{"keepalives early", true},
	{"conns without keepalive", true},
	{"lost", true},
	{"duplicated", true},
	{"undecodable", true},
	{"reconnects", true},
}

// WriteComparison prints comparisons as a Markdown table: one row per case
// and figure, one column per peer, and the first peer's (herald's) ratio
// to each other peer (higher is better for the first: a throughput ratio,
// or the other's cost divided by the first's).
func WriteComparison(w io.Writer, cs []Comparison, peers []string) error {
	if len(peers) == 0 {
		peers = DefaultCompare().Peers
	}
	head := "| case | figure |"
	sep := "|---|---|"
	for _, p := range peers {
		head += " " + p + " |"
		sep += "---:|"
	}
	for _, p := range peers[1:] {
		if len(peers) == 2 {
			head += " " + peers[0] + " advantage |"
		} else {
			head += " " + peers[0] + " advantage vs " + p + " |"
		}
		sep += "---:|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, sep)
	for _, c := range cs {
		for _, row := range compareRows {
			var vals []float64
			var unit string
			have := false
			line := "| " + c.Case + " | " + row.metric
			cells := ""
			for _, p := range peers {
				r := c.Results[p]
				v, ok := 0.0, false
				if r != nil {
					v, ok = r.Get(row.metric)
					for _, m := range r.Metrics {
						if m.Name == row.metric {
							unit = m.Unit
						}
					}
				}
				vals = append(vals, v)
				if ok {
					have = true
					cells += " " + formatValue(v) + " |"
				} else {
					cells += " – |"
				}
			}
			if !have {
				continue
			}
			if unit != "" {
				line += " (" + unit + ")"
			}
			line += " |" + cells
			for _, v := range vals[1:] {
				ratio := "–"
				if vals[0] > 0 && v > 0 {
					x := vals[0] / v
					if row.lower {
						x = v / vals[0]
					}
					ratio = fmt.Sprintf("%.2f×", x)
				}
				line += " " + ratio + " |"
			}
			fmt.Fprintln(w, line)
		}
	}
	clients := map[string]bool{}
	for _, c := range cs {
		for _, p := range peers {
			if r := c.Results[p]; r != nil && r.Params["client"] != "" && !clients[r.Params["client"]] {
				clients[r.Params["client"]] = true
				fmt.Fprintf(w, "\nsubscribers' client: %s\n", r.Params["client"])
			}
		}
	}
	for _, c := range cs {
		for _, p := range peers {
			if r := c.Results[p]; r != nil {
				for _, n := range r.Notes {
					fmt.Fprintf(w, "\nnote (%s on %s): %s\n", c.Case, p, strings.TrimSpace(n))
				}
				if !r.OK() {
					fmt.Fprintf(w, "\nFAILED (%s on %s): %s\n", c.Case, p, r.failure())
				}
			}
		}
	}
	return nil
}
