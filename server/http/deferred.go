package http

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wardsync/server/postgres"
)

// Deferred acts at the edge (docs/deferred.md): the sweeper that retries
// parked acts woken by other writers and rejects those past their window,
// the admin list, and the figures of the status page and /metrics.

// DefaultDeferredSweep is how often the sweeper runs. Expiry is counted in
// hours, and a row changed by a push is retried in that push: the sweeper
// only serves other writers' changes and the window's end.
const DefaultDeferredSweep = 30 * time.Second

// DeferredLoop runs the sweeper every s.DeferredSweep, and at once when
// another writer's commit woke a parked act, until ctx ends. Open runs it;
// with several instances each sweeps, and the row locks keep any parked
// act from being decided twice.
func (s *Server) DeferredLoop(ctx context.Context) {
	every := s.DeferredSweep
	if every <= 0 {
		every = DefaultDeferredSweep
	}
	s.DB.FollowDeferred(ctx, every, func() {
		n, err := s.DB.SweepDeferred(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.Logger.Warn("sweep deferred acts", "err", err)
		case n > 0:
			s.Logger.Info("deferred acts decided by the sweeper", "acts", n)
		}
	})
}

// handleDeferred answers GET /api/v1/admin/deferred: the parked acts,
// oldest first.
func (s *Server) handleDeferred(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	acts, err := s.DB.ParkedActs(r.Context(), 1000)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"acts": acts})
}

// deferredCollector reports the parked acts at scrape time, in total and
// per device (cluster-wide figures, like the other database figures).
type deferredCollector struct {
	s             *Server
	total, perDev *prometheus.Desc
}

func newDeferredCollector(s *Server) *deferredCollector {
	return &deferredCollector{s: s,
		total:  prometheus.NewDesc("wardsync_deferred_mutations", "Acts parked until their predecessor lands (docs/deferred.md).", nil, nil),
		perDev: prometheus.NewDesc("wardsync_device_deferred_mutations", "Parked acts of the workstation.", []string{"device"}, nil),
	}
}

func (c *deferredCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.total; ch <- c.perDev }

func (c *deferredCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	by, err := c.s.DB.ParkedByDevice(ctx)
	if err != nil {
		c.s.Logger.Warn("metrics: deferred acts unavailable", "err", err)
		return
	}
	total := int64(0)
	for dev, n := range by {
		total += n
		ch <- prometheus.MustNewConstMetric(c.perDev, prometheus.GaugeValue, float64(n), dev)
	}
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(total))
}

// addDeferred fills the status document's parked-act counts.
func (s *Server) addDeferred(ctx context.Context, st *syncStatusJSON) error {
	by, err := s.DB.ParkedByDevice(ctx)
	if err != nil {
		return err
	}
	for i := range st.Devices {
		st.Devices[i].Deferred = by[st.Devices[i].ID]
		if !st.Devices[i].Revoked {
			st.Totals.Deferred += by[st.Devices[i].ID]
		}
	}
	return nil
}
