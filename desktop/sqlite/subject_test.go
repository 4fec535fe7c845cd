package sqlite

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"wardsync/workflow"
)

// TestSubjects: an act is named by its patient and visit, from the rows it
// targets, from its arguments when its row does not exist (a refused
// appointment or result), and not at all when it names nothing known.
func TestSubjects(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	refs := func(name string, args obj) workflow.ActRefs {
		b, _ := json.Marshal(args)
		return workflow.RefsOf(name, b)
	}
	visit := t0.Add(3 * time.Hour)
	got, err := db.Subjects(ctx, []workflow.ActRefs{
		refs("appointment.recordVitals", obj{"id": appt1ID, "vitals": obj{}}),
		refs("prescription.collectSample", obj{"id": presc2ID}),
		refs("result.create", obj{"id": newID(), "prescriptionId": presc1ID, "text": "x"}),
		refs("appointment.schedule", obj{"id": newID(), "patientId": patient3ID, "doctorId": doctorID, "date": visit.Format(time.RFC3339), "motif": "Vaccin"}),
		refs("patient.register", obj{"id": newID(), "firstName": "Ada", "lastName": "Lovelace"}),
		refs("appointment.checkIn", obj{"id": newID()}),
	})
	must(t, err)
	name := func(s workflow.ActSubject) string { return s.LastName + " " + s.FirstName }
	if s := got[0]; name(s) != "Curie Marie" || s.VisitID != appt1ID || s.VisitDate == nil || !s.VisitDate.Equal(t0.Add(5*time.Hour)) || s.VisitMotif == "" ||
		s.BirthDate == nil || s.BirthDate.Year() != 1967 {
		t.Errorf("vitals on appt1: %+v", s)
	}
	if s := got[1]; name(s) != "Pasteur Louis" || s.PrescriptionText == "" || s.VisitID != "" {
		t.Errorf("sample of presc2: %+v", s)
	}
	if s := got[2]; name(s) != "Curie Marie" || s.PrescriptionText == "" {
		t.Errorf("result of presc1 (no result row): %+v", s)
	}
	if s := got[3]; name(s) != "Curie Pierre" || s.VisitDate == nil || !s.VisitDate.Equal(visit) || s.VisitMotif != "Vaccin" {
		t.Errorf("refused schedule: %+v", s)
	}
	if s := got[4]; name(s) != "Lovelace Ada" || s.PatientID == "" {
		t.Errorf("refused registration: %+v", s)
	}
	if s := got[5]; s.Known() {
		t.Errorf("check-in of an unknown appointment names %+v", s)
	}
}

// TestReviewQueueFlagsAbnormalResults: a result whose measured values hold
// a row flagged abnormal marks its line in the doctor's queue; a normal
// one and one in the older free-form shape do not.
func TestReviewQueueFlagsAbnormalResults(t *testing.T) {
	db := openTest(t)
	seed(t, db)
	ctx := context.Background()
	day := t0.Truncate(24 * time.Hour)
	rx := []string{newID(), newID(), newID()}
	for _, id := range rx {
		must(t, db.PutRows(ctx, workflow.TablePrescriptions, prescriptionRow(id, patient1ID, doctorID, workflow.PrescriptionResultsAvailable,
			obj{"analysisCompletedAt": ts(day.Add(9 * time.Hour))})))
	}
	for i, data := range []any{
		obj{"rows": []obj{{"test": "CRP", "value": "85", "unit": "mg/L", "range": "< 5", "abnormal": true}}},
		obj{"rows": []obj{{"test": "Na", "value": "140", "abnormal": false}}},
		obj{"TSH": 2.1},
	} {
		must(t, db.PutRows(ctx, workflow.TableResults, js(obj{"id": newID(), "prescriptionId": rx[i], "text": "x", "data": data,
			"validatedBy": biologistID, "validatedAt": ts(day), "createdAt": ts(day), "updatedAt": ts(day)})))
	}
	d, err := db.DashboardFor(ctx, workflow.RoleDoctor, doctorID, day, day.Add(24*time.Hour), 0)
	must(t, err)
	flags := map[string]bool{}
	for _, p := range d.ToReview {
		flags[p.ID] = p.ResultAbnormal
	}
	if !flags[rx[0]] || flags[rx[1]] || flags[rx[2]] || len(flags) != 3 {
		t.Fatalf("abnormal flags %v (want only %s)", flags, rx[0])
	}
}
