package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-sse/herald/api"
	"github.com/herald-sse/herald/internal/testutil"
)

// tinyOptions points a scenario at an in-process herald (testutil)
// through --target; the tests run at sizes that take a second or two.
func tinyOptions(t *testing.T) Options {
	t.Helper()
	s := testutil.Start(t)
	return Options{Target: s.URL, Token: s.Token, Sources: 2}
}

func requireClean(t *testing.T, r *Result, err error, metrics ...string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = WriteTable(&b, r)
	t.Logf("\n%s", b.String())
	if !r.OK() {
		t.Fatalf("%d lost, %d duplicated", r.Lost, r.Duplicated)
	}
	for _, m := range metrics {
		if v, ok := r.Get(m); !ok || v <= 0 {
			t.Errorf("metric %q: %v %v", m, v, ok)
		}
	}
}

// TestFanoutSmoke runs fanout with each client: every subscriber gets
// every event once, and the decoding clients decode every one.
func TestFanoutSmoke(t *testing.T) {
	eachClient(t, func(t *testing.T, ctx context.Context, o Options) {
		r, err := Fanout(ctx, o, FanoutConfig{Subscribers: 5, Events: 300, Publishers: 2, Drain: 10 * time.Second})
		requireClean(t, r, err, "deliveries/s", "latency p50", "server CPU/delivery")
		if v, _ := r.Get("deliveries"); v != 1500 {
			t.Fatalf("deliveries %v, want 1500", v)
		}
		requireClient(t, r, o.Client)
	})
}

// eachClient runs fn as a subtest per client, with tinyOptions for that
// client and a minute to run.
func eachClient(t *testing.T, fn func(t *testing.T, ctx context.Context, o Options)) {
	for _, client := range Clients {
		t.Run(client, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := tinyOptions(t)
			o.Client = client
			fn(t, ctx, o)
		})
	}
}

// requireClient checks r names the client that produced it and, for a
// decoding client, reports no undecodable event.
func requireClient(t *testing.T, r *Result, client string) {
	t.Helper()
	if got := r.Params["client"]; got != ClientLabel(client) || !strings.HasPrefix(got, client+" ") {
		t.Fatalf("params client %q, want %q", got, ClientLabel(client))
	}
	v, ok := r.Get("undecodable")
	if decodes := client != ClientFast; ok != decodes || v != 0 || r.Undecodable != 0 {
		t.Fatalf("undecodable %v (reported %v), want reported %v and 0", v, ok, decodes)
	}
}

func TestFanoutRateSmoke(t *testing.T) {
	eachClient(t, func(t *testing.T, ctx context.Context, o Options) {
		start := time.Now()
		r, err := Fanout(ctx, o, FanoutConfig{Subscribers: 3, Rate: 50, Duration: 300 * time.Millisecond, Drain: 10 * time.Second})
		requireClean(t, r, err, "deliveries/s", "latency p99")
		events, _ := r.Get("events")
		if events < 10 || events > 16 {
			t.Fatalf("%v events at 50/s for 300ms", events)
		}
		if v, _ := r.Get("deliveries"); v != 3*events {
			t.Fatalf("deliveries %v, want %v", v, 3*events)
		}
		requireClient(t, r, o.Client)
		if time.Since(start) > 30*time.Second {
			t.Fatal("too slow")
		}
	})
}

func TestIdleSmoke(t *testing.T) {
	for _, client := range Clients {
		t.Run(client, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// A short keepalive, so the hold sees a few.
			s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.Keepalive = 200 * time.Millisecond }))
			o := Options{Target: s.URL, Token: s.Token, Sources: 2, Client: client}
			r, err := Idle(ctx, o, IdleConfig{Conns: 20, Keepalive: 200 * time.Millisecond, Hold: 700 * time.Millisecond, Settle: 50 * time.Millisecond})
			if client == ClientGoSSE {
				// go-sse's parser drops comments: no keepalive figures.
				requireClean(t, r, err)
				if _, ok := r.Get("keepalives"); ok {
					t.Fatal("keepalives reported by a client that cannot see them")
				}
			} else {
				requireClean(t, r, err, "keepalives")
				if v, ok := r.Get("conns without keepalive"); !ok || v != 0 {
					t.Fatalf("%v connections got no keepalive (%v)", v, ok)
				}
			}
			if _, ok := r.Get("server RSS/conn"); !ok {
				t.Error("no server RSS/conn")
			}
			// The probe reached every connection once.
			if v, ok := r.Get("lost"); !ok || v != 0 {
				t.Fatalf("lost %v %v", v, ok)
			}
			requireClient(t, r, o.Client)
		})
	}
}

func TestIngestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Ingest(ctx, tinyOptions(t), IngestConfig{Writers: 4, Duration: 300 * time.Millisecond})
	requireClean(t, r, err, "writes/s", "latency p99")
}

// TestIngestTasks runs ingest with task progress, then shows its check
// can fail: a step counted as acknowledged that the store never got is
// reported missing.
func TestIngestTasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := tinyOptions(t)
	r, err := Ingest(ctx, o, IngestConfig{Writers: 4, Duration: 300 * time.Millisecond, Kind: IngestTasks})
	requireClean(t, r, err, "writes/s", "latency p99")
	if v, _ := r.Get("writes"); v < 4 {
		t.Fatalf("only %v writes", v)
	}

	o.defaults()
	tgt, err := openHerald(ctx, &o, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w := &taskWrites{t: tgt}
	res, err := writeLoad(ctx, w, 2, 10, time.Minute, 0, nopProgress{})
	if err != nil {
		t.Fatal(err)
	}
	if res.acked.n != 10 {
		t.Fatalf("%d acknowledged, want 10", res.acked.n)
	}
	if missing, beyond, err := w.check(ctx); err != nil || missing != 0 || beyond != 0 {
		t.Fatalf("after a clean load: missing %d, beyond %d, %v", missing, beyond, err)
	}
	w.pubs[0].step += 2 // two steps the server never got
	w.pubs[1].step--    // one it got that was "not acknowledged"
	if missing, beyond, err := w.check(ctx); err != nil || missing != 2 || beyond != 1 {
		t.Fatalf("check: missing %d (want 2), beyond %d (want 1), %v", missing, beyond, err)
	}
}

func TestResumeSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Resume(ctx, tinyOptions(t), ResumeConfig{Clients: 3, Backlog: 300, Writers: 4, Timeout: 20 * time.Second})
	requireClean(t, r, err, "catch-up p50", "events/s all clients")
	if v, _ := r.Get("backlog"); v != 300 {
		t.Fatalf("backlog %v", v)
	}
}

// faulty is a target whose subscribers misread keys: the accounting must
// report lost and duplicated events.
type faulty struct {
	target
	n    atomic.Int64
	mode string
}

func (f *faulty) key(id, data []byte) (uint64, bool) {
	k, ok := f.target.key(id, data)
	// Every subscriber sees the warm-up event first, then the measured
	// ones; spoil the 7th key seen overall.
	if f.n.Add(1) == 7 {
		switch f.mode {
		case "drop":
			return 0, false // an event that cannot be accounted for
		case "repeat":
			return k - 1, ok // looks like the previous event again
		}
	}
	return k, ok
}

func TestAccountingCanFail(t *testing.T) {
	for _, mode := range []string{"drop", "repeat"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := tinyOptions(t)
			o.wrap = func(t target) target { return &faulty{target: t, mode: mode} }
			r, err := Fanout(ctx, o, FanoutConfig{Subscribers: 1, Events: 10, Drain: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() || r.Err() == nil {
				t.Fatalf("a spoilt event went unnoticed: lost %d duplicated %d", r.Lost, r.Duplicated)
			}
			t.Logf("%s: lost %d, duplicated %d", mode, r.Lost, r.Duplicated)
		})
	}
}

// TestReconnectResumes: with each client, subscribers whose streams are cut
// mid-stream (by a proxy in front of the server) reconnect with
// Last-Event-ID; the reconnects are counted and the resume loses and
// repeats nothing.
func TestReconnectResumes(t *testing.T) {
	const cuts = 2
	eachClient(t, func(t *testing.T, ctx context.Context, o Options) {
		o.wrap = func(tg target) target {
			// 8 KiB: after the response head and the warm-up event,
			// during the measured events (~90 KB per subscriber).
			p := startCutProxy(t, tg.addr(), cuts, 8<<10)
			return viaProxy{target: tg, proxy: p.ln.Addr().String()}
		}
		r, err := Fanout(ctx, o, FanoutConfig{Subscribers: 4, Events: 300, Drain: 10 * time.Second})
		requireClean(t, r, err, "deliveries/s")
		if v, _ := r.Get("reconnects"); v != cuts {
			t.Fatalf("reconnects %v, want %d", v, cuts)
		}
		if v, _ := r.Get("deliveries"); v != 4*300 {
			t.Fatalf("deliveries %v, want 1200", v)
		}
	})
}

// corruptor is a loopback proxy in front of a server: on the way to the
// subscribers it turns the first byte of events' data, "data: {", into
// "data: x" (the same length, so chunk sizes still hold), and counts the
// events it spoilt. An occurrence split between two reads passes
// unchanged (and uncounted).
type corruptor struct {
	ln       net.Listener
	upstream string
	spoilt   atomic.Int64
	wg       sync.WaitGroup
}

func startCorruptor(t *testing.T, upstream string) *corruptor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &corruptor{ln: ln, upstream: upstream}
	c.wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			c.wg.Go(func() { _, _ = io.Copy(up, down); up.Close() })
			c.wg.Go(func() {
				defer down.Close()
				buf := make([]byte, 32<<10)
				pat := []byte("data: {")
				for {
					n, err := up.Read(buf)
					b := buf[:n]
					for i := 0; ; {
						j := bytes.Index(b[i:], pat)
						if j < 0 {
							break
						}
						b[i+j+len(pat)-1] = 'x'
						c.spoilt.Add(1)
						i += j + len(pat)
					}
					if _, werr := down.Write(b); werr != nil || err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); c.wg.Wait() })
	return c
}

// TestDecodeIsReal: events whose data is not JSON (spoilt on the wire) are
// counted as undecodable by the decoding clients, which fail the run, and
// pass unnoticed through the fast reader (which decodes nothing). The
// accounting by id still finds every event delivered once.
func TestDecodeIsReal(t *testing.T) {
	eachClient(t, func(t *testing.T, ctx context.Context, o Options) {
		var proxy *corruptor
		o.wrap = func(tg target) target {
			proxy = startCorruptor(t, tg.addr())
			return viaProxy{target: tg, proxy: proxy.ln.Addr().String()}
		}
		r, err := Fanout(ctx, o, FanoutConfig{Subscribers: 3, Events: 50, Drain: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		spoilt := proxy.spoilt.Load()
		t.Logf("%s: %d events spoilt on the wire; lost %d, duplicated %d, undecodable %d; notes %q",
			o.Client, spoilt, r.Lost, r.Duplicated, r.Undecodable, r.Notes)
		if spoilt < 3*51/2 {
			t.Fatalf("the proxy spoilt only %d of %d events", spoilt, 3*51)
		}
		if r.Lost != 0 || r.Duplicated != 0 {
			t.Fatalf("lost %d, duplicated %d: the accounting by id should not depend on the data", r.Lost, r.Duplicated)
		}
		if v, _ := r.Get("deliveries"); v != 3*50 {
			t.Fatalf("deliveries %v, want 150", v)
		}
		if o.Client == ClientFast {
			if r.Undecodable != 0 || !r.OK() {
				t.Fatalf("the fast reader decodes nothing, yet reports %d undecodable", r.Undecodable)
			}
			return
		}
		if int64(r.Undecodable) != spoilt {
			t.Fatalf("undecodable %d, want %d (the events spoilt)", r.Undecodable, spoilt)
		}
		if v, _ := r.Get("undecodable"); int64(v) != spoilt {
			t.Fatalf("undecodable row %v, want %d", v, spoilt)
		}
		if r.OK() || r.Err() == nil || !strings.Contains(r.Err().Error(), "undecodable") {
			t.Fatalf("undecodable events did not fail the run: %v", r.Err())
		}
		if !slicesContains(r.Notes, "is not JSON") {
			t.Fatalf("no note names the decoding error: %q", r.Notes)
		}
	})
}

func slicesContains(notes []string, sub string) bool {
	for _, n := range notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// TestCompareNchanSmoke runs fanout and idle on nginx + nchan. Without
// them it is a logged skip, but a failure under CI=true (.ci/run installs
// them).
func TestCompareNchanSmoke(t *testing.T) {
	missing := func(what string, err error) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (.ci/run installs it): %v", what, err)
		}
		t.Skipf("SKIP: %s is not installed (%v); apt-get install nginx libnginx-mod-nchan", what, err)
	}
	if _, err := exec.LookPath("nginx"); err != nil {
		missing("nginx", err)
	}
	if _, err := os.Stat("/usr/lib/nginx/modules/ngx_nchan_module.so"); err != nil {
		missing("libnginx-mod-nchan", err)
	}
	bin := heraldBin(t)
	for _, client := range Clients {
		t.Run(client, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cs, err := Compare(ctx, Options{Binary: bin, NchanScript: "../scripts/nchan/run.sh", NchanWorkers: 1, Sources: 2, Client: client}, CompareConfig{
				Peers:  []string{"herald", "nchan"},
				Fanout: []FanoutConfig{{Subscribers: 4, Events: 20, Drain: 10 * time.Second}},
				Idle:   IdleConfig{Conns: 10, Keepalive: time.Second, Hold: 1500 * time.Millisecond, Settle: 50 * time.Millisecond},
			})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_ = WriteComparison(&b, cs, []string{"herald", "nchan"})
			t.Logf("\n%s", b.String())
			for _, c := range cs {
				for peer, r := range c.Results {
					if !r.OK() {
						t.Errorf("%s on %s: %s", c.Case, peer, r.failure())
					}
					if got := r.Params["client"]; got != ClientLabel(client) {
						t.Errorf("%s on %s: client %q", c.Case, peer, got)
					}
					if r.Scenario == "fanout" {
						if v, _ := r.Get("deliveries"); v != 4*20 {
							t.Errorf("%s on %s: deliveries %v, want 80", c.Case, peer, v)
						}
					}
				}
			}
		})
	}
}

// heraldBin builds the herald command for tests that start `herald serve`.
func heraldBin(t *testing.T) string {
	t.Helper()
	bin := t.TempDir() + "/herald"
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/herald").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
