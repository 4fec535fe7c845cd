package sqlite

import (
	"context"
	"testing"
	"time"

	"wardsync/workflow"
)

func TestLikelyDuplicates(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	cases := []struct {
		name, first, last, birth string
		want                     []string
	}{
		{"same person typed otherwise", " MARIE ", "curié", "1967-11-07", []string{patient1ID}},
		{"other birth date", "Marie", "Curie", "1967-11-08", nil},
		{"other first name", "Pierre", "Curie", "1967-11-07", nil},
		{"birth date not typed yet", "Marie", "Curie", "", nil},
		{"name not typed yet", "", "Curie", "1967-11-07", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := db.LikelyDuplicates(ctx, c.first, c.last, c.birth)
			must(t, err)
			var ids []string
			for _, p := range got {
				ids = append(ids, p.ID)
			}
			if len(ids) != len(c.want) || (len(ids) > 0 && ids[0] != c.want[0]) {
				t.Fatalf("got %v, want %v", ids, c.want)
			}
		})
	}
}

// What a merge sends every workstation: the loser's records re-pointed (same
// ids) and the loser deleted. Applied in one page, the loser disappears from
// search and its appointment is the survivor's.
func TestMergeChangesConverge(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	// patient2 (Louis Pasteur) merged into patient1.
	moved := appointmentRow(appt2ID, patient1ID, doctorID, t0.Add(6*time.Hour), workflow.AppointmentScheduled, nil)
	must(t, db.ApplyChanges(ctx, page("c1", 0,
		del(workflow.TablePatients, patient2ID),
		upsert(workflow.TableAppointments, moved)), t0))
	found, err := db.SearchPatients(ctx, PatientQuery{Name: "pasteur"})
	must(t, err)
	if len(found) != 0 {
		t.Fatalf("the merged patient is still found: %+v", found)
	}
	var owner string
	must(t, db.SQL().QueryRow(`SELECT "patientId" FROM "appointments" WHERE "id" = ?`, appt2ID).Scan(&owner))
	if owner != patient1ID {
		t.Fatalf("appointment belongs to %s", owner)
	}
}
