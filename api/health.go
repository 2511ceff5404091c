package api

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz is 200 once the views caught up with the store and the store
// answers; 503 otherwise (and while shutting down).
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case a.closing.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
	case !a.ready.Load() || !a.booted.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("catching up with the store\n"))
	case a.store.Ping(ctx) != nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store unreachable\n"))
	default:
		_, _ = w.Write([]byte("ready\n"))
	}
}

type metrics struct {
	reg          *prometheus.Registry
	appended     prometheus.Counter
	storeLatency prometheus.Histogram
}

func newMetrics(a *API) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.appended = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "herald_events_appended_total", Help: "SSE events appended to the store by this process."})
	m.storeLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "herald_store_append_seconds", Help: "Latency of acknowledged store appends.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)})
	st := a.hub.Stats()
	m.reg.MustRegister(m.appended, m.storeLatency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_sse_connections", Help: "Open SSE streams."},
			func() float64 { return float64(a.streams.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_events_delivered_total", Help: "Events queued to live subscribers."},
			func() float64 { return float64(st.Delivered.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "herald_subscribers_ended_slow_total", Help: "Streams ended because the client did not keep up."},
			func() float64 { return float64(st.EndedSlow.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_store_applied_sequence", Help: "Last store sequence folded into the views."},
			func() float64 { return float64(a.views.Applied()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_replay_cache_bytes", Help: "Estimated memory of the recent deliveries kept for resuming clients (--replay-cache-mb)."},
			func() float64 { _, b := a.hub.HistorySize(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "herald_replay_cache_records", Help: "Recent records kept in memory for resuming clients."},
			func() float64 { n, _ := a.hub.HistorySize(); return float64(n) }),
		collectors.NewGoCollector(),
		disconnects(st),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
