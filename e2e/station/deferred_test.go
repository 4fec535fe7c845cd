package station

import (
	"context"
	"strings"
	"testing"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

var vitalsArgs = map[string]any{"weight": 70, "height": 170, "temperature": 37,
	"bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 72}

// TestDeferredOutageStory is the story deferred acts exist for
// (docs/deferred.md), end to end, on a real server
// and two workstation engines: reception's PC is offline holding a
// check-in while the ward records the nurse's vitals for that appointment.
// The vitals are queued "waiting for check-in at reception", pushed and
// parked by the server (which restarts meanwhile); when reception comes
// back, its check-in lands and the vitals are applied in the same
// transaction, as the nurse at the nurse's time. Both replicas converge on
// PostgreSQL and the ward's act leaves "waiting".
func TestDeferredOutageStory(t *testing.T) {
	t.Parallel()
	env := newEnv(t, true)
	env.addDevice("reception", workflow.RoleSecretary)
	env.addDevice("ward", workflow.RoleNurse, workflow.RoleDoctor)
	rec, ward := env.station("reception"), env.station("ward")
	rec.loginAll(workflow.RoleSecretary)
	ward.loginAll(workflow.RoleNurse, workflow.RoleDoctor)
	rec.run()
	ward.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return rec.synced() + ward.synced() })
	appt := postgres.SeedID("a:scheduled")

	// Reception's cable is pulled; it checks the patient in regardless.
	rec.link.Cut()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if rec.e.Status().Online {
			return "reception still online"
		}
		return ""
	})
	rec.act(workflow.RoleSecretary, "appointment.checkIn", map[string]any{"id": appt})

	// The nurse sees the patient and records the vitals on the ward PC,
	// which still shows the appointment SCHEDULED.
	acted := ward.act(workflow.RoleNurse, "appointment.recordVitals", map[string]any{"id": appt, "vitals": vitalsArgs})
	if acted.WaitingFor != "waiting for check-in at reception" {
		t.Fatalf("the act was not flagged as waiting: %+v", acted)
	}
	// No local effect while it waits.
	var status string
	if err := ward.e.DB().SQL().QueryRow(`SELECT status FROM appointments WHERE id = ?`, appt).Scan(&status); err != nil || status != "SCHEDULED" {
		t.Fatalf("ward replica: %s %v", status, err)
	}
	// Pushed, parked by the server; the ward shows it waiting.
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		p := ward.pending()
		if len(p) != 1 || !p[0].Parked || p[0].WaitingFor != "waiting for check-in at reception" {
			return "ward's act not parked yet"
		}
		if st := ward.e.Status(); st.Waiting != 1 || st.Pending != 0 {
			return "ward status does not show one waiting act"
		}
		return ""
	})
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.deferred WHERE device_id = 'ward' AND outcome IS NULL`); n != 1 {
		t.Fatalf("parked on the server: %d", n)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = 'ward' AND outcome = 'deferred'`); n != 1 {
		t.Fatalf("audited deferred: %d", n)
	}

	// The server restarts: the parked act lives in PostgreSQL.
	env.Restart(env.tb)

	// Reception's cable is back: its check-in lands, the vitals with it.
	rec.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if why := rec.synced() + ward.synced(); why != "" {
			return why
		}
		if st := ward.e.Status(); st.Waiting != 0 {
			return "the ward's act is still waiting"
		}
		if d := wardtest.Diff(replicaState(t, rec, []workflow.Role{workflow.RoleSecretary}), wardtest.PGState(t, env.Pool, []workflow.Role{workflow.RoleSecretary})); d != "" {
			return "reception differs from PostgreSQL:\n" + d
		}
		if d := wardtest.Diff(replicaState(t, ward, []workflow.Role{workflow.RoleNurse, workflow.RoleDoctor}), wardtest.PGState(t, env.Pool, []workflow.Role{workflow.RoleNurse, workflow.RoleDoctor})); d != "" {
			return "ward differs from PostgreSQL:\n" + d
		}
		return ""
	})
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM appointments WHERE id = $1 AND status = 'IN_CONSULTATION' AND "vitalsEnteredBy" = $2
		AND "vitalsEnteredAt" = $3 AT TIME ZONE 'UTC'`, appt, wardtest.UserID(workflow.RoleNurse), acted.OccurredAt); n != 1 {
		t.Fatal("the vitals were not applied as the nurse at the nurse's time")
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE outcome <> 'applied'`); n != 0 {
		t.Fatalf("%d acts not applied", n)
	}
	if r, _ := ward.e.Rejected(context.Background(), true); len(r) != 0 {
		t.Fatalf("ward rejected: %+v", r)
	}
}

// TestDeferredCancelledReachesInbox: the appointment is cancelled while
// the ward's vitals wait; the act is rejected with a sentence saying why,
// and the ward learns it through its feed: the act moves to its rejected
// inbox with code, message and everything the nurse typed.
func TestDeferredCancelledReachesInbox(t *testing.T) {
	t.Parallel()
	env := newEnv(t, true)
	env.addDevice("reception", workflow.RoleSecretary)
	env.addDevice("ward", workflow.RoleNurse)
	rec, ward := env.station("reception"), env.station("ward")
	rec.loginAll(workflow.RoleSecretary)
	ward.loginAll(workflow.RoleNurse)
	rec.run()
	ward.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return rec.synced() + ward.synced() })
	appt := postgres.SeedID("a:scheduled")
	ward.act(workflow.RoleNurse, "appointment.recordVitals", map[string]any{"id": appt, "vitals": vitalsArgs, "medicalHistoryNotes": "Asthme"})
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if p := ward.pending(); len(p) != 1 || !p[0].Parked {
			return "not parked yet"
		}
		return ""
	})
	rec.act(workflow.RoleSecretary, "appointment.cancel", map[string]any{"id": appt})
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if why := ward.synced(); why != "" {
			return why
		}
		if st := ward.e.Status(); st.Rejected != 1 || st.Waiting != 0 {
			return "the rejection has not reached the ward"
		}
		return ""
	})
	r, err := ward.e.Rejected(context.Background(), false)
	if err != nil || len(r) != 1 {
		t.Fatalf("rejected: %+v %v", r, err)
	}
	got := r[0]
	if got.Rejection.Code != workflow.CodeInvalidTransition || !strings.HasPrefix(got.Rejection.Message, "Appointment "+appt+" is CANCELLED") ||
		!strings.Contains(got.Rejection.Message, "It had been waiting for check-in at reception since ") ||
		!strings.Contains(string(got.Args), `"medicalHistoryNotes":"Asthme"`) {
		t.Fatalf("rejected act: %+v args %s", got.Rejection, got.Args)
	}
}
