//go:build centrifugo

// The end-to-end Centrifugo tests need its binary: building it from a cold
// module cache downloads about 900 MB and takes about 14 minutes on 2
// cores, more than the whole suite's budget, so they run only when asked:
//
//	go test -tags centrifugo -run Centrifugo ./bench
//
// (HERALD_CENTRIFUGO=/path/to/centrifugo skips the build).

package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// centrifugoBin is the centrifugo binary for the tests: $HERALD_CENTRIFUGO,
// else the one scripts/centrifugo/build.sh builds into the user's cache
// directory (once: later runs reuse it). When it cannot be built (no Go
// module proxy, no cache directory, too little time left) the test is a
// logged skip, or a failure under CI=true.
func centrifugoBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("HERALD_CENTRIFUGO"); b != "" {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("HERALD_CENTRIFUGO=%s: %v", b, err)
		}
		return b
	}
	missing := func(err error, out []byte) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("centrifugo is required under CI=true (set HERALD_CENTRIFUGO, or let scripts/centrifugo/build.sh reach the Go module proxy): %v\n%s", err, out)
		}
		t.Skipf("SKIP: no centrifugo binary: scripts/centrifugo/build.sh failed (%v; set HERALD_CENTRIFUGO to a centrifugo v6 binary)\n%s", err, out)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		missing(err, nil)
	}
	dir := filepath.Join(cache, "herald-bench", "centrifugo-v6.9.1")
	// A first build takes minutes: leave the test a minute after it.
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Minute))
		defer cancel()
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, "bash", "../scripts/centrifugo/build.sh", dir).CombinedOutput()
	if ctx.Err() != nil {
		err = errors.Join(err, errors.New("the build did not finish before the test's deadline"))
	}
	if err != nil {
		missing(err, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("built centrifugo into %s in %v", dir, d.Round(time.Second))
	}
	return filepath.Join(dir, "centrifugo")
}

// TestCompareCentrifugoSmoke runs fanout and idle on Centrifugo (uni_sse
// subscribers, HTTP API publisher) with each client: every event is
// delivered once and unwrapped from Centrifugo's envelope (its send time
// is read: latency is reported), and every connection sees Centrifugo's
// pings as keepalives.
func TestCompareCentrifugoSmoke(t *testing.T) {
	bin := centrifugoBin(t)
	for _, client := range Clients {
		t.Run(client, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			o := Options{CentrifugoScript: "../scripts/centrifugo/run.sh", CentrifugoBinary: bin, Sources: 2, Client: client}
			peers := []string{"centrifugo"}
			cs, err := Compare(ctx, o, CompareConfig{
				Peers:  peers,
				Fanout: []FanoutConfig{{Subscribers: 4, Events: 20, Drain: 10 * time.Second}},
				Idle:   IdleConfig{Conns: 10, Keepalive: time.Second, Hold: 2500 * time.Millisecond, Settle: 50 * time.Millisecond},
			})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_ = WriteComparison(&b, cs, peers)
			t.Logf("\n%s", b.String())
			for _, c := range cs {
				r := c.Results["centrifugo"]
				if r == nil || r.Peer != "centrifugo" {
					t.Fatalf("%s: no centrifugo result: %+v", c.Case, c.Results)
				}
				if !r.OK() {
					t.Errorf("%s: %s", c.Case, r.failure())
				}
				requireClient(t, r, client)
				switch r.Scenario {
				case "fanout":
					if v, _ := r.Get("deliveries"); v != 4*20 {
						t.Errorf("%s: deliveries %v, want 80", c.Case, v)
					}
					if _, ok := r.Get("latency p50"); !ok {
						t.Errorf("%s: no latency: the send time was not found inside the envelope", c.Case)
					}
					if _, ok := r.Get("server CPU/delivery"); !ok {
						t.Errorf("%s: no server CPU/delivery (centrifugo's /proc)", c.Case)
					}
				case "idle":
					if v, ok := r.Get("conns without keepalive"); !ok || v != 0 {
						t.Errorf("%s: %v connections saw no ping (reported %v)", c.Case, v, ok)
					}
					if v, ok := r.Get("keepalives"); !ok || v < 10 {
						t.Errorf("%s: %v pings timed, want one per connection at least", c.Case, v)
					}
					if _, ok := r.Get("server RSS/conn"); !ok {
						t.Errorf("%s: no server RSS/conn", c.Case)
					}
				}
			}
		})
	}
}
