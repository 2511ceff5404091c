package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-sse/herald/internal/version"
	"github.com/herald-sse/herald/store"
)

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz is 200 once the views caught up with the store and the store
// can append; 503 with the reason otherwise (and while shutting down).
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case a.closing.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
	case a.catch.began.Load() == 0:
		w.Header().Set("Retry-After", retryAfterSeconds)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("starting: not following the store yet\n"))
	case !a.ready.Load():
		w.Header().Set("Retry-After", retryAfterSeconds)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "catching up with the store: applied seq %d of %d\n", a.catch.applied.Load(), a.catch.target.Load())
	case !a.booted.Load():
		w.Header().Set("Retry-After", retryAfterSeconds)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("bootstrapping: creating the default domain and superadmin\n"))
	case a.store.Ping(ctx) != nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store unreachable\n"))
	default:
		if reason := a.storeUnhealthy(ctx); reason != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(reason + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	}
}

// storeUnhealthy is why the store cannot append now ("" when it can):
// "store full" or "store cannot append". The cause
// (JetStream's own words) is in the log, not here.
func (a *API) storeUnhealthy(ctx context.Context) string {
	err := a.store.Health(ctx)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, store.ErrFull):
		return "store full"
	}
	return "store cannot append"
}

// latencyBuckets are the histograms' buckets: 50 µs doubling to 1.6 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.00005, 2, 16)

type metrics struct {
	reg          *prometheus.Registry
	appended     prometheus.Counter
	storeLatency prometheus.Histogram
	// writeLatency: a write from its (last) store append to applied in
	// the views (what its answer waited for, but its key's back-pressure);
	// writeHeld: that back-pressure (keyTurn, fanout.go).
	writeLatency prometheus.Histogram
	writeHeld    prometheus.Histogram
	quotaRefused *prometheus.CounterVec // by quota: open_jobs, running_tasks
	// skippedApply counts records the views could not apply (engine.go);
	// with the store's undecodable ones they make
	// herald_store_skipped_records_total.
	skippedApply atomic.Uint64
}

func newMetrics(a *API) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.appended = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "herald_events_appended_total", Help: "SSE events appended to the store by this process."})
	m.storeLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "herald_store_append_seconds", Help: "Latency of acknowledged store appends.",
		Buckets: latencyBuckets})
	m.writeLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "herald_write_seconds", Help: "Writes from the store append to applied, ready to answer (without herald_write_held_seconds).",
		Buckets: latencyBuckets})
	m.writeHeld = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "herald_write_held_seconds", Help: "How long writes were held back after they were applied, until the fan-out of their access key's earlier writes reached the stream writers (a producer ahead of its own subscribers).",
		Buckets: latencyBuckets})
	m.quotaRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_quota_refused_total", Help: "Writes refused with 429 by a per-domain cap (--max-open-jobs, --max-running-tasks)."},
		[]string{"quota"})
	st := a.hub.Stats()
	m.reg.MustRegister(m.appended, m.storeLatency, m.writeLatency, m.writeHeld, m.quotaRefused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_sse_connections", Help: "Open SSE streams."},
			func() float64 { return float64(a.streams.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_events_delivered_total", Help: "Events queued to live subscribers."},
			func() float64 { return float64(st.Delivered.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_writer_turns_total", Help: "Turns queued for the stream writers (a turn: one stream's write of everything queued for it)."},
			func() float64 { t := a.hub.Turns(); return float64(t[0] + t[1]) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_writer_turns_lowered_total", Help: "Turns the stream writers took below the server's priority (--writer-nice): bulk fan-out."},
			func() float64 { return float64(st.Lowered.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_writer_holds_total", Help: "Writes during which the stream writers' bulk fan-out stepped aside (writes of a domain not fanning out to thousands itself)."},
			func() float64 { return float64(st.Holds.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_writer_held_seconds_total", Help: "Time the stream writers' bulk fan-out waited for such writes (at most 2 ms at a time, and at most half its time)."},
			func() float64 { return float64(st.HeldNanos.Load()) / 1e9 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_subscribers_ended_slow_total", Help: "Streams ended because the client did not keep up."},
			func() float64 { return float64(st.EndedSlow.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_store_skipped_records_total", Help: "Store records skipped because they could not be decoded or applied (each is logged with its sequence)."},
			func() float64 { return float64(a.store.Skipped() + m.skippedApply.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_store_applied_sequence", Help: "Last store sequence folded into the views."},
			func() float64 { return float64(a.views.Applied()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_replay_cache_bytes", Help: "Estimated memory of the recent deliveries kept for resuming clients (--replay-cache-mb)."},
			func() float64 { _, b := a.hub.HistorySize(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_replay_cache_records", Help: "Recent records kept in memory for resuming clients."},
			func() float64 { n, _ := a.hub.HistorySize(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_idempotency_keys", Help: "Idempotency-Keys remembered (--idempotency-cache-mb bounds them)."},
			func() float64 { n, _ := a.views.IdempotencySize(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_idempotency_bytes", Help: "Estimated memory of the remembered Idempotency-Keys."},
			func() float64 { _, b := a.views.IdempotencySize(); return float64(b) }),
		collectors.NewGoCollector(),
		disconnects(st),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.reg.MustRegister(a.limitCollectors()...)
	m.reg.MustRegister(buildInfo())
	return m
}

// buildInfo is herald_build_info: always 1, labelled with the running
// build's version, VCS revision and Go version.
func buildInfo() prometheus.Collector {
	v := version.Read()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "herald_build_info",
		Help:        "The running herald's build (value 1): version, VCS revision, Go version.",
		ConstLabels: prometheus.Labels{"version": v.Version, "revision": v.Revision, "goversion": v.Go}})
	g.Set(1)
	return g
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
