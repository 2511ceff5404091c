package bench

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// isolationTiny is the smoke size: 50 subscribers, 1 s phases.
func isolationTiny() IsolationConfig {
	return IsolationConfig{Subscribers: 50, RateB: 200, Duration: time.Second, Drain: 20 * time.Second}
}

func metric(t *testing.T, r *Result, name string) float64 {
	t.Helper()
	v, ok := r.Get(name)
	if !ok {
		t.Fatalf("no metric %q", name)
	}
	return v
}

func TestIsolationSmoke(t *testing.T) {
	checkIsolationSmoke(t, isolationTiny())
}

// TestIsolationWriterProcess runs the smoke scenario with B's writes in a
// process of their own (this test binary, as IsolationWriter), as the
// herald bench command does by default: B's writes must all come back
// acknowledged, timed and accounted for across the process boundary.
func TestIsolationWriterProcess(t *testing.T) {
	t.Setenv(writerEnv, "1")
	c := isolationTiny()
	c.WriterCommand = []string{os.Args[0]}
	r := checkIsolationSmoke(t, c)
	if !strings.HasPrefix(r.Params["b-client"], "own process") {
		t.Errorf("b-client %q", r.Params["b-client"])
	}
	// B's deliveries were timed in the writer process, not here.
	for _, n := range r.Notes {
		if strings.Contains(n, "did not time") {
			t.Errorf("note: %s", n)
		}
	}
}

// TestIsolationWriterProcessFails: a writer process that fails is an error
// of the scenario, with what it printed.
func TestIsolationWriterProcessFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := isolationTiny()
	c.WriterCommand = []string{"sh", "-c", "echo writer broke >&2; exit 3"}
	_, err := Isolation(ctx, tinyOptions(t), c)
	if err == nil || !strings.Contains(err.Error(), "writer broke") {
		t.Fatalf("err %v, want the writer's failure", err)
	}
}

func checkIsolationSmoke(t *testing.T, c IsolationConfig) *Result {
	t.Helper()
	return checkIsolation(t, tinyOptions(t), c)
}

func checkIsolation(t *testing.T, o Options, c IsolationConfig) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Isolation(ctx, o, c)
	requireClean(t, r, err, "B ack p99, A idle", "B ack p99, A fanning out", "B ack p99 loaded/idle",
		"A events", "A deliveries/s", "A latency p99")
	// Every write B was due to make in a phase was acknowledged.
	want := c.RateB * c.Duration.Seconds()
	for _, ph := range []string{"A idle", "A fanning out"} {
		if v := metric(t, r, "B writes, "+ph); v != want {
			t.Errorf("B writes, %s: %v, want %v", ph, v, want)
		}
		p50, p99, mx := metric(t, r, "B ack p50, "+ph), metric(t, r, "B ack p99, "+ph), metric(t, r, "B ack max, "+ph)
		if !(0 < p50 && p50 <= p99 && p99 <= mx) {
			t.Errorf("%s: p50 %v, p99 %v, max %v", ph, p50, p99, mx)
		}
		// Each write's latency from when it was due includes its
		// latency from when it was sent.
		if sent := metric(t, r, "B ack p99 from send, "+ph); !(0 < sent && sent <= p99) {
			t.Errorf("%s: p99 from send %v, from due %v", ph, sent, p99)
		}
		if v := metric(t, r, "B writes held back, "+ph); v < 0 || v > want {
			t.Errorf("B writes held back, %s: %v of %v", ph, v, want)
		}
		// B's subscriber timed B's events of this phase: an event is
		// delivered after it is sent, and within the phase's drain.
		if d50, d99 := metric(t, r, "B delivery p50, "+ph), metric(t, r, "B delivery p99, "+ph); !(0 < d50 && d50 <= d99 && d99 < 10000) {
			t.Errorf("B delivery, %s: p50 %v, p99 %v ms", ph, d50, d99)
		}
	}
	ratio := metric(t, r, "B ack p99 loaded/idle")
	if d := ratio - metric(t, r, "B ack p99, A fanning out")/metric(t, r, "B ack p99, A idle"); d > 1e-9 || d < -1e-9 {
		t.Errorf("ratio %v does not match the p99s", ratio)
	}
	// Each A event reached each subscriber once.
	if ev, dl := metric(t, r, "A events"), metric(t, r, "A deliveries"); dl != ev*float64(c.Subscribers) {
		t.Errorf("%v A deliveries for %v events × %d subscribers", dl, ev, c.Subscribers)
	}
	if v := metric(t, r, "A subscribers cut"); v != 0 {
		t.Errorf("%v A subscribers cut at this size", v)
	}
	if v := metric(t, r, "reconnects"); v != 0 {
		t.Errorf("%v reconnects", v)
	}
	return r
}

// cutProxy forwards subscriber connections to the server and ends the
// first few from the server's side once they have carried cutAfter bytes
// of response: subscribers that keep reading but are cut.
type cutProxy struct {
	ln       net.Listener
	upstream string
	cuts     int64
	cutAfter int64
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startCutProxy(t *testing.T, upstream string, cuts, cutAfter int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream, cuts: cuts, cutAfter: cutAfter}
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		cut := p.accepted.Add(1) <= p.cuts
		p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
		p.wg.Go(func() {
			defer c.Close()
			defer up.Close()
			buf := make([]byte, 4096)
			var n int64
			for {
				m, err := up.Read(buf)
				if m > 0 {
					if _, werr := c.Write(buf[:m]); werr != nil {
						return
					}
					n += int64(m)
					if cut && n >= p.cutAfter {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// viaProxy sends a target's subscribers through a proxy.
type viaProxy struct {
	target
	proxy string
}

func (v viaProxy) addr() string { return v.proxy }

// TestIsolationCountsCuts: subscribers the server (here a proxy in front
// of it) ends while they read are reported as cut, and their resume loses
// nothing.
func TestIsolationCountsCuts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const cuts = 5
	o := tinyOptions(t)
	o.wrap = func(tg target) target {
		// 8 KiB: after the response head and the warm-up event, during
		// A's fan-out.
		p := startCutProxy(t, tg.addr(), cuts, 8<<10)
		return viaProxy{target: tg, proxy: p.ln.Addr().String()}
	}
	c := isolationTiny()
	c.Subscribers = 20
	c.Duration = 500 * time.Millisecond
	r, err := Isolation(ctx, o, c)
	requireClean(t, r, err, "A deliveries/s")
	if v := metric(t, r, "A subscribers cut"); v != cuts {
		t.Fatalf("A subscribers cut %v, want %d", v, cuts)
	}
	if v := metric(t, r, "reconnects"); v < cuts {
		t.Fatalf("reconnects %v, want at least %d", v, cuts)
	}
}
