package api

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bounds of a keyedLimiter's memory: it looks for idle buckets every
// limiterSweepEvery, and at most limiterMaxKeys buckets are kept (at the
// bound, arbitrary ones are dropped down to nine tenths of it, so sweeps
// stay rare: each drop hands its key a full burst, the price of bounded
// memory when a flood comes from very many sources).
const (
	limiterSweepEvery = time.Minute
	limiterMaxKeys    = 100_000
)

// keyedLimiter is a token bucket per key (an access key or a source
// address): rate per second, a burst of twice that. A bucket that has
// filled up again is the same as a new one, so the sweep drops those.
type keyedLimiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// newKeyedLimiter returns a limiter of perSecond per key, or nil (no
// limit) when perSecond <= 0.
func newKeyedLimiter(perSecond float64) *keyedLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: max(1, int(math.Ceil(2*perSecond))), maxKeys: limiterMaxKeys,
		buckets: map[string]*rate.Limiter{}, lastSweep: time.Now()}
}

// bucket returns key's bucket, making it (and sweeping) as needed.
func (l *keyedLimiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if ok {
		return b
	}
	if now.Sub(l.lastSweep) >= limiterSweepEvery || len(l.buckets) >= l.maxKeys {
		l.sweep(now)
	}
	b = rate.NewLimiter(l.limit, l.burst)
	l.buckets[key] = b
	return b
}

// sweep drops the buckets that are full again, then, at the bound,
// arbitrary ones down to nine tenths of it. Called with mu held.
func (l *keyedLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.maxKeys {
		return
	}
	for k := range l.buckets {
		if len(l.buckets) <= l.maxKeys*9/10 {
			break
		}
		delete(l.buckets, k)
	}
}

// allow takes a token from key's bucket. When there is none it takes
// nothing and says how long until there is.
func (l *keyedLimiter) allow(key string, now time.Time) (ok bool, retry time.Duration) {
	if l == nil {
		return true, 0
	}
	r := l.bucket(key, now).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// empty reports whether key's bucket has no token left (without taking
// one), and how long until it has.
func (l *keyedLimiter) empty(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	l.mu.Lock()
	b, ok := l.buckets[key]
	l.mu.Unlock()
	if !ok {
		return false, 0
	}
	if t := b.TokensAt(now); t < 1 {
		return true, time.Duration((1 - t) / float64(l.limit) * float64(time.Second))
	}
	return false, 0
}

// len is the number of buckets kept.
func (l *keyedLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sourceKey is the rate-limiting key of a request's source address: the
// address itself for IPv4, its /64 for IPv6 (one host commonly holds a
// whole /64). Behind a reverse proxy every client shares the proxy's.
func sourceKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}
