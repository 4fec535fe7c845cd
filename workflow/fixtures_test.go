package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// The fixtures follow the seed's demo data: Infirmier Test enters vitals at
// 10:42 on 2026-01-05, acts happen at 11:00 the same day.
var (
	day0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	now  = day0.Add(11 * time.Hour)
)

func at(hhmm string) *time.Time {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	x := day0.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
	return &x
}

func ptr[T any](v T) *T { return &v }

const (
	adminID     = "a0000000-0000-4000-8000-000000000001"
	doctorID    = "d0000000-0000-4000-8000-000000000001"
	doctor2ID   = "d0000000-0000-4000-8000-000000000002"
	biologistID = "b0000000-0000-4000-8000-000000000001"
	nurseID     = "c0000000-0000-4000-8000-000000000001"
	secretaryID = "e0000000-0000-4000-8000-000000000001"

	patientID  = "10000000-0000-4000-8000-000000000001"
	patient2ID = "10000000-0000-4000-8000-000000000002"
	apptID     = "20000000-0000-4000-8000-000000000001"
	rxID       = "30000000-0000-4000-8000-000000000001"
	resultID   = "40000000-0000-4000-8000-000000000001"
	docID      = "50000000-0000-4000-8000-000000000001"
	freshID    = "90000000-0000-4000-8000-000000000009"
	missingID  = "99999999-0000-4000-8000-000000000000"
)

var users = []*User{
	{ID: adminID, Name: "Admin Test", Email: "admin@hospital.com", Password: "$2b$10$hash", Role: RoleAdmin},
	{ID: doctorID, Name: "Dr Test", Email: "doctor@hospital.com", Password: "$2b$10$hash", Role: RoleDoctor},
	{ID: doctor2ID, Name: "Dr Autre", Email: "doctor2@hospital.com", Password: "$2b$10$hash", Role: RoleDoctor},
	{ID: biologistID, Name: "Biologiste Test", Email: "bio@hospital.com", Password: "$2b$10$hash", Role: RoleBiologist},
	{ID: nurseID, Name: "Infirmier Test", Email: "nurse@hospital.com", Password: "$2b$10$hash", Role: RoleNurse},
	{ID: secretaryID, Name: "Secretaire Test", Email: "secretary@hospital.com", Password: "$2b$10$hash", Role: RoleSecretary},
}

func actorFor(r Role) Actor {
	for _, u := range users {
		if u.Role == r {
			return Actor{ID: u.ID, Name: u.Name, Role: r}
		}
	}
	panic("no user for role " + r)
}

// baseStore holds the users and one patient.
func baseStore() *memStore {
	s := newStore()
	for _, u := range users {
		u.CreatedAt, u.UpdatedAt = day0, day0
		s.put(TableUsers, u)
	}
	for _, id := range []string{patientID, patient2ID} {
		s.put(TablePatients, &Patient{ID: id, FirstName: "Jean", LastName: "Dupont", BirthDate: time.Date(1980, 5, 12, 0, 0, 0, 0, time.UTC),
			Sex: "M", CreatedAt: day0, UpdatedAt: day0})
	}
	return s
}

const seedVitals = `{"weight":70,"height":170,"temperature":37,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72}`

// fixtureAppointment builds an appointment whose columns are what the workflow
// would have written on the way to status.
func fixtureAppointment(status AppointmentStatus) *Appointment {
	a := &Appointment{ID: apptID, Date: *at("14:00"), Motif: "Consultation de suivi", Status: status,
		PatientID: patientID, DoctorID: doctorID, BillingStatus: ptr(BillingPending), CreatedAt: day0, UpdatedAt: *at("09:00")}
	rank := map[AppointmentStatus]int{AppointmentScheduled: 0, AppointmentCheckedIn: 1, AppointmentInConsultation: 2,
		AppointmentConsultationCompleted: 3, AppointmentCompleted: 4, AppointmentCancelled: 1}[status]
	if rank >= 1 && status != AppointmentCancelled {
		a.CheckedInAt = at("10:30")
	}
	if rank >= 2 {
		a.Vitals = json.RawMessage(seedVitals)
		a.VitalsEnteredAt, a.VitalsEnteredBy = at("10:42"), ptr(nurseID)
	}
	if rank >= 3 {
		a.ConsultationNotes = ptr("RAS")
		a.ConsultedAt, a.ConsultedBy = at("10:50"), ptr(doctorID)
	}
	if rank >= 4 {
		a.BillingAmount = ptr(Decimal("25.00"))
		a.ClosedAt, a.ClosedBy = at("10:55"), ptr(secretaryID)
	}
	if status == AppointmentCancelled {
		a.UpdatedAt = *at("10:15")
	}
	return a
}

// prescriptionIn builds a prescription (and its result once there is one)
// as the workflow would have left it in status.
func prescriptionIn(status PrescriptionStatus) (*Prescription, *Result) {
	p := &Prescription{ID: rxID, Text: "Complete Blood Count (CBC)", Status: status, PatientID: patientID, DoctorID: doctorID,
		CreatedAt: *at("09:00"), UpdatedAt: *at("09:00")}
	rank := 0
	for i, s := range PrescriptionStatuses {
		if s == status {
			rank = i
		}
	}
	if rank >= 1 {
		p.UpdatedAt = *at("09:10")
	}
	if rank >= 2 {
		p.NurseID, p.SampleCollectedAt = ptr(nurseID), at("10:30")
	}
	if rank >= 3 {
		p.AnalysisStartedAt = at("10:35")
	}
	if rank < 4 {
		return p, nil
	}
	p.AnalysisCompletedAt = at("10:40")
	r := &Result{ID: resultID, PrescriptionID: rxID, Text: "Normal", ValidatedBy: ptr(biologistID), ValidatedAt: at("10:40"),
		CreatedAt: *at("10:40"), UpdatedAt: *at("10:40")}
	if rank >= 5 {
		r.ReviewedBy, r.ReviewedAt, r.Interpretation = ptr(doctorID), at("10:45"), ptr("Rien à signaler")
	}
	return p, r
}

func args(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

type obj2 = map[string]any

func apply(s Reader, name string, role Role, a json.RawMessage) (Effect, error) {
	// As the server applies it: online acts come from the dashboard.
	return Apply(context.Background(), s, Mutation{ID: "m1", Name: name, Args: a, Actor: actorFor(role), OccurredAt: now, Online: Online(name)})
}

// codeOf returns the rejection code of err, "" for success, and fails the
// test for an error that is not a Rejection.
func codeOf(t *testing.T, err error) Code {
	t.Helper()
	if err == nil {
		return ""
	}
	r, ok := AsRejection(err)
	if !ok {
		t.Fatalf("error is not a *Rejection: %v", err)
	}
	return r.Code
}

func mustReject(t *testing.T, eff Effect, err error, code Code, field string) *Rejection {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %s (field %q); effect %+v", code, field, eff)
	}
	r, ok := AsRejection(err)
	if !ok {
		t.Fatalf("error is not a *Rejection: %v", err)
	}
	if r.Code != code || r.Field != field {
		t.Fatalf("got %s field %q (%s), want %s field %q", r.Code, r.Field, r.Message, code, field)
	}
	if len(eff.Ops) != 0 {
		t.Fatalf("rejection came with an effect: %+v", eff)
	}
	return r
}

func mustAccept(t *testing.T, eff Effect, err error) Effect {
	t.Helper()
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	if len(eff.Ops) == 0 {
		t.Fatalf("accepted with no ops")
	}
	for _, op := range eff.Ops {
		if msg := checkOp(op); msg != "" {
			t.Fatalf("bad op %s %s: %s", op.Table, op.ID, msg)
		}
	}
	return eff
}

func describeOutcome(eff Effect, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%+v", eff)
}
