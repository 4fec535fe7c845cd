package http_test

import (
	"context"
	"encoding/csv"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"wardsync/internal/wardtest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

type securityPage struct {
	Items []postgres.SecurityEvent `json:"items"`
	Next  string                   `json:"next"`
}

// TestSecurityLogRecordsEveryKind performs every logged action through the
// API and finds each in the security log with who and when (and, for
// administrative acts, the state before and after); the CSV export and
// /metrics carry them too; the log refuses UPDATE, DELETE and TRUNCATE.
func TestSecurityLogRecordsEveryKind(t *testing.T) {
	e := startDashboard(t)
	ctx := context.Background()
	adminID := postgres.SeedID("user:admin@hospital.com")
	nurseID := postgres.SeedID("user:nurse@hospital.com")
	start := e.Clock.Now().Add(-time.Second)

	// login (startDashboard), login_failed, logout.
	if st, body := e.do("POST", "/api/v1/auth/login", "", wardtest.LoginBody("nurse@hospital.com", "wrong", e.device)); st != 401 {
		t.Fatalf("wrong password: %d %v", st, body)
	}
	nurse := e.roleToken(workflow.RoleNurse)
	if st, body := e.do("POST", "/api/v1/auth/logout", nurse, nil); st != 200 {
		t.Fatalf("logout: %d %v", st, body)
	}
	// user_create, user_role, user_password, user_disable, user_enable.
	st, body := e.do("POST", "/api/v1/admin/users", e.admin, map[string]string{"name": "Nouvelle Infirmière", "email": "new.nurse@hospital.com", "password": "secret-1", "role": "NURSE"})
	if st != 201 {
		t.Fatalf("create: %d %v", st, body)
	}
	newID := body["id"].(string)
	for _, c := range []struct{ method, path string }{
		{"PATCH", "/api/v1/admin/users/" + newID}, {"POST", "/api/v1/admin/users/" + newID + "/password"},
		{"POST", "/api/v1/admin/users/" + newID + "/disable"}, {"POST", "/api/v1/admin/users/" + newID + "/enable"},
	} {
		var b any
		switch {
		case c.method == "PATCH":
			b = map[string]string{"role": "SECRETARY"}
		case strings.HasSuffix(c.path, "/password"):
			b = map[string]string{"password": "secret-2"}
		}
		if st, body := e.do(c.method, c.path, e.admin, b); st != 200 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, st, body)
		}
	}
	// Re-enabling keeps the disable time.
	st, body = e.do("GET", "/api/v1/admin/users", e.admin, nil)
	for _, u := range body["users"].([]any) {
		u := u.(map[string]any)
		if u["id"] == newID && (u["disabled"] != false || u["lastDisabledAt"] == nil || u["enabledAt"] == nil) {
			t.Fatalf("re-enabled user lost its history: %v", u)
		}
	}
	// device_register, device_code, device_claim, device_revoke.
	devID := e.registerDevice("Ward 9", workflow.RoleNurse)["id"].(string)
	st, body = e.do("POST", "/api/v1/admin/devices/"+devID+"/code", e.admin, nil)
	if st != 200 {
		t.Fatalf("new code: %d %v", st, body)
	}
	if st, body := e.do("POST", "/api/v1/devices/claim", "", map[string]string{"deviceId": devID, "code": body["registrationCode"].(string)}); st != 200 {
		t.Fatalf("claim: %d %v", st, body)
	}
	if st, body := e.do("POST", "/api/v1/admin/devices/"+devID+"/revoke", e.admin, nil); st != 200 {
		t.Fatalf("revoke: %d %v", st, body)
	}
	// patient_merge and duplicate_dismiss on flagged pairs; review_resolve
	// on a refused act.
	sec := e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, sec, e.device)
	a, b, c, d := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	res := ws.PushEach(t, sec, "patient.register",
		map[string]any{"id": a, "firstName": "Aïcha", "lastName": "Ba", "birthDate": "1991-03-04T00:00:00Z"},
		map[string]any{"id": b, "firstName": "aicha", "lastName": "BA", "birthDate": "1991-03-04T00:00:00Z"},
		map[string]any{"id": c, "firstName": "Omar", "lastName": "Sy", "birthDate": "1980-01-01T00:00:00Z"},
		map[string]any{"id": d, "firstName": "omar", "lastName": "SY", "birthDate": "1980-01-01T00:00:00Z"})
	for _, r := range res {
		if r.Status != syncproto.StatusApplied {
			t.Fatalf("register: %+v", r)
		}
	}
	if st, body := e.do("POST", "/api/v1/admin/patients/merge", e.admin, map[string]any{"survivorId": a, "loserId": b}); st != 200 {
		t.Fatalf("merge: %d %v", st, body)
	}
	if st, body := e.do("POST", "/api/v1/admin/duplicates/dismiss", e.admin, map[string]any{"patientA": c, "patientB": d, "note": "twins"}); st != 200 {
		t.Fatalf("dismiss: %d %v", st, body)
	}
	bad := ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": uuid.NewString()})
	if bad[0].Status != syncproto.StatusRejected {
		t.Fatalf("want a refused act: %+v", bad[0])
	}
	if st, body := e.do("POST", "/api/v1/admin/rejected/"+e.device+"/"+strconv.FormatInt(bad[0].Seq, 10)+"/resolve", e.admin, map[string]string{"note": "entered twice"}); st != 200 {
		t.Fatalf("resolve: %d %v", st, body)
	}
	// setting_change: the dashboard's Late/Stalled thresholds set, then
	// reset to the flags.
	if st, body := e.do("PUT", "/api/v1/admin/settings/health", e.admin, map[string]int{"lateUnseenMinutes": 10, "latePendingMinutes": 20, "stalledMinutes": 90}); st != 200 {
		t.Fatalf("set thresholds: %d %v", st, body)
	}
	if st, body := e.do("DELETE", "/api/v1/admin/settings/health", e.admin, nil); st != 200 {
		t.Fatalf("reset thresholds: %d %v", st, body)
	}
	// session_expired: a dashboard session left idle past its timeout.
	idle := e.login("admin@hospital.com", "admin123", "")
	e.Clock.Set(e.DB.Config.AdminIdle + time.Minute)
	if st, body := e.do("GET", "/api/v1/admin/session", idle, nil); st != 401 || body["code"] != "UNAUTHENTICATED" ||
		body["message"] != "The dashboard session of Admin Test ended after 30m0s without activity; sign in again." {
		t.Fatalf("idle session: %d %v", st, body)
	}
	admin := e.login("admin@hospital.com", "admin123", "")

	want := map[string]struct{ actor, subject string }{
		postgres.EventLogin: {adminID, adminID}, postgres.EventLoginFailed: {nurseID, nurseID}, postgres.EventLogout: {nurseID, nurseID},
		postgres.EventSessionExpired: {adminID, adminID},
		postgres.EventUserCreate:     {adminID, newID}, postgres.EventUserRole: {adminID, newID}, postgres.EventUserPassword: {adminID, newID},
		postgres.EventUserDisable: {adminID, newID}, postgres.EventUserEnable: {adminID, newID},
		postgres.EventDeviceRegister: {adminID, ""}, postgres.EventDeviceCode: {adminID, ""}, postgres.EventDeviceClaim: {"", ""},
		postgres.EventDeviceRevoke: {adminID, ""}, postgres.EventPatientMerge: {adminID, ""}, postgres.EventDuplicateClear: {adminID, ""},
		postgres.EventReviewResolve: {adminID, ""}, postgres.EventSettingChange: {adminID, ""},
	}
	if len(want) != len(postgres.EventKinds) {
		t.Fatalf("the test covers %d kinds of %d", len(want), len(postgres.EventKinds))
	}
	for _, kind := range postgres.EventKinds {
		t.Run(kind, func(t *testing.T) {
			var page securityPage
			e.getInto("/api/v1/admin/security-events?kind="+kind+"&since="+url.QueryEscape(start.Format(time.RFC3339Nano)), admin, &page)
			w := want[kind]
			var found *postgres.SecurityEvent
			for i := range page.Items {
				ev := &page.Items[i]
				if ev.Kind != kind {
					t.Fatalf("filter by kind returned %s", ev.Kind)
				}
				if ev.ActorID == w.actor && (w.subject == "" || ev.UserID == w.subject) {
					found = ev
				}
			}
			if found == nil {
				t.Fatalf("no %s event by %s about %s: %+v", kind, w.actor, w.subject, page.Items)
			}
			if found.At.Before(start) || found.At.After(e.Clock.Now().Add(time.Second)) {
				t.Fatalf("%s event at %s, outside the test", kind, found.At)
			}
			if found.ActorID != "" && found.ActorName == "" {
				t.Fatalf("%s event names no actor: %+v", kind, found)
			}
			if kind != postgres.EventSessionExpired && found.Address != "127.0.0.1" {
				t.Fatalf("%s event from address %q", kind, found.Address)
			}
			if strings.HasPrefix(kind, "user_") || strings.HasPrefix(kind, "device_r") || kind == postgres.EventPatientMerge {
				if len(found.After) == 0 {
					t.Fatalf("%s event has no after: %+v", kind, found)
				}
			}
		})
	}
	// Before and after of a role change; no password anywhere.
	var page securityPage
	e.getInto("/api/v1/admin/security-events?kind=user_role&user=new.nurse@hospital.com", admin, &page)
	if len(page.Items) != 1 || string(page.Items[0].Before) != `{"role":"NURSE"}` || !strings.Contains(string(page.Items[0].After), `"role":"SECRETARY"`) {
		t.Fatalf("role change before/after: %+v", page.Items)
	}
	if n := admCount(t, e.DB.Pool, `SELECT count(*) FROM sync.security_events WHERE before::text LIKE '%secret%' OR after::text LIKE '%secret%'`); n != 0 {
		t.Fatal("a password reached the security log")
	}
	// A bad filter is refused with its sentence.
	if st, body := e.do("GET", "/api/v1/admin/security-events?kind=coffee", admin, nil); st != 400 || body["code"] != "VALIDATION_FAILED" ||
		!strings.HasPrefix(body["message"].(string), `"coffee" is not a kind of security event; kinds are login, login_failed,`) {
		t.Fatalf("bad kind: %d %v", st, body)
	}

	// The CSV export: a header and one row per event, the same as the API.
	st, raw := e.raw("GET", "/api/v1/admin/security-events.csv?user="+adminID, admin, nil)
	if st != 200 {
		t.Fatalf("csv: %d %s", st, raw)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || len(rows) < 10 || strings.Join(rows[0], ",") != "id,at,kind,actor_id,actor_name,user_id,user_email,device_id,address,reason,target,before,after" {
		t.Fatalf("csv: %v %q", err, rows)
	}

	// /metrics counts by kind.
	scrape := e.scrape()
	for _, kind := range postgres.EventKinds {
		if v, ok := admValue(scrape, "wardsync_security_events_total", map[string]string{"kind": kind}); !ok || v < 1 {
			t.Fatalf("metrics: %s = %v", kind, v)
		}
	}

	// Append-only.
	for _, q := range []string{`DELETE FROM sync.security_events`, `UPDATE sync.security_events SET reason = 'x'`, `TRUNCATE sync.security_events`} {
		_, err := e.DB.Pool.Exec(ctx, q)
		var pe *pgconn.PgError
		op := strings.Fields(q)[0]
		if !errors.As(err, &pe) || pe.Code != "42501" ||
			pe.Message != "sync.security_events is append-only: "+op+" is refused; the security log keeps every event for as long as the database lives" {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if n := admCount(t, e.DB.Pool, `SELECT count(*) FROM sync.security_events`); n < int64(len(postgres.EventKinds)) {
		t.Fatalf("%d events left", n)
	}
}

func admCount(t testing.TB, pool *pgxpool.Pool, q string) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
