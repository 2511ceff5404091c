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

// FanoutConfig configures the fanout scenario.
type FanoutConfig struct {
	// Subscribers on the one feed (default 1000).
	Subscribers int
	// Events to publish; 0 publishes for Duration.
	Events int
	// Duration of publishing when Events is 0 (default 5s).
	Duration time.Duration
	// Rate is the publish rate in events/s over all publishers; 0 means
	// as fast as the publishers are acknowledged.
	Rate float64
	// Publishers publish concurrently, each sequentially (default 1).
	Publishers int
	// Drain bounds the wait for every delivery after the last publish
	// (default 60s).
	Drain time.Duration
	// Keepalive of the server the bench starts (default 15s).
	Keepalive time.Duration
}

func (c *FanoutConfig) defaults() {
	if c.Subscribers <= 0 {
		c.Subscribers = 1000
	}
	if c.Events <= 0 && c.Duration <= 0 {
		c.Duration = 5 * time.Second
	}
	if c.Publishers <= 0 {
		c.Publishers = 1
	}
	if c.Drain <= 0 {
		c.Drain = 60 * time.Second
	}
	if c.Keepalive <= 0 {
		c.Keepalive = 15 * time.Second
	}
}

// Fanout runs the fanout scenario: Subscribers on one feed (herald: the
// session feed of one owner, as superadmin; nchan: one channel), events
// published by Publishers at Rate, each carrying its send time. It reports
// deliveries/s, publish→receive latency, the server's CPU per delivery and
// memory, and the events each subscriber lost or received twice.
func Fanout(ctx context.Context, o Options, c FanoutConfig) (*Result, error) {
	o.defaults()
	c.defaults()
	return repeat(ctx, &o, func(ctx context.Context) (*Result, error) { return fanoutOnce(ctx, &o, c) })
}

func fanoutOnce(ctx context.Context, o *Options, c FanoutConfig) (*Result, error) {
	tgt, err := o.open(ctx, c.Keepalive)
	if err != nil {
		return nil, err
	}
	defer tgt.close()
	r := &Result{Scenario: "fanout", Peer: tgt.name(), Params: map[string]string{
		"subscribers": strconv.Itoa(c.Subscribers), "rate": rateString(c.Rate),
		"publishers": strconv.Itoa(c.Publishers)}}
	if c.Events > 0 {
		r.Params["events"] = strconv.Itoa(c.Events)
	} else {
		r.Params["duration"] = c.Duration.String()
	}

	pool := newSubPool(tgt, o, 16<<10)
	defer pool.close()
	if err := pool.open(ctx, c.Subscribers, 64, o.Progress); err != nil {
		return nil, err
	}
	pubs := make([]publisher, c.Publishers)
	for i := range pubs {
		pubs[i] = tgt.publisher(i)
		defer pubs[i].close()
	}

	// Warm-up: one event every subscriber must receive, so each is known
	// to be live before the clock starts.
	var want tally
	key, err := pubs[0].publish(time.Now().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("warm-up publish: %w", err)
	}
	want.addUnordered(key)
	bar := o.Progress.Phase("warm-up delivery", int64(c.Subscribers))
	ok := pool.waitAll(ctx, 1, 30*time.Second, bar)
	bar.Done()
	if !ok {
		return nil, fmt.Errorf("warm-up: only %d of %d subscribers received the first event in 30s", pool.received(), c.Subscribers)
	}
	pool.lat.Store(newHist())

	u0, uerr := tgt.usage().sample()
	self0, _ := procCPU(os.Getpid())
	reads0 := pool.readCount()
	t0 := time.Now()
	published, err := publishAll(ctx, pubs, c, t0, o.Progress)
	pubEnd := time.Now()
	for _, t := range published {
		want.merge(t)
	}
	if err != nil {
		return nil, err
	}
	n := want.n - 1 // measured events
	bar = o.Progress.Phase("delivering", int64(want.n)*int64(c.Subscribers))
	complete := pool.waitAll(ctx, want.n, c.Drain, bar)
	bar.Done()
	tEnd := pool.lastReceive()
	u1, uerr1 := tgt.usage().sample()
	self1, _ := procCPU(os.Getpid())
	reads := pool.readCount() - reads0
	recvd := pool.received() - uint64(c.Subscribers) // minus the warm-up
	lat := pool.lat.Load()
	pool.close()
	acc := r.account(pool, want, complete, fmt.Sprintf("not every delivery arrived within %v of the last publish", c.Drain))

	elapsed := tEnd.Sub(t0)
	if elapsed <= 0 {
		elapsed = time.Since(t0)
	}
	r.add("subscribers", float64(c.Subscribers), "")
	r.add("events", float64(n), "")
	r.add("publish rate", float64(n)/pubEnd.Sub(t0).Seconds(), "events/s")
	r.add("deliveries", float64(recvd), "")
	r.add("deliveries/s", float64(recvd)/elapsed.Seconds(), "")
	cnt, q := lat.quantiles(0.5, 0.99, 0.999)
	if cnt > 0 {
		r.add("latency p50", ms(q[0]), "ms")
		r.add("latency p99", ms(q[1]), "ms")
		r.add("latency p99.9", ms(q[2]), "ms")
		r.add("latency max", ms(lat.max()), "ms")
	}
	if uerr == nil && uerr1 == nil && recvd > 0 {
		cpu := u1.cpu - u0.cpu
		r.add("server CPU/delivery", us(cpu)/float64(recvd), "µs")
		r.add("server CPU", cpu.Seconds()/u1.at.Sub(u0.at).Seconds(), "cores")
		r.add("server RSS", float64(u1.mem)/(1<<20), "MiB")
		if w := u1.syscw - u0.syscw; u0.syscw > 0 && w > 0 {
			// How many events the server packs into one write call
			// (every write call of the server counts: the store's and
			// the publishers' answers too, a few per event).
			r.add("deliveries/server write", float64(recvd)/float64(w), "")
		}
	} else if uerr != nil {
		r.Notes = append(r.Notes, uerr.Error())
	}
	if recvd > 0 {
		r.add("load-generator CPU/delivery", us(self1-self0)/float64(recvd), "µs")
		if reads > 0 {
			r.add("deliveries/client read", float64(recvd)/float64(reads), "")
		}
	}
	r.addCounts(acc)
	return r, nil
}

func rateString(r float64) string {
	if r <= 0 {
		return "max"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

// publishAll runs the publishers from t0: c.Events events in all, or
// until c.Duration passed, at c.Rate (event k is due at t0 + k/Rate).
// It returns each publisher's acknowledged keys.
func publishAll(ctx context.Context, pubs []publisher, c FanoutConfig, t0 time.Time, prog Progress) ([]tally, error) {
	total := int64(c.Events)
	if total == 0 && c.Rate > 0 {
		total = int64(c.Rate * c.Duration.Seconds())
	}
	bar := prog.Phase("publishing", total)
	defer bar.Done()
	var next atomic.Int64 // index of the next event
	var sent atomic.Int64
	out := make([]tally, len(pubs))
	errs := make([]error, len(pubs))
	stop := t0.Add(c.Duration)
	var wg sync.WaitGroup
	for i, p := range pubs {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if c.Events > 0 && k >= int64(c.Events) {
					return
				}
				if c.Rate > 0 {
					due := t0.Add(time.Duration(float64(k) / c.Rate * float64(time.Second)))
					if c.Events == 0 && !due.Before(stop) {
						return
					}
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				} else if c.Events == 0 && !time.Now().Before(stop) {
					return
				}
				key, err := p.publish(time.Now().UnixNano())
				if err != nil {
					errs[i] = err
					return
				}
				out[i].addUnordered(key)
				sent.Add(1)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			bar.Set(sent.Load())
			for _, err := range errs {
				if err != nil {
					return out, fmt.Errorf("publish: %w", err)
				}
			}
			return out, ctx.Err()
		case <-tick.C:
			bar.Set(sent.Load())
		}
	}
}
