package http_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestDeferredOverSync: over a real websocket, vitals on an appointment not
// yet checked in come back deferred with what they wait for; the admin
// status, the admin list and /metrics show the parked act; a check-in
// applies it and every figure goes back to zero.
func TestDeferredOverSync(t *testing.T) {
	e := startDashboard(t)
	nurse, sec := e.roleToken(workflow.RoleNurse), e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, nurse, e.device)
	appt := postgres.SeedID("a:scheduled")
	vitals := map[string]any{"weight": 70, "height": 170, "temperature": 37,
		"bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 72}
	r := ws.PushEach(t, nurse, "appointment.recordVitals", map[string]any{"id": appt, "vitals": vitals})[0]
	if r.Status != syncproto.StatusDeferred || r.WaitingFor != "waiting for check-in at reception" || r.WaitID != appt ||
		r.WaitTable != "appointments" || r.WaitState != "CHECKED_IN" {
		t.Fatalf("result: %+v", r)
	}

	figures := func(want int64) {
		t.Helper()
		st := e.status()
		if d := st.device(e.device); d == nil || d.Deferred != want || st.Totals.Deferred != want {
			t.Fatalf("status: device %+v, totals %+v; want %d deferred", d, st.Totals, want)
		}
		var list struct {
			Acts []postgres.ParkedAct `json:"acts"`
		}
		e.getInto("/api/v1/admin/deferred", e.admin, &list)
		if int64(len(list.Acts)) != want {
			t.Fatalf("admin list: %+v", list.Acts)
		}
		if want == 1 {
			a := list.Acts[0]
			if a.DeviceID != e.device || a.Name != "appointment.recordVitals" || a.WaitingFor != "waiting for check-in at reception" ||
				a.WaitID != appt || a.AuthorName == "" || !a.ExpiresAt.Equal(a.ParkedAt.Add(postgres.DefaultDeferredWindow)) {
				t.Fatalf("admin list: %+v", a)
			}
		}
		mf := e.scrape()
		if v, ok := admValue(mf, "wardsync_deferred_mutations", nil); !ok || v != float64(want) {
			t.Fatalf("wardsync_deferred_mutations = %v (%v), want %d", v, ok, want)
		}
		if v, ok := admValue(mf, "wardsync_device_deferred_mutations", map[string]string{"device": e.device}); want > 0 && (!ok || v != float64(want)) {
			t.Fatalf("wardsync_device_deferred_mutations = %v (%v), want %d", v, ok, want)
		}
	}
	figures(1)
	if st, body := e.do("GET", "/api/v1/admin/deferred", nurse, nil); st != 403 || body["code"] != "FORBIDDEN" {
		t.Fatalf("a workstation session read the admin list: %d %v", st, body)
	}

	if r := ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": appt})[0]; r.Status != syncproto.StatusApplied {
		t.Fatalf("check-in: %+v", r)
	}
	figures(0)
}

// TestDeferredWokenByOtherWriter: another program's SQL (a connection of
// its own, not the server's pool: the server's sessions are not notified
// by trigger, it announces its commits itself) checks the patient in; its
// commit notifies the servers, whose sweeper applies the parked vitals
// without waiting for its period (30 s, longer than this test waits).
func TestDeferredWokenByOtherWriter(t *testing.T) {
	e := startDashboard(t)
	nurse := e.roleToken(workflow.RoleNurse)
	ws := e.Connect(e.t, nurse, e.device)
	appt := postgres.SeedID("a:scheduled")
	vitals := map[string]any{"weight": 70, "height": 170, "temperature": 37,
		"bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 72}
	if r := ws.PushEach(t, nurse, "appointment.recordVitals", map[string]any{"id": appt, "vitals": vitals})[0]; r.Status != syncproto.StatusDeferred {
		t.Fatalf("result: %+v", r)
	}
	ctx := context.Background()
	other, err := pgx.Connect(ctx, e.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if _, err := other.Exec(ctx, `UPDATE appointments SET status = 'CHECKED_IN', "checkedInAt" = now() WHERE id = $1`, appt); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var status string
		if err := e.DB.Pool.QueryRow(ctx, `SELECT status::text FROM appointments WHERE id = $1`, appt).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status == "IN_CONSULTATION" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the parked vitals were not applied after the SQL check-in: %s", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
