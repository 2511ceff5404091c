package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// IngestConfig configures the ingest scenario.
type IngestConfig struct {
	// Writers is how many producers write concurrently, each one request
	// at a time on its own connection and its own session (default 64).
	Writers int
	// Duration of the writing (default 10s).
	Duration time.Duration
	// Rate is the offered rate in writes/s over all writers; 0 means each
	// writer sends its next write as soon as the last is acknowledged.
	// With a rate, latency counts from when a write was due, so a server
	// that falls behind is not excused by the writers waiting for it.
	Rate float64
	// ServerArgs adds `herald serve` flags (e.g. --fsync always).
	ServerArgs []string
	// Kind is what each write is: IngestSessions (default), a session
	// lifecycle report, or IngestTasks, a background task's progress.
	Kind string
}

func (c *IngestConfig) defaults() {
	if c.Writers <= 0 {
		c.Writers = 64
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Kind == "" {
		c.Kind = IngestSessions
	}
}

// Ingest runs the ingest scenario on herald: Writers producers report
// session lifecycle events (each acknowledged only once stored per the
// server's fsync policy). It reports acknowledged writes/s and latency
// percentiles; one subscriber on the owner's feed checks that every
// acknowledged event is delivered exactly once.
func Ingest(ctx context.Context, o Options, c IngestConfig) (*Result, error) {
	o.defaults()
	c.defaults()
	if o.Peer != "herald" {
		return nil, fmt.Errorf("ingest runs on herald only (the peer adapter covers fanout and idle)")
	}
	if c.Kind != IngestSessions && c.Kind != IngestTasks {
		return nil, fmt.Errorf("ingest kind %q: use %s or %s", c.Kind, IngestSessions, IngestTasks)
	}
	o.ServerArgs = append(append([]string(nil), o.ServerArgs...), c.ServerArgs...)
	return repeat(ctx, &o, func(ctx context.Context) (*Result, error) { return ingestOnce(ctx, &o, c) })
}

func ingestOnce(ctx context.Context, o *Options, c IngestConfig) (*Result, error) {
	tgt, err := o.open(ctx, 15*time.Second)
	if err != nil {
		return nil, err
	}
	defer tgt.close()
	r := &Result{Scenario: "ingest", Peer: tgt.name(), Params: map[string]string{
		"writers": strconv.Itoa(c.Writers), "duration": c.Duration.String(), "rate": rateString(c.Rate), "kind": c.Kind}}
	for _, a := range o.ServerArgs {
		r.Params["server"] += a + " "
	}

	if c.Kind == IngestTasks {
		// Every acknowledged progress step must be stored: each task is
		// read back (a task's feed is its own, so no one subscriber sees
		// them all).
		ht, ok := tgt.(*heraldTarget)
		if !ok {
			return nil, fmt.Errorf("ingest of tasks runs on herald only")
		}
		w := &taskWrites{t: ht}
		res, err := writeLoad(ctx, w, c.Writers, 0, c.Duration, c.Rate, o.Progress)
		if err != nil {
			return nil, err
		}
		missing, beyond, err := w.check(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the tasks back: %w", err)
		}
		r.Lost += missing
		if beyond > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("%d tasks store a step that was never acknowledged", beyond))
		}
		ingestFigures(r, res)
		r.addCount("lost", float64(missing))
		return r, nil
	}
	verify := newSubPool(tgt, o, 64<<10)
	defer verify.close()
	if err := verify.open(ctx, 1, 1, nopProgress{}); err != nil {
		return nil, err
	}
	res, err := writeLoad(ctx, tgt, c.Writers, 0, c.Duration, c.Rate, o.Progress)
	if err != nil {
		return nil, err
	}
	bar := o.Progress.Phase("verifying delivery", int64(res.acked.n))
	complete := verify.waitAll(ctx, res.acked.n, 60*time.Second, bar)
	bar.Done()
	verify.close()
	acc := r.account(verify, res.acked, complete, "the verifying subscriber did not receive every acknowledged event within 60s")
	ingestFigures(r, res)
	r.addCounts(acc)
	return r, nil
}

// ingestFigures adds the load's throughput, latency and CPU rows to r.
func ingestFigures(r *Result, res *loadResult) {
	n := float64(res.acked.n)
	r.add("writes", n, "")
	r.add("writes/s", n/res.elapsed.Seconds(), "")
	_, q := res.lat.quantiles(0.5, 0.99, 0.999)
	r.add("latency p50", ms(q[0]), "ms")
	r.add("latency p99", ms(q[1]), "ms")
	r.add("latency p99.9", ms(q[2]), "ms")
	r.add("latency max", ms(res.lat.max()), "ms")
	if res.cpu > 0 {
		r.add("server CPU/write", us(res.cpu)/n, "µs")
		r.add("server CPU", res.cpu.Seconds()/res.elapsed.Seconds(), "cores")
	}
	r.add("load-generator CPU/write", us(res.selfCPU)/n, "µs")
}

// loadResult is what writeLoad measured.
type loadResult struct {
	acked tally // keys of the acknowledged writes
	lat   *hist // from when each write was due (with a rate) or sent
	sent  *hist // from when each write was sent
	// deliver is each write's delivery latency, from when it was sent to
	// a subscriber in the writing process (B's writer process; nil
	// elsewhere).
	deliver *hist
	elapsed time.Duration
	cpu     time.Duration // server CPU over the load (0 if unknown)
	selfCPU time.Duration
	// heldBack counts writes (with a rate) sent more than heldBackSlack
	// after they were due because every writer was still waiting for an
	// earlier acknowledgement.
	heldBack uint64
}

// heldBackSlack is how late a write may be sent before it counts as held
// back (timer and scheduling jitter).
const heldBackSlack = time.Millisecond

// publishers is where writeLoad takes its producers and reads the
// server's CPU: a target, or writers of another kind on one.
type publishers interface {
	publisher(i int) publisher
	usage() usage
}

// writeLoad runs writers producers until count writes were acknowledged
// (count > 0) or for d, at rate (0: closed loop).
func writeLoad(ctx context.Context, tgt publishers, writers, count int, d time.Duration, rate float64, prog Progress) (*loadResult, error) {
	pubs := make([]publisher, writers)
	for i := range pubs {
		pubs[i] = tgt.publisher(i)
		defer pubs[i].close()
	}
	total := int64(count)
	if count == 0 && rate > 0 {
		total = int64(rate * d.Seconds())
	}
	bar := prog.Phase("writing", total)
	defer bar.Done()
	res := &loadResult{lat: newHist(), sent: newHist()}
	u0, uerr := tgt.usage().sample()
	self0, _ := procCPU(os.Getpid())
	t0 := time.Now()
	stop := t0.Add(d)
	tallies := make([]tally, writers)
	errs := make([]error, writers)
	var next, acked, held atomic.Int64
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if count > 0 && k >= int64(count) {
					return
				}
				start := time.Now()
				if rate > 0 {
					due := t0.Add(time.Duration(float64(k) / rate * float64(time.Second)))
					if count == 0 && !due.Before(stop) {
						return
					}
					if w := time.Until(due); w > 0 {
						time.Sleep(w)
					} else if -w > heldBackSlack {
						held.Add(1)
					}
					start = due
				} else if count == 0 && !start.Before(stop) {
					return
				}
				sent := time.Now()
				key, err := p.publish(sent.UnixNano())
				if err != nil {
					errs[i] = err
					return
				}
				res.lat.add(i, time.Since(start))
				res.sent.add(i, time.Since(sent))
				tallies[i].addUnordered(key)
				acked.Add(1)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			bar.Set(acked.Load())
		}
	}
	res.elapsed = time.Since(t0)
	bar.Set(acked.Load())
	u1, uerr1 := tgt.usage().sample()
	self1, _ := procCPU(os.Getpid())
	if uerr == nil && uerr1 == nil {
		res.cpu = u1.cpu - u0.cpu
	}
	res.selfCPU = self1 - self0
	res.heldBack = uint64(held.Load())
	for i := range tallies {
		res.acked.merge(tallies[i])
	}
	for _, err := range errs {
		if err != nil {
			return res, fmt.Errorf("write: %w", err)
		}
	}
	return res, ctx.Err()
}
