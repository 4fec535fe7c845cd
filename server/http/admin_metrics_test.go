package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"wardsync/internal/pgtest"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// admMetricsToken is the -metrics-token of the admin tests' server.
const admMetricsToken = "metrics-secret"

// scrape fetches /metrics over HTTP with the metrics token (every series,
// per-workstation ones included) and parses it.
func (e *dashboard) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	return e.scrapeWith(admMetricsToken)
}

// scrapeWith fetches /metrics with token as bearer ("" for none).
func (e *dashboard) scrapeWith(token string) map[string]*dto.MetricFamily {
	e.t.Helper()
	st, raw := wardtest.Call(e.t, nil, http.MethodGet, e.URL()+"/metrics", token, nil)
	if st != http.StatusOK {
		e.t.Fatalf("/metrics: %d", st)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	return mf
}

// admValue is the value of the series of name whose labels include want;
// ok is false when there is none.
func admValue(mf map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	fam := mf[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.Metric {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// After a scripted run over /sync (3 applied, 4 rejected: 2
// INVALID_TRANSITION, 1 NOT_FOUND, 1 VALIDATION_FAILED), /metrics shows
// exactly those counts, per instance and per device, with the device's
// reported queue, its lag, the feed and the pool.
func TestMetricsAfterScriptedRun(t *testing.T) {
	e := startDashboard(t)
	sec := e.roleToken(workflow.RoleSecretary)
	oldest := time.Now().Add(-10 * time.Minute)
	ws := e.Dial(e.t, sec, e.device)
	ws.Say(e.t, syncproto.Hello{Pending: 5, OldestPendingAt: &oldest})

	for _, r := range ws.PushEach(t, sec, "patient.register", admPatient("M1"), admPatient("M2"), admPatient("M3")) {
		if r.Status != syncproto.StatusApplied {
			t.Fatalf("%+v", r)
		}
	}
	checkedIn := map[string]any{"id": postgres.SeedID("a:checkedin")}
	bad := admPatient("")
	bad["firstName"] = ""
	codes := []workflow.Code{}
	for _, r := range ws.PushEach(t, sec, "appointment.checkIn", checkedIn, checkedIn) {
		codes = append(codes, r.Code)
	}
	codes = append(codes, ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": "7d1b1c0e-0000-4000-8000-000000000000"})[0].Code)
	codes = append(codes, ws.PushEach(t, sec, "patient.register", bad)[0].Code)
	if strings.Join([]string{string(codes[0]), string(codes[1]), string(codes[2]), string(codes[3])}, ",") != "INVALID_TRANSITION,INVALID_TRANSITION,NOT_FOUND,VALIDATION_FAILED" {
		t.Fatalf("script went otherwise: %v", codes)
	}
	// A revoked workstation has no series.
	gone := e.registerDevice("Gone", workflow.RoleNurse)["id"].(string)
	if st, _ := e.do("POST", "/api/v1/admin/devices/"+gone+"/revoke", e.admin, nil); st != 200 {
		t.Fatal(st)
	}

	mf := e.scrape()
	expect := func(name string, labels map[string]string, want float64) {
		t.Helper()
		got, ok := admValue(mf, name, labels)
		if !ok || got != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	expect("wardsync_mutations_total", map[string]string{"outcome": "applied", "code": ""}, 3)
	expect("wardsync_mutations_total", map[string]string{"outcome": "rejected", "code": "INVALID_TRANSITION"}, 2)
	expect("wardsync_mutations_total", map[string]string{"outcome": "rejected", "code": "NOT_FOUND"}, 1)
	expect("wardsync_mutations_total", map[string]string{"outcome": "rejected", "code": "VALIDATION_FAILED"}, 1)
	total := 0.0
	for _, m := range mf["wardsync_mutations_total"].Metric {
		total += m.Counter.GetValue()
	}
	if total != 7 {
		t.Errorf("wardsync_mutations_total sums to %v, want 7", total)
	}
	dev := map[string]string{"device": e.device}
	expect("wardsync_device_mutations_total", map[string]string{"device": e.device, "outcome": "applied"}, 3)
	expect("wardsync_device_mutations_total", map[string]string{"device": e.device, "outcome": "rejected"}, 4)
	expect("wardsync_rejected_unresolved_mutations", map[string]string{"code": "INVALID_TRANSITION"}, 2)
	expect("wardsync_rejected_unresolved_mutations", map[string]string{"code": "NOT_FOUND"}, 1)
	expect("wardsync_rejected_unresolved_mutations", map[string]string{"code": "VALIDATION_FAILED"}, 1)
	expect("wardsync_device_rejected_unresolved_mutations", dev, 4)
	expect("wardsync_device_pending_mutations", dev, 5)
	expect("wardsync_device_online", dev, 1)
	expect("wardsync_connected_devices", nil, 1)
	expect("wardsync_db_up", nil, 1)
	// Present from the start (a deadlock storm shows as its rate).
	expect("wardsync_db_retries_total", map[string]string{"sqlstate": "40P01"}, 0)
	expect("wardsync_db_retries_total", map[string]string{"sqlstate": "40001"}, 0)
	expect("wardsync_feed_prune_horizon", nil, 0)
	expect("wardsync_db_pool_max_connections", nil, float64(postgres.DefaultConfig().MaxConns))
	// The seed's demo workstation (never connected) and ours.
	expect("wardsync_devices", nil, 2)
	expect("wardsync_devices_by_health", map[string]string{"health": "ok"}, 1)
	expect("wardsync_devices_by_health", map[string]string{"health": "new"}, 1)
	expect("wardsync_device_info", map[string]string{"device": e.device, "name": "Every role"}, 1)
	if age, _ := admValue(mf, "wardsync_device_oldest_pending_age_seconds", dev); age < 590 || age > 700 {
		t.Errorf("oldest pending age %v, want about 600", age)
	}
	if ts, _ := admValue(mf, "wardsync_device_last_seen_timestamp_seconds", dev); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("last seen %v", ts)
	}
	var changes float64
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sync.changes`).Scan(&changes); err != nil {
		t.Fatal(err)
	}
	expect("wardsync_device_cursor_lag_changes", dev, changes)
	expect("wardsync_feed_retained_changes", nil, changes)
	for _, name := range []string{"wardsync_db_pool_acquired_connections", "wardsync_db_pool_idle_connections", "wardsync_db_pool_total_connections",
		"wardsync_db_pool_acquires_total", "wardsync_push_duration_seconds", "wardsync_feed_head"} {
		if mf[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	if tot, _ := admValue(mf, "wardsync_db_pool_total_connections", nil); tot < 1 {
		t.Errorf("pool total %v", tot)
	}
	for name, fam := range mf {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				if l.GetName() == "device" && l.GetValue() == gone {
					t.Errorf("%s has a series for a revoked workstation", name)
				}
			}
		}
	}

	// The workstation reports its queue drained: the gauges follow.
	ws.SendFrame(t, &syncproto.Report{Pending: 0})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mf = e.scrape()
		p, _ := admValue(mf, "wardsync_device_pending_mutations", dev)
		a, _ := admValue(mf, "wardsync_device_oldest_pending_age_seconds", dev)
		if p == 0 && a == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a drained report: pending %v, age %v", p, a)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// /readyz goes 503 while the database refuses connections and back to 200
// when it accepts them again.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	e := startDashboard(t)
	ready := func() int {
		resp, err := http.Get(e.HTTP.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(want int) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			got := ready()
			if got == want {
				return time.Since(start)
			}
			if time.Since(start) > 20*time.Second {
				t.Fatalf("/readyz stayed %d, want %d", got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := ready(); got != 200 {
		t.Fatalf("/readyz = %d before the outage", got)
	}
	u, err := url.Parse(e.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// ALLOW_CONNECTIONS binds superusers too (CONNECTION LIMIT does not).
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` WITH ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `ALTER DATABASE `+name+` WITH ALLOW_CONNECTIONS true`) })
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
		strings.TrimPrefix(u.Path, "/")); err != nil {
		t.Fatal(err)
	}
	waitFor(http.StatusServiceUnavailable)
	// It says so by code and sentence, never with the driver's text
	// (which names the database, its host and user).
	resp, err := http.Get(e.HTTP.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body map[string]string
	if err := json.Unmarshal(raw, &body); err != nil || body["code"] != "DATABASE_UNAVAILABLE" ||
		body["message"] != "The database cannot be reached or read; the server's log has the details." {
		t.Errorf("/readyz during the outage: %s", raw)
	}
	if dbName := strings.TrimPrefix(u.Path, "/"); strings.Contains(string(raw), dbName) || strings.Contains(string(raw), "SQLSTATE") {
		t.Errorf("/readyz leaks the driver's text: %s", raw)
	}
	// The metrics page still answers, saying the database is down.
	mf := e.scrape()
	if up, ok := admValue(mf, "wardsync_db_up", nil); !ok || up != 0 {
		t.Errorf("wardsync_db_up = %v during the outage", up)
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` WITH ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	took := waitFor(http.StatusOK)
	t.Logf("ready again %s after the database came back", took)
	if up, _ := admValue(e.scrape(), "wardsync_db_up", nil); up != 1 {
		t.Errorf("wardsync_db_up = %v after the outage", up)
	}
}
