package station

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"wardsync/desktop"
	"wardsync/workflow"
)

// step is one act of the workflow as a ward performs it.
type step struct {
	role workflow.Role
	name string
	args map[string]any
}

const (
	sec = workflow.RoleSecretary
	nur = workflow.RoleNurse
	doc = workflow.RoleDoctor
	bio = workflow.RoleBiologist
	adm = workflow.RoleAdmin
)

var wardRoles = []workflow.Role{sec, nur, doc, bio}

func vitals(temp float64, systolic int) map[string]any {
	return map[string]any{
		"weight": 72.5, "height": 178, "temperature": temp,
		"bloodPressure": map[string]any{"systolic": systolic, "diastolic": 82},
		"heartRate":     70, "oxygenSaturation": 98,
	}
}

// patientCycle is the 13 acts that take one new patient through the whole
// workflow of DESIGN §3: registration, appointment (schedule, check-in,
// vitals, consultation, close, payment) and a prescription through the lab
// (create, send, sample, analysis, result, review).
func patientCycle(tag string, at time.Time) []step {
	P, A, RX, R := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	return []step{
		{sec, "patient.register", map[string]any{"id": P, "firstName": "Patient", "lastName": tag,
			"birthDate": "1980-01-02T00:00:00Z", "sex": "F", "phone": "+33 1 00 00 00 00", "consentMedicalData": true}},
		{sec, "appointment.schedule", map[string]any{"id": A, "patientId": P, "doctorId": seedUser[doc],
			"date": at.Add(time.Hour).UTC().Format(time.RFC3339), "motif": "Suivi " + tag}},
		{sec, "appointment.checkIn", map[string]any{"id": A}},
		{nur, "appointment.recordVitals", map[string]any{"id": A, "vitals": vitals(37.2, 125), "medicalHistoryNotes": "RAS " + tag}},
		{doc, "appointment.completeConsultation", map[string]any{"id": A, "consultationNotes": "Bilan " + tag}},
		{doc, "prescription.create", map[string]any{"id": RX, "patientId": P, "text": "NFS " + tag}},
		{doc, "prescription.sendToLab", map[string]any{"id": RX}},
		{nur, "prescription.collectSample", map[string]any{"id": RX}},
		{bio, "prescription.startAnalysis", map[string]any{"id": RX}},
		{bio, "result.create", map[string]any{"id": R, "prescriptionId": RX, "text": "Hb 13.5 " + tag, "data": map[string]any{"Hb": 13.5}}},
		{doc, "result.review", map[string]any{"id": R, "interpretation": "Normal."}},
		{sec, "appointment.close", map[string]any{"id": A, "billingAmount": "120.50", "billingStatus": "PENDING"}},
		{sec, "appointment.recordPayment", map[string]any{"id": A, "billingStatus": "PAID"}},
	}
}

// wardScript interleaves patient cycles the way a ward works several
// patients at once (round robin, each patient's acts in order) and keeps
// the first n acts; every patient's acts taken are a prefix of its cycle.
func wardScript(prefix string, n int, at time.Time) []step {
	const perCycle = 13
	cycles := make([][]step, (n+perCycle-1)/perCycle)
	for i := range cycles {
		cycles[i] = patientCycle(fmt.Sprintf("%s-%03d", prefix, i), at)
	}
	out := make([]step, 0, n)
	for j := 0; j < perCycle && len(out) < n; j++ {
		for _, c := range cycles {
			if len(out) == n {
				break
			}
			out = append(out, c[j])
		}
	}
	return out
}

// perform runs the script on a station; it returns the acts as queued.
func (s *station) perform(script []step) ([]*desktop.Acted, error) {
	out := make([]*desktop.Acted, 0, len(script))
	for i, st := range script {
		uid, ok := s.users[st.role]
		if !ok {
			return out, fmt.Errorf("%s: nobody logged in as %s", s.device, st.role)
		}
		a, err := s.e.Act(context.Background(), uid, st.name, mustJSON(st.args))
		if err != nil {
			return out, fmt.Errorf("%s: act %d (%s as %s): %w", s.device, i, st.name, st.role, err)
		}
		out = append(out, a)
	}
	return out, nil
}
