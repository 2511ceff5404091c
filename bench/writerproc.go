package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Tenant B's writer in a process of its own.
//
// In the isolation scenario B's latency is timed by B's client. When that
// client shares the bench process with A's 10,000 subscribers, each
// acknowledgement that arrives must wait for the bench's own Go scheduler
// to get through thousands of runnable reader goroutines before B's
// goroutine reads the clock: on a 2-core machine that delay (tens of ms)
// dwarfs the server's. Measured both ways in one run, a writer in its own
// process saw the server acknowledge B's writes at p99 1.6 ms while A fanned
// out, while the in-process writer reported 52 ms for the same server at
// the same time. A tenant's service runs apart from another tenant's
// browsers, so by default B's writer is a process of its own (the command
// in IsolationConfig.WriterCommand, `herald bench isolation-writer`).

// writerSpec is what the parent sends B's writer process, one JSON line on
// its standard input: the target (server, B's domain and keys) and the load.
type writerSpec struct {
	Base     string        `json:"base"`
	Host     string        `json:"host"`
	Super    string        `json:"super"`
	Service  string        `json:"service"`
	Owner    string        `json:"owner"`
	Group    string        `json:"group"`
	Domain   string        `json:"domain"`
	Sources  int           `json:"sources"`
	Writers  int           `json:"writers"`
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"duration"`
	Client   string        `json:"client,omitempty"` // of B's timing subscriber (Options.Client)
}

// writerReport is what B's writer process answers, one JSON line on its
// standard output.
type writerReport struct {
	Acked    tallyJSON      `json:"acked"`
	Lat      map[int]uint64 `json:"lat"`  // histogram bucket → count, from when due
	Sent     map[int]uint64 `json:"sent"` // the same from when sent
	HeldBack uint64         `json:"heldBack"`
	Elapsed  time.Duration  `json:"elapsed"`
	// Deliver is the delivery latency of B's writes (from send to B's
	// subscriber in this process); absent if not every write arrived.
	Deliver map[int]uint64 `json:"deliver,omitempty"`
	Err     string         `json:"error,omitempty"`
}

// tallyJSON carries a tally between processes.
type tallyJSON struct {
	N, Dup, Last, Sum uint64
}

func (t tally) toJSON() tallyJSON { return tallyJSON{t.n, t.dup, t.last, t.sum} }
func (j tallyJSON) tally() tally  { return tally{n: j.N, dup: j.Dup, last: j.Last, sum: j.Sum} }
func (h *hist) buckets() map[int]uint64 {
	m := map[int]uint64{}
	for i, v := range h.snapshot() {
		if v > 0 {
			m[i] = v
		}
	}
	return m
}

// histFrom rebuilds a histogram from its buckets.
func histFrom(m map[int]uint64) (*hist, error) {
	h := newHist()
	for i, v := range m {
		if i < 0 || i >= histSize {
			return nil, fmt.Errorf("histogram bucket %d out of range", i)
		}
		h.shards[0].counts[i].Add(v)
	}
	return h, nil
}

// spec describes b for B's writer process.
func (t *heraldTarget) spec(c IsolationConfig, client string) writerSpec {
	return writerSpec{Base: t.base, Host: t.host, Super: t.super, Service: t.service, Owner: t.owner,
		Group: t.group, Domain: t.domain, Sources: t.d.sources, Writers: c.WritersB, Rate: c.RateB, Duration: c.Duration,
		Client: client}
}

// writerDeliverWait bounds how long B's writer process waits for its
// subscriber to receive the phase's writes after the last one.
const writerDeliverWait = 30 * time.Second

// IsolationWriter is the body of B's writer process (`herald bench
// isolation-writer`): it reads a writerSpec from in, writes to the server
// at the spec's rate for its duration, and reports on out. It is not meant
// to be run by hand.
func IsolationWriter(ctx context.Context, in io.Reader, out io.Writer) error {
	var s writerSpec
	line, err := bufio.NewReaderSize(in, 64<<10).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return fmt.Errorf("read the writer spec from standard input: %w", err)
	}
	if err := json.Unmarshal(line, &s); err != nil {
		return fmt.Errorf("writer spec: %w", err)
	}
	if s.Writers <= 0 || s.Rate <= 0 || s.Duration <= 0 || s.Host == "" {
		return fmt.Errorf("writer spec: want writers, rate, duration and host, got %+v", s)
	}
	t := &heraldTarget{base: s.Base, host: s.Host, super: s.Super, service: s.Service, owner: s.Owner,
		group: s.Group, domain: s.Domain, use: noUsage{}, d: dialer{s.Sources}}
	// One subscriber on B's feed times each write's delivery, here, apart
	// from A's thousands of readers in the bench process (whose
	// scheduling would be timed too).
	rep := writerReport{}
	sub := newSubPool(t, &Options{Sources: s.Sources, Client: s.Client}, 64<<10)
	defer sub.close()
	if err := sub.open(ctx, 1, 1, nopProgress{}); err != nil {
		rep.Err = fmt.Sprintf("B's timing subscriber: %v", err)
		return json.NewEncoder(out).Encode(rep)
	}
	sub.lat.Store(newHist())
	res, err := writeLoad(ctx, t, s.Writers, 0, s.Duration, s.Rate, nopProgress{})
	if res != nil {
		rep.Acked, rep.Lat, rep.Sent, rep.HeldBack, rep.Elapsed = res.acked.toJSON(), res.lat.buckets(), res.sent.buckets(), res.heldBack, res.elapsed
		if err == nil && sub.waitAll(ctx, res.acked.n, writerDeliverWait, nil) {
			rep.Deliver = sub.lat.Load().buckets()
		}
	}
	if err != nil {
		rep.Err = err.Error()
	}
	return json.NewEncoder(out).Encode(rep)
}

// writeLoadProcess runs B's writes for one phase in a process of its own
// (command, e.g. herald bench isolation-writer) and returns what it
// measured, as writeLoad would.
func writeLoadProcess(ctx context.Context, command []string, cpus []int, b *heraldTarget, c IsolationConfig, client string, prog Progress) (*loadResult, error) {
	spec, err := json.Marshal(b.spec(c, client))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdin = strings.NewReader(string(spec) + "\n")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	total := int64(c.Duration / time.Second)
	bar := prog.Phase("writing (B's process)", total)
	defer bar.Done()
	if err := startOn(cmd, cpus); err != nil {
		return nil, fmt.Errorf("start B's writer %q: %w", strings.Join(command, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t0 := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var werr error
wait:
	for {
		select {
		case werr = <-done:
			break wait
		case <-tick.C:
			bar.Set(min(total, int64(time.Since(t0)/time.Second)))
		}
	}
	var rep writerReport
	if jerr := json.Unmarshal([]byte(stdout.String()), &rep); jerr != nil {
		if werr == nil {
			werr = jerr
		}
		return nil, fmt.Errorf("B's writer process: %v\n%s", werr, strings.TrimSpace(stderr.String()))
	}
	lat, err := histFrom(rep.Lat)
	if err != nil {
		return nil, fmt.Errorf("B's writer process: %w", err)
	}
	sent, err := histFrom(rep.Sent)
	if err != nil {
		return nil, fmt.Errorf("B's writer process: %w", err)
	}
	res := &loadResult{acked: rep.Acked.tally(), lat: lat, sent: sent, heldBack: rep.HeldBack, elapsed: rep.Elapsed}
	if rep.Deliver != nil {
		if res.deliver, err = histFrom(rep.Deliver); err != nil {
			return nil, fmt.Errorf("B's writer process: %w", err)
		}
	}
	if rep.Err != "" {
		return res, fmt.Errorf("B's writer process: %s", rep.Err)
	}
	if werr != nil {
		return res, fmt.Errorf("B's writer process: %v\n%s", werr, strings.TrimSpace(stderr.String()))
	}
	return res, nil
}
