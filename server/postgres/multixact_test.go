package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestManyActPushMakesNoMultiXact: in a push of many acts, each act's
// savepoint opens with the mutator's first read, so the rows it locks are
// locked and written by one subtransaction. A row locked by the push's
// transaction and written by a subtransaction of it needs a MultiXact (its
// xmax must name both), which PostgreSQL creates, and later reads and
// truncates, for every act. mxid_age(datminmxid) is the cluster's next
// MultiXact id less a constant: it must not move across the pushes. Not
// parallel: no other test of the package runs meanwhile, and the cluster
// is this checkout's own.
func TestManyActPushMakesNoMultiXact(t *testing.T) {
	db, pool := openSeeded(t)
	ctx := context.Background()
	dev, err := db.AddDevice(ctx, "", "MultiXact", workflow.Roles)
	if err != nil {
		t.Fatal(err)
	}
	sec := mustLogin(t, db, workflow.RoleSecretary, dev.ID)
	nurse := mustLogin(t, db, workflow.RoleNurse, dev.ID)
	now := time.Now().UTC().Truncate(time.Millisecond)
	const n = 10
	patient := uuid.NewString()
	appts := make([]string, n)
	for i := range appts {
		appts[i] = uuid.NewString()
	}
	var seq int64
	act := func(name, tok string, args map[string]any) syncproto.Mutation {
		seq++
		raw, _ := json.Marshal(args)
		return syncproto.Mutation{Seq: seq, ID: uuid.NewString(), Name: name, Args: raw, OccurredAt: now, SessionID: tok}
	}
	vitals := map[string]any{"weight": 70, "height": 170, "temperature": 37, "bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 70}
	// Inserts that name a patient (its KEY SHARE lock, then the foreign
	// key's), updates of rows locked FOR UPDATE, two acts on one row, and
	// a patch of a row held FOR KEY SHARE.
	pushes := [][]syncproto.Mutation{{act("patient.register", sec, map[string]any{"id": patient, "firstName": "Multi", "lastName": "Xact " + patient[:8], "birthDate": "1980-05-01T00:00:00Z"})}}
	var schedule, checkIn, more []syncproto.Mutation
	for _, a := range appts {
		schedule = append(schedule, act("appointment.schedule", sec, map[string]any{"id": a, "patientId": patient,
			"doctorId": SeedID("user:doctor@hospital.com"), "date": now.Add(time.Hour).Format(time.RFC3339), "motif": "Suivi"}))
	}
	for _, a := range appts {
		checkIn = append(checkIn, act("appointment.checkIn", sec, map[string]any{"id": a}))
	}
	for _, a := range appts[:n/2] {
		more = append(more, act("appointment.recordVitals", nurse, map[string]any{"id": a, "vitals": vitals}))
	}
	more = append(more, act("patient.update", sec, map[string]any{"id": patient, "phone": "0600000000"}))
	pushes = append(pushes, schedule, checkIn, more)

	next := func() int64 {
		return scalar[int64](t, pool, `SELECT mxid_age(datminmxid) FROM pg_database WHERE datname = current_database()`)
	}
	for i, p := range pushes {
		before := next()
		res, err := db.Push(ctx, dev.ID, chained(t, db, dev.ID, p))
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		for _, r := range res {
			if r.Status != syncproto.StatusApplied {
				t.Fatalf("push %d: %+v", i, r)
			}
		}
		if made := next() - before; made != 0 {
			t.Errorf("push %d of %d acts (%s): %d MultiXacts made, want none", i, len(p), p[0].Name, made)
		}
	}
	if got := scalar[int64](t, pool, `SELECT count(*) FROM appointments WHERE id = ANY($1) AND status = 'CHECKED_IN'`, appts); got != n-n/2 {
		t.Fatalf("%d appointments checked in, want %d", got, n-n/2)
	}
}
