package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// IdleConfig configures the idle scenario.
type IdleConfig struct {
	// Conns is how many SSE connections are held open (default 19000;
	// one process here cannot hold more than ~19,900, see the docs).
	Conns int
	// Keepalive of the server the bench starts (default 5s); with
	// --target, the server's own keepalive (what punctuality is judged by).
	Keepalive time.Duration
	// Hold is how long the connections stay open after the memory
	// reading, to time the keepalives (default 2 keepalives + 1s).
	Hold time.Duration
	// Settle is the pause before each memory reading (default 3s).
	Settle time.Duration
}

func (c *IdleConfig) defaults() {
	if c.Conns <= 0 {
		c.Conns = 19000
	}
	if c.Keepalive <= 0 {
		c.Keepalive = 5 * time.Second
	}
	if c.Hold <= 0 {
		c.Hold = 2*c.Keepalive + time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
}

// Idle runs the idle scenario: Conns SSE connections held open with
// keepalives. It reports the server's memory per connection and how
// punctual the keepalives are, then publishes one event and checks that
// every connection receives it exactly once (so every connection is a live
// subscriber, not only an open socket).
func Idle(ctx context.Context, o Options, c IdleConfig) (*Result, error) {
	o.defaults()
	c.defaults()
	if lim, err := RaiseFileLimit(); err != nil || lim < uint64(c.Conns)+100 {
		return nil, fmt.Errorf("open-files limit %d is below %d connections + 100 (%v): lower --conns or raise the hard limit", lim, c.Conns, err)
	}
	return repeat(ctx, &o, func(ctx context.Context) (*Result, error) { return idleOnce(ctx, &o, c) })
}

// memProfiled reports whether args (--server-arg) give herald serve a
// --memprofile, which writes a heap profile on SIGUSR1.
func memProfiled(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "--memprofile" || strings.HasPrefix(a, "--memprofile=")
	})
}

// heraldMem are herald's /metrics samples idle reports per connection.
var heraldMem = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "herald_sse_connections"}

func idleOnce(ctx context.Context, o *Options, c IdleConfig) (*Result, error) {
	tgt, err := o.open(ctx, c.Keepalive)
	if err != nil {
		return nil, err
	}
	defer tgt.close()
	r := &Result{Scenario: "idle", Peer: tgt.name(), Params: map[string]string{
		"conns": strconv.Itoa(c.Conns), "keepalive": c.Keepalive.String(), "hold": c.Hold.String()}}
	use := tgt.usage()
	ht, isHerald := tgt.(*heraldTarget)

	// Warm the server's code paths with a few streams, then take the
	// baseline.
	var before map[string]float64
	if isHerald {
		before, _ = scrape(ht.base, heraldMem...)
	}
	warm := newSubPool(tgt, o, 2048)
	if err := warm.open(ctx, 50, 16, nopProgress{}); err != nil {
		warm.close()
		return nil, err
	}
	warm.close()
	if before != nil {
		// herald notices a closed idle stream at its next keepalive: wait
		// for the warm-up streams to be gone from the baseline.
		waitGauge(ctx, ht.base, "herald_sse_connections", before["herald_sse_connections"], 2*c.Keepalive+2*time.Second)
	}
	mem0, err := settledMemory(ctx, use, c.Settle)
	if err != nil {
		return nil, err
	}
	var m0 map[string]float64
	if isHerald {
		m0, _ = scrape(ht.base, heraldMem...)
	}

	pool := newSubPool(tgt, o, 2048)
	pool.ka, pool.kaPeriod = newHist(), c.Keepalive
	defer pool.close()
	start := time.Now()
	if err := pool.open(ctx, c.Conns, 64, o.Progress); err != nil {
		return nil, err
	}
	opened := time.Now()
	connect := opened.Sub(start)
	mem1, err := settledMemory(ctx, use, c.Settle)
	if err != nil {
		return nil, err
	}
	if isHerald && ht.srv != nil && memProfiled(o.ServerArgs) {
		// herald serve --memprofile: a heap profile with the connections open.
		_ = ht.srv.cmd.Process.Signal(syscall.SIGUSR1)
	}
	n := float64(c.Conns)
	r.add("connections", n, "")
	r.add("connect time/conn", us(connect)/n, "µs")
	if mem0 > 0 && mem1 > 0 {
		r.add("server RSS/conn", float64(mem1-mem0)/n, "bytes")
		r.add("server RSS", float64(mem1)/(1<<20), "MiB")
	} else {
		r.Notes = append(r.Notes, errNoUsage.Error())
	}
	if isHerald && m0 != nil {
		if m1, err := scrape(ht.base, heraldMem...); err == nil {
			if open := m1["herald_sse_connections"] - m0["herald_sse_connections"]; open != n {
				r.Notes = append(r.Notes, fmt.Sprintf("the server reports %v more open streams, want %v", open, n))
			}
			r.add("heap in use/conn", (m1["go_memstats_heap_inuse_bytes"]-m0["go_memstats_heap_inuse_bytes"])/n, "bytes")
			r.add("stacks/conn", (m1["go_memstats_stack_inuse_bytes"]-m0["go_memstats_stack_inuse_bytes"])/n, "bytes")
			r.add("goroutines/conn", (m1["go_goroutines"]-m0["go_goroutines"])/n, "")
		}
	}

	// Hold the connections while keepalives arrive.
	bar := o.Progress.Phase("holding (keepalives)", int64(c.Hold/time.Second))
	for until := opened.Add(c.Hold); time.Now().Before(until) && ctx.Err() == nil; {
		time.Sleep(min(time.Until(until), 250*time.Millisecond))
		bar.Set(int64(time.Since(opened) / time.Second))
	}
	bar.Done()

	// Probe: one event every connection must receive exactly once.
	p := tgt.publisher(0)
	key, err := p.publish(time.Now().UnixNano())
	p.close()
	if err != nil {
		return nil, fmt.Errorf("probe publish: %w", err)
	}
	var want tally
	want.addUnordered(key)
	bar = o.Progress.Phase("probe delivery", int64(c.Conns))
	complete := pool.waitAll(ctx, 1, 60*time.Second, bar)
	bar.Done()
	silent := 0
	for _, s := range pool.subs {
		if s.comments.Load() == 0 {
			silent++
		}
	}
	pool.close()
	acc := r.account(pool, want, complete, "not every connection received the probe event within 60s")
	// Punctuality: how long after the keepalive period (counted from the
	// stream's start or its last keepalive) each keepalive came.
	cnt, q := pool.ka.quantiles(0.5, 0.99)
	if cnt > 0 {
		r.add("keepalives", float64(cnt), "")
		r.add("keepalive late p50", ms(q[0]), "ms")
		r.add("keepalive late p99", ms(q[1]), "ms")
		r.add("keepalive late max", ms(pool.ka.max()), "ms")
	}
	if pool.seesKeepalives() {
		r.addCount("keepalives early", float64(pool.kaEarly.Load()))
		r.addCount("conns without keepalive", float64(silent))
	} else {
		r.Notes = append(r.Notes, "keepalives not timed: the "+pool.client+" client does not report comments")
	}
	r.addCounts(acc)
	return r, nil
}

// settledMemory waits, then returns the median of 5 memory readings 300 ms
// apart (0 when memory cannot be read).
func settledMemory(ctx context.Context, use usage, settle time.Duration) (int64, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(settle):
	}
	var ms []int64
	for i := range 5 {
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		s, err := use.sample()
		if err != nil {
			return 0, nil
		}
		ms = append(ms, s.mem)
	}
	slices.Sort(ms)
	return ms[2], nil
}

// waitGauge polls base's /metrics until gauge is at most want, or within
// passed.
func waitGauge(ctx context.Context, base, gauge string, want float64, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if m, err := scrape(base, gauge); err == nil && m[gauge] <= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
