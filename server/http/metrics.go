package http

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"wardsync/syncproto"
)

// metrics are the server's Prometheus instruments. Label sets are bounded:
// outcomes and error codes are closed lists.
type metrics struct {
	connected      prometheus.Gauge
	mutations      *prometheus.CounterVec
	pushSeconds    prometheus.Histogram
	pullSeconds    prometheus.Histogram
	head           prometheus.Gauge
	loginFailures  *prometheus.CounterVec
	protocolErrors prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, h *hub) *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardsync_connected_devices", Help: "Workstations connected to this instance."}),
		mutations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardsync_mutations_total", Help: "Pushed mutations by outcome and rejection code."}, []string{"outcome", "code"}),
		pushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wardsync_push_duration_seconds", Help: "Time to apply one push frame.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		pullSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wardsync_pull_duration_seconds", Help: "Time to serve one pull frame.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		head: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardsync_feed_head", Help: "Newest change-feed position seen by this instance."}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardsync_login_failures_total", Help: "Refused logins by reason."}, []string{"reason"}),
		protocolErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardsync_protocol_errors_total", Help: "Frames refused as malformed."}),
	}
	reg.MustRegister(m.connected, m.mutations, m.pushSeconds, m.pullSeconds, m.head, m.loginFailures, m.protocolErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) countResult(r syncproto.MutationResult) {
	m.mutations.WithLabelValues(string(r.Status), string(r.Code)).Inc()
}
