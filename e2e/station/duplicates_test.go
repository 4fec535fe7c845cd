package station

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// TestDuplicatePatients: two reception desks register the same person while
// offline. Both registrations reach the server and are kept; the server
// flags the pair. Desk 2 goes offline again and queues acts on its record;
// meanwhile the administrator merges desk 2's record into desk 1's. When
// desk 2 returns, its new appointment follows the merge to the surviving
// record, its edit of the merged record is refused with a sentence saying
// why (the typed values kept), and both replicas converge with PostgreSQL:
// the merged record is gone everywhere.
func TestDuplicatePatients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, true)
	roles := []workflow.Role{sec, doc}
	env.addDevice("desk-1", roles...)
	env.addDevice("desk-2", roles...)
	d1, d2 := env.station("desk-1"), env.station("desk-2")
	for _, d := range []*station{d1, d2} {
		d.loginAll(roles...)
		d.run()
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return d1.synced() + d2.synced() })
	offline := func(ds ...*station) {
		for _, d := range ds {
			d.link.Cut()
		}
		wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
			for _, d := range ds {
				if d.e.Status().Online {
					return d.device + " still online"
				}
			}
			return ""
		})
	}

	// Both desks register the same person, offline, typed differently.
	offline(d1, d2)
	p1, p2 := uuid.NewString(), uuid.NewString()
	d1.act(sec, "patient.register", map[string]any{"id": p1, "firstName": "Awa", "lastName": "Traoré", "birthDate": "1984-02-03T00:00:00Z", "phone": "0700000001"})
	d2.act(sec, "patient.register", map[string]any{"id": p2, "firstName": "AWA", "lastName": "traore", "birthDate": "1984-02-03T00:00:00Z"})
	rx := uuid.NewString()
	d2.act(doc, "prescription.create", map[string]any{"id": rx, "patientId": p2, "text": "NFS"})
	d1.reconnect()
	d2.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return d1.synced() + d2.synced() })
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = ANY($1)`, []string{p1, p2}); n != 2 {
		t.Fatalf("%d of the two registrations kept", n)
	}
	pairs, err := env.DB.DuplicateCandidates(ctx, 0)
	if err != nil || len(pairs) != 1 || pairs[0].Reason != "name_birth_date" {
		t.Fatalf("candidates: %+v %v", pairs, err)
	}
	// Reception now sees the likely duplicate on either desk.
	if found, err := d1.e.LikelyDuplicates(ctx, "awa", "TRAORE", "1984-02-03"); err != nil || len(found) != 2 {
		t.Fatalf("desk 1's warning: %+v %v", found, err)
	}

	// Desk 2, offline again, keeps working on its own record.
	offline(d2)
	appt := uuid.NewString()
	d2.act(sec, "appointment.schedule", map[string]any{"id": appt, "patientId": p2, "doctorId": wardtest.UserID(doc), "date": "2030-03-04T09:00:00Z", "motif": "Suivi"})
	update := map[string]any{"id": p2, "phone": "0700000002"}
	d2.act(sec, "patient.update", update)

	// Meanwhile the administrator merges desk 2's record into desk 1's.
	var admin workflow.Actor
	if err := env.Pool.QueryRow(ctx, `SELECT id, name, role::text FROM users WHERE role = 'ADMIN' LIMIT 1`).Scan(&admin.ID, &admin.Name, &admin.Role); err != nil {
		t.Fatal(err)
	}
	res, err := env.DB.MergePatients(ctx, admin, p1, p2)
	if err != nil || res.Prescriptions != 1 {
		t.Fatalf("merge: %+v %v", res, err)
	}
	// A workstation cannot merge: refused before anything is queued.
	if _, err := d1.e.Act(ctx, d1.users[sec], "patient.merge", wardtest.MustJSON(map[string]any{"survivorId": p1, "loserId": p2})); err == nil {
		t.Fatal("a workstation queued a merge")
	}

	d2.reconnect()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { return d1.synced() + d2.synced() })

	if owner := wardtest.Count(t, env.Pool, `SELECT count(*) FROM appointments WHERE id = $1 AND "patientId" = $2`, appt, p1); owner != 1 {
		t.Fatal("the appointment queued on the merged record did not follow the merge")
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.merge_repoints WHERE from_patient = $1 AND to_patient = $2`, p2, p1); n != 1 {
		t.Fatalf("%d re-pointings recorded", n)
	}
	rej, err := d2.e.Rejected(ctx, false)
	if err != nil || len(rej) != 1 {
		t.Fatalf("desk 2's rejected list: %+v %v", rej, err)
	}
	r := rej[0]
	wantStart := "Patient " + p2 + " was merged into " + p1 + " on "
	wantEnd := " by " + admin.Name + "; this change was meant for the merged record and was not applied: redo it on patient " + p1 + " if it still applies."
	if r.Name != "patient.update" || r.Rejection.Code != workflow.CodeNotFound || !strings.HasPrefix(r.Rejection.Message, wantStart) || !strings.HasSuffix(r.Rejection.Message, wantEnd) {
		t.Fatalf("rejected: %+v", r)
	}
	var typed map[string]any
	if err := json.Unmarshal(r.Args, &typed); err != nil || typed["phone"] != "0700000002" {
		t.Fatalf("typed values lost: %s", r.Args)
	}

	// Both replicas hold what PostgreSQL holds; the merged record is gone.
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		want := wardtest.PGState(t, env.Pool, roles)
		return wardtest.Diff(replicaState(t, d1, roles), want) + wardtest.Diff(replicaState(t, d2, roles), want)
	})
	for _, d := range []*station{d1, d2} {
		found, err := d.e.SearchPatients(ctx, desktop.PatientQuery{Name: "awa"})
		if err != nil || len(found) != 1 || found[0].ID != p1 {
			t.Fatalf("%s search after the merge: %+v %v", d.device, found, err)
		}
	}
}
