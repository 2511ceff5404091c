package bench

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// IsolationConfig configures the isolation scenario.
type IsolationConfig struct {
	// Subscribers of tenant A's feed (default 10,000).
	Subscribers int
	// Publishers of tenant A, each one request at a time (default 1).
	Publishers int
	// RateA is A's publish rate in events/s over its publishers; 0
	// (default) publishes as fast as A's writes are acknowledged.
	RateA float64
	// RateB is tenant B's fixed write rate in writes/s (default 200).
	RateB float64
	// WritersB is how many connections B's writes are spread over, each
	// one write at a time (default: one second's worth of writes at
	// RateB, at least 16), so a write waits for a free connection only
	// when acknowledgements take longer than that. Latency counts from
	// when each write was due; writes sent late are counted as held back.
	WritersB int
	// Duration of each phase (default 10s).
	Duration time.Duration
	// Drain bounds the wait for A's deliveries after the loaded phase
	// (default 60s).
	Drain time.Duration
	// Keepalive of the server the bench starts (default 15s).
	Keepalive time.Duration
	// WriterCommand, when set, runs B's writes in a process of their own
	// (`herald bench isolation-writer`; see writerproc.go): B's latency is
	// then not the bench's own scheduling of A's thousands of readers.
	// Empty writes from the bench process.
	WriterCommand []string
	// Pin, on a machine of two or more CPUs, runs the server the bench
	// starts and B's writer process on the first half of the CPUs and
	// the bench itself (A's subscribers and publishers) on the rest, so
	// that the load generator does not take the server's CPU (pin.go).
	// It needs the bench to start the server (no Target).
	Pin bool
}

// Defaults of the isolation scenario.
const (
	isolationSubscribers = 10000
	isolationRateB       = 200
	isolationMinWritersB = 16
	// isolationRamp is how long A fans out before B's loaded phase
	// starts (at most a quarter of the phase), so B meets A at full speed.
	isolationRamp = time.Second
	// isolationVerify bounds the wait for B's verifying subscriber.
	isolationVerify = 60 * time.Second
)

func (c *IsolationConfig) defaults() {
	if c.Subscribers <= 0 {
		c.Subscribers = isolationSubscribers
	}
	if c.Publishers <= 0 {
		c.Publishers = 1
	}
	if c.RateB <= 0 {
		c.RateB = isolationRateB
	}
	if c.WritersB <= 0 {
		c.WritersB = max(isolationMinWritersB, int(math.Ceil(c.RateB)))
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 60 * time.Second
	}
	if c.Keepalive <= 0 {
		c.Keepalive = 15 * time.Second
	}
}

// Isolation runs the isolation scenario on herald: two tenants (domains)
// on one server. Tenant A has Subscribers on its owner's session feed;
// tenant B writes session events at RateB through its own service key and
// times each write's acknowledgement. Phase one: B alone (A's subscribers
// connected, A idle). Phase two: the same while A's publishers fan out to
// A's subscribers as fast as they are acknowledged (or at RateA). It
// reports B's acknowledgement p50/p99/max in both phases and the ratio of
// the p99s, A's deliveries/s, and how many of A's subscribers the server
// ended although they kept reading ("cut": their stream ended without the
// client closing it; they resume with Last-Event-ID). Every event of both
// tenants is accounted for (A's subscribers, one verifying subscriber on
// B's feed).
func Isolation(ctx context.Context, o Options, c IsolationConfig) (*Result, error) {
	o.defaults()
	c.defaults()
	if o.Peer != "herald" {
		return nil, fmt.Errorf("isolation runs on herald only (it needs two tenants)")
	}
	if lim, err := RaiseFileLimit(); err != nil || lim < uint64(c.Subscribers)+100 {
		return nil, fmt.Errorf("open-files limit %d is below %d subscribers + 100 (%v): lower --subscribers or raise the hard limit", lim, c.Subscribers, err)
	}
	return repeat(ctx, &o, func(ctx context.Context) (*Result, error) { return isolationOnce(ctx, &o, c) })
}

// pinBench carries out IsolationConfig.Pin: it moves this process to the
// load generator's CPUs and has o start the server on the others. It
// returns the results' "cpus" param (the split, or why there is none)
// and what undoes it.
func pinBench(o *Options) (param string, unpin func(), err error) {
	if o.Target != "" {
		return "not pinned: the server was started apart (--target)", func() {}, nil
	}
	cpus, err := allowedCPUs()
	if err != nil {
		return "", nil, fmt.Errorf("--pin: %w (or --pin=false)", err)
	}
	sp, ok := split(cpus)
	if !ok {
		return "not pinned: one CPU", func() {}, nil
	}
	restore, err := pinProcess(sp.gen)
	if err != nil {
		return "", nil, fmt.Errorf("--pin: %w (or --pin=false)", err)
	}
	o.serverCPUs = sp.server
	return sp.String(), func() { o.serverCPUs = nil; restore() }, nil
}

// cut is how many subscribers had their stream ended by the server (a
// reconnect, or giving up) while they were reading.
func (p *subPool) cut() int {
	n := 0
	for _, s := range p.subs {
		if s.reconnects.Load() > 0 || s.failed.Load() {
			n++
		}
	}
	return n
}

// isolationPhase is what one phase measured of B.
type isolationPhase struct {
	load *loadResult
	cpu  float64 // server cores over the phase (-1: unknown)
}

// phaseB runs B's writes for one phase and samples the server's CPU.
func phaseB(ctx context.Context, b *heraldTarget, c IsolationConfig, o *Options) (isolationPhase, error) {
	u0, uerr := b.usage().sample()
	var res *loadResult
	var err error
	if len(c.WriterCommand) > 0 {
		res, err = writeLoadProcess(ctx, c.WriterCommand, o.serverCPUs, b, c, o.Client, o.Progress)
	} else {
		res, err = writeLoad(ctx, b, c.WritersB, 0, c.Duration, c.RateB, o.Progress)
	}
	u1, uerr1 := b.usage().sample()
	ph := isolationPhase{load: res, cpu: -1}
	if uerr == nil && uerr1 == nil && u1.at.After(u0.at) {
		ph.cpu = (u1.cpu - u0.cpu).Seconds() / u1.at.Sub(u0.at).Seconds()
	}
	return ph, err
}

func isolationOnce(ctx context.Context, o *Options, c IsolationConfig) (*Result, error) {
	cpus := "not pinned"
	if c.Pin {
		p, unpin, err := pinBench(o)
		if err != nil {
			return nil, err
		}
		defer unpin()
		cpus = p
	}
	srv, err := openHerald(ctx, o, c.Keepalive)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	a, err := srv.tenant(ctx, "bench-a")
	if err != nil {
		return nil, err
	}
	b, err := srv.tenant(ctx, "bench-b")
	if err != nil {
		return nil, err
	}
	var feedA target = a
	if o.wrap != nil {
		feedA = o.wrap(a)
	}
	r := &Result{Scenario: "isolation", Peer: "herald", Params: map[string]string{
		"subscribers": strconv.Itoa(c.Subscribers), "a-rate": rateString(c.RateA),
		"a-publishers": strconv.Itoa(c.Publishers), "b-rate": rateString(c.RateB),
		"b-writers": strconv.Itoa(c.WritersB), "duration": c.Duration.String(), "b-client": "own process", "cpus": cpus}}
	switch {
	case len(c.WriterCommand) == 0:
		r.Params["b-client"] = "bench process"
	case filepath.Base(c.WriterCommand[0]) == "nice":
		r.Params["b-client"] = "own process, " + strings.Join(c.WriterCommand[:3], " ")
	}
	for _, arg := range o.ServerArgs {
		r.Params["server"] += arg + " "
	}

	poolA := newSubPool(feedA, o, 16<<10)
	defer poolA.close()
	if err := poolA.open(ctx, c.Subscribers, 64, o.Progress); err != nil {
		return nil, err
	}
	verifyB := newSubPool(b, o, 64<<10)
	defer verifyB.close()
	if err := verifyB.open(ctx, 1, 1, nopProgress{}); err != nil {
		return nil, err
	}
	pubs := make([]publisher, c.Publishers)
	for i := range pubs {
		pubs[i] = a.publisher(i)
		defer pubs[i].close()
	}

	// Warm-up: one A event every subscriber must receive, so each is
	// known to be live before B's first phase.
	var wantA, wantB tally
	key, err := pubs[0].publish(time.Now().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("warm-up publish: %w", err)
	}
	wantA.addUnordered(key)
	bar := o.Progress.Phase("warm-up delivery", int64(c.Subscribers))
	ok := poolA.waitAll(ctx, 1, 30*time.Second, bar)
	bar.Done()
	if !ok {
		return nil, fmt.Errorf("warm-up: only %d of %d subscribers received the first event in 30s", poolA.received(), c.Subscribers)
	}

	// Phase 1: B alone. B's delivery latency (from each write's send to
	// a subscriber of B's feed) is timed by a subscriber in B's writer
	// process; with B writing from the bench process, by B's verifying
	// subscriber here.
	verifyB.lat.Store(newHist())
	idle, err := phaseB(ctx, b, c, o)
	if err != nil {
		return nil, fmt.Errorf("B, A idle: %w", err)
	}
	wantB.merge(idle.load.acked)
	// Every phase-1 event reaches B's subscriber before phase 2's
	// histogram starts, so each phase counts its own events.
	if !verifyB.waitAll(ctx, wantB.n, isolationVerify, nil) {
		return nil, fmt.Errorf("B's verifying subscriber received %d of B's %d writes with A idle within %v", verifyB.received(), wantB.n, isolationVerify)
	}
	deliverIdle := verifyB.lat.Swap(newHist())

	// Phase 2: A fans out at full speed; once it is under way, B writes
	// as in phase 1.
	poolA.lat.Store(newHist())
	got0 := poolA.received()
	ended0, endedErr := scrape(srv.base, endedSlowMetric)
	ramp := min(isolationRamp, c.Duration/4)
	type published struct {
		t   []tally
		err error
	}
	doneA := make(chan published, 1)
	tA := time.Now()
	go func() {
		t, err := publishAll(ctx, pubs, FanoutConfig{Duration: ramp + c.Duration, Rate: c.RateA}, tA, nopProgress{})
		doneA <- published{t, err}
	}()
	select {
	case <-time.After(ramp):
	case <-ctx.Done():
	}
	loaded, errB := phaseB(ctx, b, c, o)
	pa := <-doneA
	pubEnd := time.Now()
	if errB != nil {
		return nil, fmt.Errorf("B, A fanning out: %w", errB)
	}
	if pa.err != nil {
		return nil, fmt.Errorf("A: %w", pa.err)
	}
	wantB.merge(loaded.load.acked)
	for _, t := range pa.t {
		wantA.merge(t)
	}

	bar = o.Progress.Phase("delivering A", int64(wantA.n)*int64(c.Subscribers))
	completeA := poolA.waitAll(ctx, wantA.n, c.Drain, bar)
	bar.Done()
	completeB := verifyB.waitAll(ctx, wantB.n, isolationVerify, nil)
	deliverLoaded := verifyB.lat.Load()
	tEnd := poolA.lastReceive()
	recvd := poolA.received() - got0
	if ended1, err := scrape(srv.base, endedSlowMetric); err == nil && endedErr == nil {
		if d := ended1[endedSlowMetric] - ended0[endedSlowMetric]; d > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("the server counted %v streams ended as slow (%s) in the loaded phase", d, endedSlowMetric))
		}
	}
	poolA.close()
	verifyB.close()
	cut := poolA.cut()
	acc := r.account(poolA, wantA, completeA, fmt.Sprintf("not every A delivery arrived within %v of the last publish", c.Drain))
	acc = acc.plus(r.account(verifyB, wantB, completeB, fmt.Sprintf("B's verifying subscriber did not receive every acknowledged write within %v", isolationVerify)))
	if cut > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of %d A subscribers were ended by the server while reading", cut, c.Subscribers))
	}

	r.add("A subscribers", float64(c.Subscribers), "")
	p99, p99sent := [2]float64{}, [2]float64{}
	for i, ph := range []struct {
		name string
		p    isolationPhase
	}{{"A idle", idle}, {"A fanning out", loaded}} {
		_, q := ph.p.load.lat.quantiles(0.5, 0.99)
		p99[i] = ms(q[1])
		r.add("B writes, "+ph.name, float64(ph.p.load.acked.n), "")
		r.add("B ack p50, "+ph.name, ms(q[0]), "ms")
		r.add("B ack p99, "+ph.name, p99[i], "ms")
		r.add("B ack max, "+ph.name, ms(ph.p.load.lat.max()), "ms")
		_, qs := ph.p.load.sent.quantiles(0.99)
		p99sent[i] = ms(qs[0])
		r.add("B ack p99 from send, "+ph.name, p99sent[i], "ms")
		r.add("B writes held back, "+ph.name, float64(ph.p.load.heldBack), "")
	}
	// B's delivery latency: from B's send to B's subscriber, per phase.
	for _, ph := range []struct {
		name string
		h    *hist
		p    isolationPhase
	}{{"A idle", deliverIdle, idle}, {"A fanning out", deliverLoaded, loaded}} {
		h := ph.h
		if ph.p.load.deliver != nil {
			h = ph.p.load.deliver
		} else if len(c.WriterCommand) > 0 {
			r.Notes = append(r.Notes, "B's writer process did not time every delivery of "+ph.name+"; B delivery is from the bench process")
		}
		_, q := h.quantiles(0.5, 0.99)
		r.add("B delivery p50, "+ph.name, ms(q[0]), "ms")
		r.add("B delivery p99, "+ph.name, ms(q[1]), "ms")
	}
	ratio := 0.0
	if p99[0] > 0 {
		ratio = p99[1] / p99[0]
	}
	r.add("B ack p99 loaded/idle", ratio, "×")
	if p99sent[0] > 0 {
		r.add("B ack p99 from send loaded/idle", p99sent[1]/p99sent[0], "×")
	}
	nA := float64(wantA.n - 1) // minus the warm-up
	r.add("A events", nA, "")
	r.add("A publish rate", nA/pubEnd.Sub(tA).Seconds(), "events/s")
	r.add("A deliveries", float64(recvd), "")
	elapsed := tEnd.Sub(tA)
	if elapsed <= 0 {
		elapsed = time.Since(tA)
	}
	r.add("A deliveries/s", float64(recvd)/elapsed.Seconds(), "")
	_, q := poolA.lat.Load().quantiles(0.5, 0.99)
	r.add("A latency p50", ms(q[0]), "ms")
	r.add("A latency p99", ms(q[1]), "ms")
	if idle.cpu >= 0 && loaded.cpu >= 0 {
		r.add("server CPU, A idle", idle.cpu, "cores")
		r.add("server CPU, A fanning out", loaded.cpu, "cores")
	}
	r.addCount("A subscribers cut", float64(cut))
	r.addCounts(acc)
	return r, nil
}

// endedSlowMetric is herald's count of streams it ended as slow; the
// isolation scenario notes it when the server exposes it.
const endedSlowMetric = "herald_subscribers_ended_slow_total"
