package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// ResumeConfig configures the resume scenario.
type ResumeConfig struct {
	// Clients reconnect at once, each with the same Last-Event-ID
	// (default 1).
	Clients int
	// Backlog is how many events each client is behind (default 100000).
	Backlog int
	// Writers build the backlog before the clients connect (default 32).
	Writers int
	// Timeout bounds the catch-up (default 5m).
	Timeout time.Duration
}

func (c *ResumeConfig) defaults() {
	if c.Clients <= 0 {
		c.Clients = 1
	}
	if c.Backlog <= 0 {
		c.Backlog = 100000
	}
	if c.Writers <= 0 {
		c.Writers = 32
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
}

// Resume runs the resume scenario on herald: a backlog of Backlog session
// events is written, then Clients connect to the owner's session feed
// with a Last-Event-ID just before it. It reports how long each takes to
// receive the whole backlog (catch-up time) and the resulting events/s,
// and checks that each got every backlog event exactly once.
func Resume(ctx context.Context, o Options, c ResumeConfig) (*Result, error) {
	o.defaults()
	c.defaults()
	if o.Peer != "herald" {
		return nil, fmt.Errorf("resume runs on herald only (the peer adapter covers fanout and idle)")
	}
	return repeat(ctx, &o, func(ctx context.Context) (*Result, error) { return resumeOnce(ctx, &o, c) })
}

func resumeOnce(ctx context.Context, o *Options, c ResumeConfig) (*Result, error) {
	t, err := o.open(ctx, 15*time.Second)
	if err != nil {
		return nil, err
	}
	defer t.close()
	tgt := t.(*heraldTarget)
	r := &Result{Scenario: "resume", Peer: tgt.name(), Params: map[string]string{
		"clients": strconv.Itoa(c.Clients), "backlog": strconv.Itoa(c.Backlog)}}

	// The marker: clients resume right after it.
	p := tgt.publisher(c.Writers)
	marker, err := p.publish(time.Now().UnixNano())
	p.close()
	if err != nil {
		return nil, fmt.Errorf("marker: %w", err)
	}
	load, err := writeLoad(ctx, tgt, c.Writers, c.Backlog, time.Hour, 0, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("building the backlog: %w", err)
	}
	want := load.acked

	pool := newSubPool(tgt, o, 64<<10)
	pool.goal = want.n
	pool.startID = tgt.eventID(marker)
	defer pool.close()
	u0, uerr := tgt.usage().sample()
	self0, _ := procCPU(os.Getpid())
	start := time.Now()
	if err := pool.open(ctx, c.Clients, 64, nopProgress{}); err != nil {
		return nil, err
	}
	bar := o.Progress.Phase("catching up", int64(want.n)*int64(c.Clients))
	complete := pool.waitAll(ctx, want.n, c.Timeout, bar)
	bar.Done()
	u1, uerr1 := tgt.usage().sample()
	self1, _ := procCPU(os.Getpid())
	var times []float64
	var slowest time.Duration
	for _, s := range pool.subs {
		if at := s.doneAt.Load(); at > 0 {
			d := time.Unix(0, at).Sub(start)
			times = append(times, d.Seconds())
			slowest = max(slowest, d)
		}
	}
	pool.close()
	acc := r.account(pool, want, complete, fmt.Sprintf("not every client caught up within %v", c.Timeout))
	b := float64(want.n)
	r.add("backlog", b, "events")
	r.add("backlog write rate", b/load.elapsed.Seconds(), "writes/s")
	if len(times) > 0 {
		slices.Sort(times)
		med := median(times)
		r.add("catch-up p50", med*1000, "ms")
		r.add("catch-up max", ms(slowest), "ms")
		r.add("events/s per client (p50)", b/med, "")
		r.add("events/s all clients", b*float64(len(times))/slowest.Seconds(), "")
	}
	if uerr == nil && uerr1 == nil {
		delivered := b * float64(len(times))
		if delivered > 0 {
			r.add("server CPU/event", us(u1.cpu-u0.cpu)/delivered, "µs")
		}
	}
	if n := b * float64(c.Clients); n > 0 {
		r.add("load-generator CPU/event", us(self1-self0)/n, "µs")
	}
	r.addCounts(acc)
	return r, nil
}
