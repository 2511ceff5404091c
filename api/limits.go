package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/netlimit"
)

// Defaults of the limits against hostile clients (herald serve's flags;
// zero in Config disables each). Every rate has a burst of twice itself.
const (
	// DefaultMaxStreamsPerKey: a browser tab holds a handful of streams,
	// a dashboard behind one key some hundreds.
	DefaultMaxStreamsPerKey = 1000
	// DefaultRateWrites per key: a busy scheduler reports well under this;
	// the store takes some 20,000 a second in all on two cores.
	DefaultRateWrites = 2000
	// DefaultRateLogins per source address.
	DefaultRateLogins = 10
	// DefaultRateAuthFailures per source address.
	DefaultRateAuthFailures = 20
)

// Kinds of refusal, the kind label of herald_rate_limited_total.
const (
	limitWrites       = "writes"
	limitLogins       = "logins"
	limitAuthFailures = "auth_failures"
	limitStreams      = "streams_per_key"
)

// limits holds the API's limiters (nil ones are off).
type limits struct {
	writes       *keyedLimiter // per access key
	logins       *keyedLimiter // per source address
	authFailures *keyedLimiter // per source address
	streams      *streamCap    // open streams per access key
	refused      *prometheus.CounterVec
}

func newLimits(cfg Config) limits {
	l := limits{
		writes:       newKeyedLimiter(cfg.RateWrites),
		logins:       newKeyedLimiter(cfg.RateLogins),
		authFailures: newKeyedLimiter(cfg.RateAuthFailures),
		streams:      newStreamCap(cfg.MaxStreamsPerKey),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_rate_limited_total",
			Help: "Requests refused with 429 by a rate limit or the cap of streams per key, by kind."},
			[]string{"kind"}),
	}
	for _, k := range []string{limitWrites, limitLogins, limitAuthFailures, limitStreams} {
		l.refused.WithLabelValues(k)
	}
	return l
}

// limitCollectors are the metrics of the limits and, when herald serves
// through a netlimit.Listener, of its connections.
func (a *API) limitCollectors() []prometheus.Collector {
	cs := []prometheus.Collector{a.limits.refused}
	ln := a.cfg.Listener
	if ln == nil {
		return cs
	}
	cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_connections_open", Help: "Open HTTP connections (streams included), capped by --max-connections."},
		func() float64 { return float64(ln.Open()) }))
	for _, reason := range netlimit.Reasons {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_connections_refused_total", Help: "Connections refused on accept, by reason.",
			ConstLabels: prometheus.Labels{"reason": reason}},
			func() float64 { return float64(ln.Refused(reason)) }))
	}
	return cs
}

// limited answers 429 with Retry-After (whole seconds, at least 1) and a
// problem body, and counts the refusal.
func (a *API) limited(w http.ResponseWriter, r *http.Request, kind string, retry time.Duration, format string, args ...any) {
	a.limits.refused.WithLabelValues(kind).Inc()
	secs := max(1, int(math.Ceil(retry.Seconds())))
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = plainEncoder(w).Encode(Problem{
		Type:   "urn:herald:problem:too-many-requests",
		Title:  http.StatusText(http.StatusTooManyRequests),
		Status: http.StatusTooManyRequests,
		Detail: fmt.Sprintf(format, args...) + fmt.Sprintf("; retry after %ds", secs),
	})
}

// isWrite reports whether r changes state (every method but GET and HEAD).
func isWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// admitWrite takes a token of k's write bucket for a write; false when it
// answered 429.
func (a *API) admitWrite(w http.ResponseWriter, r *http.Request, k *auth.Key) bool {
	if !isWrite(r) {
		return true
	}
	ok, retry := a.limits.writes.allow(k.AccessKey, time.Now())
	if !ok {
		a.limited(w, r, limitWrites, retry, "this key is over its write rate (--rate-writes %g/s)", float64(a.limits.writes.limit))
	}
	return ok
}

// authBlocked answers 429 when r's source address used up its failed
// authentications, before the credentials are even looked at.
func (a *API) authBlocked(w http.ResponseWriter, r *http.Request) bool {
	if a.limits.authFailures == nil || a.limits.authFailures.len() == 0 {
		return false // the common case: no failures lately, no address to parse
	}
	if empty, retry := a.limits.authFailures.empty(sourceKey(r), time.Now()); empty {
		a.limited(w, r, limitAuthFailures, retry, "too many failed authentications from this address (--rate-auth-failures %g/s)",
			float64(a.limits.authFailures.limit))
		return true
	}
	return false
}

// authFailed counts a failed authentication of r's source address; when
// that is over its rate it answers 429 instead of the 401 (and reports
// true).
func (a *API) authFailed(w http.ResponseWriter, r *http.Request) bool {
	ok, retry := a.limits.authFailures.allow(sourceKey(r), time.Now())
	if !ok {
		a.limited(w, r, limitAuthFailures, retry, "too many failed authentications from this address (--rate-auth-failures %g/s)",
			float64(a.limits.authFailures.limit))
	}
	return !ok
}

// limitLogins wraps POST /v1/login with the per-address login rate.
func (a *API) limitLogins(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.authBlocked(w, r) {
			return
		}
		if ok, retry := a.limits.logins.allow(sourceKey(r), time.Now()); !ok {
			a.limited(w, r, limitLogins, retry, "too many logins from this address (--rate-logins %g/s)", float64(a.limits.logins.limit))
			return
		}
		h(w, r)
	}
}

// streamRetry is the Retry-After of a stream refused by the cap: a stream
// whose client left is noticed at its next keepalive at the latest.
func (a *API) streamRetry() time.Duration {
	if a.cfg.Keepalive > 0 {
		return a.cfg.Keepalive
	}
	return 10 * time.Second
}
