package http

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// opsCollector reports, at scrape time, what the shipped alert rules
// (deploy/prometheus/wardsync-alerts.yml) need beyond the sync figures:
// whether this instance would answer /readyz with 200, and when the first
// parked act expires.
type opsCollector struct {
	s                 *Server
	ready, nextExpiry *prometheus.Desc
}

func newOpsCollector(s *Server) *opsCollector {
	return &opsCollector{s: s,
		ready: prometheus.NewDesc("wardsync_ready",
			"1 if this instance is ready (database reachable, migrations current), as GET /readyz answers.", nil, nil),
		nextExpiry: prometheus.NewDesc("wardsync_deferred_next_expiry_timestamp_seconds",
			"When the first parked act is rejected for waiting too long (Unix time); absent when none waits.", nil, nil),
	}
}

func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.ready; ch <- c.nextExpiry }

func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ready := 1.0
	if err := c.s.DB.Ready(ctx); err != nil {
		ready = 0
	}
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready)
	if ready == 0 {
		return
	}
	t, err := c.s.DB.SoonestParkedExpiry(ctx)
	if err != nil {
		c.s.Logger.Warn("metrics: parked acts' expiry unavailable", "err", err)
		return
	}
	if t != nil {
		ch <- prometheus.MustNewConstMetric(c.nextExpiry, prometheus.GaugeValue, float64(t.UnixMilli())/1000)
	}
}
