package http

// The security log's admin API (GET /api/v1/admin/security-events, and
// .csv for an export), the dashboard session's idle clock, and the
// security events' counters on /metrics.

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"wardsync/server/postgres"
)

// IdleHeader is how the dashboard tells the server how long its
// administrator has been idle (milliseconds since the last key or click):
// its own refreshes must not keep a session alive. A request without it
// (a script, curl) counts as activity.
const IdleHeader = "X-Wardsync-Idle"

// noteActivity moves a dashboard session's idle clock to the
// administrator's last activity, at most every few seconds.
func (s *Server) noteActivity(r *http.Request, sess *postgres.Session) {
	now := s.DB.Now().UTC()
	at := now
	if v := r.Header.Get(IdleHeader); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err == nil && ms >= 0 {
			at = now.Add(-time.Duration(ms) * time.Millisecond)
		}
	}
	if at.Sub(sess.LastActiveAt) < 5*time.Second {
		return
	}
	if err := s.DB.NoteActivity(r.Context(), sess.ID, at); err != nil {
		s.Logger.Warn("note dashboard activity", "err", err)
	}
}

func securityFilter(r *http.Request) (postgres.SecurityFilter, error) {
	q := r.URL.Query()
	f := postgres.SecurityFilter{Kind: q.Get("kind"), User: q.Get("user"), After: q.Get("after")}
	var err error
	if f.Since, f.Until, f.Limit, err = pageParams(q, postgres.MaxSecurityPage); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) handleSecurityEvents(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	f, err := securityFilter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	events, next, err := s.DB.SecurityEvents(r.Context(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": events, "next": next, "kinds": postgres.EventKinds})
}

// csvExportMax bounds one export; narrow the filters for more.
const csvExportMax = 100000

// handleSecurityEventsCSV exports the filtered log, newest first, as CSV.
func (s *Server) handleSecurityEventsCSV(w http.ResponseWriter, r *http.Request, _ *postgres.Session) {
	f, err := securityFilter(r)
	if err != nil {
		writeError(w, err)
		return
	}
	f.Limit = postgres.MaxSecurityPage
	// The first page is read before anything is written, so a refused
	// filter still gets its JSON error.
	events, next, err := s.DB.SecurityEvents(r.Context(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="security-log.csv"`)
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "at", "kind", "actor_id", "actor_name", "user_id", "user_email", "device_id", "address", "reason", "target", "before", "after"})
	written := 0
	for {
		for _, e := range events {
			_ = cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.Kind, e.ActorID, csvSafe(e.ActorName),
				e.UserID, csvSafe(e.UserEmail), e.DeviceID, e.Address, csvSafe(e.Reason), csvSafe(e.Target), string(e.Before), string(e.After)})
		}
		written += len(events)
		if next == "" || written >= csvExportMax || r.Context().Err() != nil {
			break
		}
		f.After = next
		if events, next, err = s.DB.SecurityEvents(r.Context(), f); err != nil {
			s.Logger.Error("security log export", "err", err)
			break
		}
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from running a cell as a formula: a name or
// reason typed by someone could start with = + - or @.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// securityCollector reports the security log's events by kind, read from
// the database at scrape time: the log is shared by every instance and
// append-only, so the figures are cluster-wide counters (aggregate them
// with max, not sum).
type securityCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func newSecurityCollector(s *Server) *securityCollector {
	return &securityCollector{s: s, desc: prometheus.NewDesc("wardsync_security_events_total",
		"Events in the security log (sync.security_events) by kind, all instances.", []string{"kind"}, nil)}
}

func (c *securityCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *securityCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts, err := c.s.DB.SecurityEventCounts(ctx)
	if err != nil {
		return
	}
	for _, k := range postgres.EventKinds {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(counts[k]), k)
	}
}
