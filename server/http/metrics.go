package http

import (
	"context"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"wardsync/syncproto"
	"wardsync/version"
)

// metrics are the server's Prometheus instruments. Label sets are bounded:
// outcomes and error codes are closed lists, and per-device series exist
// only for registered, unrevoked workstations.
type metrics struct {
	connected      prometheus.Gauge
	mutations      *prometheus.CounterVec
	pushSeconds    prometheus.Histogram
	pullSeconds    prometheus.Histogram
	head           prometheus.Gauge
	loginFailures  *prometheus.CounterVec
	protocolErrors prometheus.Counter
	// Pushed pages (feedpush.go): the shared reads' time, and the pages
	// sent and pokes sent instead to workstations that take pages.
	sharedReadSeconds prometheus.Histogram
	pagesPushed       prometheus.Counter
	pagesPoked        prometheus.Counter

	// admin is the admin and monitoring state (admin.go); it lives here
	// because Server's own fields are declared in server.go.
	admin *adminState
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
		sharedReadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wardsync_shared_page_read_duration_seconds", Help: "Time of one shared read of the page after a cursor, for every workstation at it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		pagesPushed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardsync_pages_pushed_total", Help: "Pages pushed unasked to workstations at the head."}),
		pagesPoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardsync_pages_poked_instead_total", Help: "Pokes sent, instead of a pushed page, to workstations at the head that take pages (left out of the shared read, queue full, or the read failed)."}),
	}
	// wardsync_build_info: which build each instance runs, for alerts and
	// dashboards that span an upgrade (the value is always 1).
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wardsync_build_info", Help: "The server's build: version and commit (always 1)."}, []string{"version", "commit", "goversion"})
	buildInfo.WithLabelValues(version.Version, version.CommitOrVCS(), runtime.Version()).Set(1)
	reg.MustRegister(buildInfo, m.connected, m.mutations, m.pushSeconds, m.pullSeconds, m.head, m.loginFailures, m.protocolErrors,
		m.sharedReadSeconds, m.pagesPushed, m.pagesPoked, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) countResult(r syncproto.MutationResult) {
	m.mutations.WithLabelValues(string(r.Status), string(r.Code)).Inc()
}

// dbCollector reads, at scrape time, what only the database knows: the
// per-device sync standing, the feed's extent and the unresolved rejected
// acts (cluster-wide figures: every instance reports the same, so aggregate
// them with max, not sum), and this instance's connection pool.
type dbCollector struct {
	s *Server

	up, scrapeSeconds                             *prometheus.Desc
	poolAcquired, poolIdle, poolTotal, poolMax    *prometheus.Desc
	poolAcquires, poolEmptyAcquires, poolCanceled *prometheus.Desc
	poolAcquireSeconds                            *prometheus.Desc
	feedPruned, feedRetained                      *prometheus.Desc
	devInfo, devOnline, devLag, devPending        *prometheus.Desc
	devOldestAge, devLastSeen, devMutations       *prometheus.Desc
	devUnresolved, devChainBreaks, unresolved     *prometheus.Desc
	devices, devsByHlth                           *prometheus.Desc
	duplicates                                    *prometheus.Desc
	retries                                       *prometheus.Desc
}

func newDBCollector(s *Server) *dbCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &dbCollector{
		s:                  s,
		up:                 d("wardsync_db_up", "1 if this scrape's database queries succeeded."),
		scrapeSeconds:      d("wardsync_db_scrape_duration_seconds", "Time the scrape spent querying the database."),
		poolAcquired:       d("wardsync_db_pool_acquired_connections", "PostgreSQL pool connections in use."),
		poolIdle:           d("wardsync_db_pool_idle_connections", "PostgreSQL pool connections idle."),
		poolTotal:          d("wardsync_db_pool_total_connections", "PostgreSQL pool connections open (acquired, idle and being opened)."),
		poolMax:            d("wardsync_db_pool_max_connections", "PostgreSQL pool size limit."),
		poolAcquires:       d("wardsync_db_pool_acquires_total", "Connections acquired from the pool."),
		poolEmptyAcquires:  d("wardsync_db_pool_empty_acquires_total", "Acquires that had to wait for a connection."),
		poolCanceled:       d("wardsync_db_pool_canceled_acquires_total", "Acquires abandoned because their context ended."),
		poolAcquireSeconds: d("wardsync_db_pool_acquire_duration_seconds_total", "Time spent acquiring connections."),
		feedPruned:         d("wardsync_feed_prune_horizon", "Id of the newest pruned change; a device whose cursor is at or below it must resync."),
		feedRetained:       d("wardsync_feed_retained_changes", "Changes the feed still holds (counted up to the lag cap)."),
		devInfo:            d("wardsync_device_info", "A registered workstation: its name and the roles it serves.", "device", "name", "roles"),
		devOnline:          d("wardsync_device_online", "1 if the workstation is connected here or was seen within a minute.", "device"),
		devLag:             d("wardsync_device_cursor_lag_changes", "Changes committed after the workstation's cursor (up to the lag cap).", "device"),
		devPending:         d("wardsync_device_pending_mutations", "Acts the workstation last reported still queued for upload.", "device"),
		devOldestAge:       d("wardsync_device_oldest_pending_age_seconds", "Age of the oldest act queued on the workstation (0 when none).", "device"),
		devLastSeen:        d("wardsync_device_last_seen_timestamp_seconds", "When the workstation was last seen (Unix time).", "device"),
		devMutations:       d("wardsync_device_mutations_total", "Mutations recorded from the workstation, by outcome.", "device", "outcome"),
		devUnresolved:      d("wardsync_device_rejected_unresolved_mutations", "Rejected acts of the workstation no administrator has resolved.", "device"),
		devChainBreaks:     d("wardsync_device_chain_breaks_total", "Acts of the workstation refused CHAIN_BROKEN: edited or removed after they were written.", "device"),
		unresolved:         d("wardsync_rejected_unresolved_mutations", "Rejected acts no administrator has resolved, by rejection code.", "code"),
		devices:            d("wardsync_devices", "Registered, unrevoked workstations."),
		devsByHlth:         d("wardsync_devices_by_health", "Unrevoked workstations by dashboard health class.", "health"),
		duplicates:         d("wardsync_duplicate_patients_open", "Candidate pairs of duplicate patients no administrator has merged or dismissed."),
		retries:            d("wardsync_db_retries_total", "Transactions run again after a transient failure, by SQLSTATE (40P01 deadlock, 40001 serialization failure, 08xxx or \"connection\" lost connection).", "sqlstate"),
	}
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.scrapeSeconds, c.poolAcquired, c.poolIdle, c.poolTotal, c.poolMax,
		c.poolAcquires, c.poolEmptyAcquires, c.poolCanceled, c.poolAcquireSeconds, c.feedPruned, c.feedRetained,
		c.devInfo, c.devOnline, c.devLag, c.devPending, c.devOldestAge, c.devLastSeen, c.devMutations,
		c.devUnresolved, c.devChainBreaks, c.unresolved, c.devices, c.devsByHlth, c.duplicates, c.retries} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	st := c.s.DB.Pool.Stat()
	gauge(c.poolAcquired, float64(st.AcquiredConns()))
	gauge(c.poolIdle, float64(st.IdleConns()))
	gauge(c.poolTotal, float64(st.TotalConns()))
	gauge(c.poolMax, float64(st.MaxConns()))
	counter(c.poolAcquires, float64(st.AcquireCount()))
	counter(c.poolEmptyAcquires, float64(st.EmptyAcquireCount()))
	counter(c.poolCanceled, float64(st.CanceledAcquireCount()))
	counter(c.poolAcquireSeconds, st.AcquireDuration().Seconds())
	// A deadlock storm shows here before it shows as INTERNAL replies.
	retries := c.s.DB.Retries()
	for _, code := range []string{"40P01", "40001"} {
		if _, ok := retries[code]; !ok {
			retries[code] = 0 // present from the start, for rate()
		}
	}
	for code, n := range retries {
		counter(c.retries, float64(n), code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	c.s.touchPresence(ctx)
	// Counted before the rows are read, as the status does (syncStatus).
	connected := map[string]bool{}
	for _, id := range c.s.connectedDeviceIDs() {
		connected[id] = true
	}
	feed, devs, err := c.s.DB.SyncHealth(ctx)
	var byCode map[string]int64
	if err == nil {
		byCode, err = c.s.DB.UnresolvedRejectedByCode(ctx)
	}
	var dups int64
	if err == nil {
		dups, err = c.s.DB.OpenDuplicates(ctx)
	}
	gauge(c.scrapeSeconds, time.Since(start).Seconds())
	if err != nil {
		gauge(c.up, 0)
		c.s.Logger.Warn("metrics: database figures unavailable", "err", err)
		return
	}
	gauge(c.up, 1)
	gauge(c.feedPruned, float64(feed.PrunedID))
	gauge(c.feedRetained, float64(feed.Retained))
	for code, n := range byCode {
		gauge(c.unresolved, float64(n), code)
	}
	gauge(c.duplicates, float64(dups))

	th, _, err := c.s.healthThresholds(ctx)
	if err != nil {
		c.s.Logger.Warn("metrics: health thresholds unavailable, using the flags'", "err", err)
		th = c.s.admin().flagThresholds()
	}
	now := c.s.DB.Now().UTC()
	health := map[string]int{HealthOK: 0, HealthOffline: 0, HealthAmber: 0, HealthRed: 0, HealthNew: 0}
	n := 0
	for _, d := range devs {
		if d.RevokedAt != nil {
			continue
		}
		n++
		h := deviceHealth(now, d, connected[d.ID], th)
		health[h.Class]++
		roles := make([]string, len(d.Roles))
		for i, r := range d.Roles {
			roles[i] = string(r)
		}
		gauge(c.devInfo, 1, d.ID, d.Name, strings.Join(roles, ","))
		online := 0.0
		if h.Online {
			online = 1
		}
		gauge(c.devOnline, online, d.ID)
		gauge(c.devLag, float64(d.CursorLag), d.ID)
		gauge(c.devPending, float64(d.Pending), d.ID)
		age := 0.0
		if d.Pending > 0 && d.OldestPendingAt != nil {
			age = max(now.Sub(*d.OldestPendingAt).Seconds(), 0)
		}
		gauge(c.devOldestAge, age, d.ID)
		if d.LastSeen != nil {
			gauge(c.devLastSeen, float64(d.LastSeen.UnixMilli())/1000, d.ID)
		}
		counter(c.devMutations, float64(d.AppliedTotal), d.ID, "applied")
		counter(c.devMutations, float64(d.RejectedTotal), d.ID, "rejected")
		gauge(c.devUnresolved, float64(d.UnresolvedRejected), d.ID)
		counter(c.devChainBreaks, float64(d.ChainBreaks), d.ID)
	}
	gauge(c.devices, float64(n))
	for class, k := range health {
		gauge(c.devsByHlth, float64(k), class)
	}
}
