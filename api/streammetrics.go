package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-sse/herald/hub"
)

// disconnects counts ended streams by reason:
// herald_stream_disconnects_total{reason="slow"|"revoked"|...}.
func disconnects(st *hub.Stats) prometheus.Collector {
	var cs []prometheus.Collector
	for _, r := range hub.EndReasons() {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "herald_stream_disconnects_total",
			Help:        "Streams ended, by reason (slow, revoked, shutdown, unsubscribed, client_gone, logout, write_error, panic).",
			ConstLabels: prometheus.Labels{"reason": r.String()},
		}, func() float64 { return float64(st.EndedBy(r)) }))
	}
	return collectorList(cs)
}

// collectorList is several collectors registered as one.
type collectorList []prometheus.Collector

func (l collectorList) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range l {
		c.Describe(ch)
	}
}

func (l collectorList) Collect(ch chan<- prometheus.Metric) {
	for _, c := range l {
		c.Collect(ch)
	}
}
