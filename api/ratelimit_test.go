package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestKeyedLimiter: a key gets a burst of twice the rate, then tokens at
// the rate; keys are independent; a refusal takes nothing and says when
// to retry.
func TestKeyedLimiter(t *testing.T) {
	l := newKeyedLimiter(10) // burst 20, a token every 100ms
	now := time.Now()
	for i := range 20 {
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := l.allow("a", now)
	if ok || retry <= 0 || retry > 100*time.Millisecond {
		t.Fatalf("past the burst: ok=%v retry=%v, want a refusal with retry ≤ 100ms", ok, retry)
	}
	if empty, _ := l.empty("a", now); !empty {
		t.Error("empty: false for an exhausted bucket")
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Error("another key refused")
	}
	if ok, _ := l.allow("a", now.Add(100*time.Millisecond)); !ok {
		t.Error("refused after a token's time")
	}
	if ok, _ := l.allow("a", now.Add(100*time.Millisecond)); ok {
		t.Error("two tokens taken after one token's time")
	}
	var off *keyedLimiter = newKeyedLimiter(0)
	if ok, _ := off.allow("a", now); !ok || off != nil {
		t.Error("rate 0 limits")
	}
}

// TestKeyedLimiterBoundedMemory: buckets that refilled are dropped at the
// sweep, and no more than maxKeys are ever kept, with sweeps rare enough
// that a flood of new keys costs amortized constant time.
func TestKeyedLimiterBoundedMemory(t *testing.T) {
	l := newKeyedLimiter(1000)
	l.maxKeys = 2000
	now := time.Now()
	for i := range 1000 {
		l.allow(fmt.Sprint("idle-", i), now)
	}
	later := now.Add(limiterSweepEvery)
	l.allow("new", later)
	if n := l.len(); n != 1 {
		t.Errorf("%d buckets after the sweep, want 1 (the refilled ones dropped)", n)
	}
	sweeps := 0
	for i := range 10 * l.maxKeys {
		before := l.lastSweep
		l.allow(fmt.Sprint("flood-", i), later.Add(time.Duration(i))) // none refills
		if l.lastSweep != before {
			sweeps++
		}
		if n := l.len(); n > l.maxKeys {
			t.Fatalf("%d buckets kept, over the bound of %d", n, l.maxKeys)
		}
	}
	if most := 10 * l.maxKeys / (l.maxKeys / 10); sweeps > most {
		t.Errorf("%d sweeps for %d new keys, want at most %d", sweeps, 10*l.maxKeys, most)
	}
}

func TestSourceKey(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:4000", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:4000", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:4000", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:9", "2001:db8:1:2::/64"},
		{"@", "@"},
	} {
		if got := sourceKey(&http.Request{RemoteAddr: tc.remote}); got != tc.want {
			t.Errorf("sourceKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
