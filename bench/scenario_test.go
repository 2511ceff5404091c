package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
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

func TestFanoutSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Fanout(ctx, tinyOptions(t), FanoutConfig{Subscribers: 5, Events: 300, Publishers: 2, Drain: 10 * time.Second})
	requireClean(t, r, err, "deliveries/s", "latency p50", "server CPU/delivery")
	if v, _ := r.Get("deliveries"); v != 1500 {
		t.Fatalf("deliveries %v, want 1500", v)
	}
}

func TestFanoutRateSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	r, err := Fanout(ctx, tinyOptions(t), FanoutConfig{Subscribers: 3, Rate: 50, Duration: 300 * time.Millisecond, Drain: 10 * time.Second})
	requireClean(t, r, err, "deliveries/s")
	if v, _ := r.Get("events"); v < 10 || v > 16 {
		t.Fatalf("%v events at 50/s for 300ms", v)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("too slow")
	}
}

func TestIdleSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A short keepalive, so the hold sees a few.
	s := testutil.Start(t, testutil.WithConfig(func(c *api.Config) { c.Keepalive = 200 * time.Millisecond }))
	o := Options{Target: s.URL, Token: s.Token, Sources: 2}
	r, err := Idle(ctx, o, IdleConfig{Conns: 20, Keepalive: 200 * time.Millisecond, Hold: 700 * time.Millisecond, Settle: 50 * time.Millisecond})
	requireClean(t, r, err, "keepalives")
	if _, ok := r.Get("server RSS/conn"); !ok {
		t.Error("no server RSS/conn")
	}
	if v, _ := r.Get("conns without keepalive"); v != 0 {
		t.Fatalf("%v connections got no keepalive", v)
	}
}

func TestIngestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Ingest(ctx, tinyOptions(t), IngestConfig{Writers: 4, Duration: 300 * time.Millisecond})
	requireClean(t, r, err, "writes/s", "latency p99")
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := heraldBin(t)
	cs, err := Compare(ctx, Options{Binary: bin, NchanScript: "../scripts/nchan/run.sh", NchanWorkers: 1, Sources: 2}, CompareConfig{
		Fanout: []FanoutConfig{{Subscribers: 4, Events: 20, Drain: 10 * time.Second}},
		Idle:   IdleConfig{Conns: 10, Keepalive: time.Second, Hold: 1500 * time.Millisecond, Settle: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = WriteComparison(&b, cs, nil)
	t.Logf("\n%s", b.String())
	for _, c := range cs {
		for peer, r := range c.Results {
			if !r.OK() {
				t.Errorf("%s on %s: %d lost, %d duplicated", c.Case, peer, r.Lost, r.Duplicated)
			}
		}
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
