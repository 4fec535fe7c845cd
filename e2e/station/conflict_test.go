package station

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// TestConflictingVitals: two nurses on two workstations, both offline,
// record vitals for the same checked-in appointment. When both come back at
// once, one act wins; the other ends in its workstation's rejected list with
// INVALID_TRANSITION, a message naming the winner, and the values its nurse
// typed intact (byte for byte), ready to be copied into a new entry.
func TestConflictingVitals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	const nurse2Name, nurse2Email, nurse2Pass = "Infirmière Deux", "nurse2@hospital.com", "nurse2123"
	nurse2ID, err := env.DB.AddUser(ctx, nurse2Name, nurse2Email, nurse2Pass, workflow.RoleNurse)
	if err != nil {
		t.Fatal(err)
	}
	roles := []workflow.Role{nur, sec}
	env.addDevice("ward-1", roles...)
	env.addDevice("ward-2", roles...)
	w1, w2 := env.station("ward-1"), env.station("ward-2")
	w1.login(wardtest.Email(nur), wardtest.Password(nur))
	w2.login(nurse2Email, nurse2Pass)
	w1.run()
	w2.run()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return w1.synced() + w2.synced() })

	appt := postgres.SeedID("a:checkedin")
	w1.link.Cut()
	w2.link.Cut()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		if w1.e.Status().Online || w2.e.Status().Online {
			return "a ward is still online"
		}
		return ""
	})

	// What each nurse typed, kept as typed (spacing and key order included).
	typed := map[string]json.RawMessage{
		"ward-1": json.RawMessage(`{"id":"` + appt + `","vitals":{"weight":81.4,"height":175,"temperature":38.6,"bloodPressure":{"systolic":141,"diastolic":92},"heartRate":96},"medicalHistoryNotes":"Fièvre depuis hier soir."}`),
		"ward-2": json.RawMessage(`{ "medicalHistoryNotes": "Toux sèche, 3 jours ; pas d'allergie connue.", "id": "` + appt + `",
			"vitals": { "temperature": 37.9, "weight": 81.0, "height": 175, "heartRate": 88,
			            "bloodPressure": { "systolic": 128, "diastolic": 84 }, "respiratoryRate": 18, "oxygenSaturation": 97 } }`),
	}
	author := map[string]string{"ward-1": wardtest.UserID(nur), "ward-2": nurse2ID}
	names := map[string]string{"ward-1": wardtest.SeedUser(nur).Name, "ward-2": nurse2Name}
	acted := map[string]*desktop.Acted{}
	for _, w := range []*station{w1, w2} {
		a, err := w.e.Act(ctx, author[w.device], "appointment.recordVitals", typed[w.device])
		if err != nil {
			t.Fatalf("%s: %v", w.device, err)
		}
		acted[w.device] = a
		// Offline, each ward sees its own vitals at once.
		var row workflow.Appointment
		raw, _ := w.e.DB().Row(ctx, workflow.TableAppointments, appt)
		if err := json.Unmarshal(raw, &row); err != nil || row.Status != workflow.AppointmentInConsultation ||
			row.VitalsEnteredBy == nil || *row.VitalsEnteredBy != author[w.device] {
			t.Fatalf("%s: appointment after its own act: %s", w.device, raw)
		}
	}

	// Both come back at once.
	w1.reconnect()
	w2.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return w1.synced() + w2.synced() })

	var winnerID string
	var temp float64
	if err := env.Pool.QueryRow(ctx, `SELECT "vitalsEnteredBy", (vitals->>'temperature')::float8 FROM appointments WHERE id = $1`, appt).
		Scan(&winnerID, &temp); err != nil {
		t.Fatal(err)
	}
	winner, loser := w1, w2
	if winnerID == nurse2ID {
		winner, loser = w2, w1
	}
	if winnerID != author[winner.device] {
		t.Fatalf("vitalsEnteredBy %s is neither nurse", winnerID)
	}
	var wantTemp map[string]any
	json.Unmarshal(typed[winner.device], &wantTemp)
	if temp != wantTemp["vitals"].(map[string]any)["temperature"] {
		t.Errorf("PostgreSQL holds temperature %v, the winner typed %v", temp, wantTemp["vitals"])
	}
	t.Logf("%s won", names[winner.device])

	if r, _ := winner.e.Rejected(ctx, true); len(r) != 0 {
		t.Errorf("the winner has rejected acts: %+v", r)
	}
	rej, err := loser.e.Rejected(ctx, false)
	if err != nil || len(rej) != 1 {
		t.Fatalf("loser's rejected list: %+v (%v)", rej, err)
	}
	r := rej[0]
	if r.ID != acted[loser.device].ID || r.Name != "appointment.recordVitals" || r.AuthorID != author[loser.device] {
		t.Errorf("rejected act: %+v", r)
	}
	if r.Rejection.Code != workflow.CodeInvalidTransition {
		t.Errorf("code %s, want INVALID_TRANSITION", r.Rejection.Code)
	}
	prefix := "Appointment " + appt + " is IN_CONSULTATION (vitals entered by " + names[winner.device] + " at "
	if !strings.HasPrefix(r.Rejection.Message, prefix) || !strings.HasSuffix(r.Rejection.Message, "), not CHECKED_IN.") {
		t.Errorf("message %q, want %q…\"), not CHECKED_IN.\"", r.Rejection.Message, prefix)
	}
	if !bytes.Equal(r.Args, typed[loser.device]) {
		t.Errorf("rejected args changed:\n got %s\nwant %s", r.Args, typed[loser.device])
	}
	name, args, err := loser.e.CopyRejected(ctx, r.ID)
	if err != nil || name != "appointment.recordVitals" || !bytes.Equal(args, typed[loser.device]) {
		t.Errorf("copy into a new entry: %s %s %v", name, args, err)
	}
	if st := loser.e.Status(); st.Rejected != 1 || st.Pending != 0 {
		t.Errorf("loser's status: %+v", st)
	}

	// The audit log says the same: one applied, one rejected with the
	// message the loser's workstation shows.
	var outcome, code, msg string
	if err := env.Pool.QueryRow(ctx, `SELECT outcome, code, message FROM sync.mutations WHERE mutation_id = $1`, r.ID).
		Scan(&outcome, &code, &msg); err != nil {
		t.Fatal(err)
	}
	if outcome != "rejected" || code != string(r.Rejection.Code) || msg != r.Rejection.Message {
		t.Errorf("audit of the loser: %s %s %q", outcome, code, msg)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE mutation_id = $1 AND outcome = 'applied'`, acted[winner.device].ID); n != 1 {
		t.Errorf("winner's act audited %d times as applied", n)
	}

	// Both replicas show the winner's vitals, as PostgreSQL does.
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		want := wardtest.PGState(t, env.Pool, roles)
		return wardtest.Diff(replicaState(t, w1, roles), want) + wardtest.Diff(replicaState(t, w2, roles), want)
	})

	// Closed with a reason, the act is kept with its args but no longer
	// counted as open (review_test.go follows the close to the server).
	if _, err := loser.e.CloseRejected(ctx, author[loser.device], r.ID, "The other nurse's vitals stand."); err != nil {
		t.Fatal(err)
	}
	if st := loser.e.Status(); st.Rejected != 0 {
		t.Errorf("rejected count after closing: %d", st.Rejected)
	}
	if all, _ := loser.e.Rejected(ctx, true); len(all) != 1 || !bytes.Equal(all[0].Args, typed[loser.device]) {
		t.Errorf("closed act not kept: %+v", all)
	}
}
