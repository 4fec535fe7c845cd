package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/workflow"
)

// TestAuditNamesThePatient: the audit log (and so the dashboard's rejected
// acts) names each act's patient and visit: from the rows it targets, from
// the arguments of a refused insert, and nothing for an act that names none.
func TestAuditNamesThePatient(t *testing.T) {
	db, pool := admOpen(t)
	ctx := context.Background()
	dev, err := db.AddDevice(ctx, "", "Accueil", []workflow.Role{workflow.RoleSecretary})
	if err != nil {
		t.Fatal(err)
	}
	visit := time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)
	acts := []struct {
		name   string
		args   map[string]any
		target string
	}{
		{"appointment.close", map[string]any{"id": SeedID("a:completed"), "billingAmount": "45.00", "billingStatus": "PENDING"}, SeedID("a:completed")},
		{"appointment.schedule", map[string]any{"id": uuid.NewString(), "patientId": SeedID("patient:3"), "doctorId": SeedID("user:doctor@hospital.com"),
			"date": visit.Format(time.RFC3339), "motif": "Vaccination"}, ""},
		{"result.create", map[string]any{"id": uuid.NewString(), "prescriptionId": SeedID("rx:inprogress"), "text": "x"}, ""},
		{"rejected.close", map[string]any{"id": uuid.NewString(), "reason": "done"}, ""},
	}
	for i, a := range acts {
		b, _ := json.Marshal(a.args)
		if _, err := pool.Exec(ctx, `
			INSERT INTO sync.mutations (device_id, seq, mutation_id, name, args, occurred_at, received_at, outcome, code, message, target_id)
			VALUES ($1, $2, $3, $4, $5, now(), now() + make_interval(secs => $7), 'rejected', 'INVALID_TRANSITION', 'm', NULLIF($6, ''))`,
			dev.ID, int64(i+1), uuid.NewString(), a.name, string(b), a.target, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	entries, _, err := db.Audit(ctx, AuditFilter{DeviceID: dev.ID})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*workflow.ActSubject{}
	for _, e := range entries {
		by[e.Name] = e.Subject
	}
	if s := by["appointment.close"]; s == nil || s.LastName != "Martin" || s.FirstName != "Jean" || s.VisitMotif != "Contrôle tension" ||
		s.BillingAmount != "45.00" || s.VisitDate == nil || s.BirthDate == nil {
		t.Errorf("close of the seed's completed visit: %+v", s)
	}
	if s := by["appointment.schedule"]; s == nil || s.LastName != "Diallo" || s.VisitDate == nil || !s.VisitDate.Equal(visit) || s.VisitMotif != "Vaccination" {
		t.Errorf("refused schedule: %+v", s)
	}
	if s := by["result.create"]; s == nil || s.LastName != "Diallo" || s.PrescriptionText != "Bilan hépatique" {
		t.Errorf("refused result: %+v", s)
	}
	if s := by["rejected.close"]; s != nil {
		t.Errorf("a close names %+v", s)
	}
}
