package desktop

import (
	"encoding/json"
	"strings"
	"testing"

	"wardsync/desktop/sqlite"
	"wardsync/workflow"
)

// MarshalFor leaves out the columns a role may not read (absent, not
// empty), and cuts act arguments and the sentences quoting them; ForRole
// zeroes the same fields in place.
func TestMarshalForAndForRole(t *testing.T) {
	notes, hist := "angina", "asthma"
	amount := workflow.Decimal("45.00")
	appt := sqlite.AppointmentView{Appointment: workflow.Appointment{ID: "a1", Motif: "check", ConsultationNotes: &notes,
		MedicalHistoryNotes: &hist, BillingAmount: &amount, Vitals: json.RawMessage(`{"temperature":51.5}`)}, PatientFirstName: "Amélie"}
	rej := sqlite.RejectedAct{QueuedAct: sqlite.QueuedAct{ID: "m1", Name: "appointment.recordVitals", Args: json.RawMessage(`{"id":"a1","vitals":{"temperature":51.5}}`)},
		Rejection: workflow.Rejection{Code: workflow.CodeValidationFailed, Field: "vitals.temperature", Message: "Temperature 51.5 °C is above 45 °C."}}

	for _, tc := range []struct {
		role         workflow.Role
		want, absent []string
	}{
		{workflow.RoleNurse, []string{`"medicalHistoryNotes":"asthma"`, `"temperature":51.5`, `"patientFirstName":"Amélie"`},
			[]string{"consultationNotes", "billingAmount", "angina"}},
		{workflow.RoleDoctor, []string{`"consultationNotes":"angina"`}, []string{"billingAmount"}},
		{workflow.RoleSecretary, []string{`"billingAmount":"45.00"`, `"motif":"check"`}, []string{"consultationNotes", "medicalHistoryNotes", `"vitals"`, "51.5"}},
	} {
		b, err := MarshalFor(tc.role, appt)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: %s lacks %s", tc.role, b, w)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(string(b), a) {
				t.Errorf("%s: %s shows %s", tc.role, b, a)
			}
		}
	}

	b, _ := MarshalFor(workflow.RoleSecretary, rej)
	hidden := "hidden (role SECRETARY may not read appointments.vitals)"
	if strings.Contains(string(b), "51.5") || strings.Count(string(b), hidden) != 2 || !strings.Contains(string(b), `"field":"vitals.temperature"`) {
		t.Errorf("a rejected act of vitals for a SECRETARY: %s", b)
	}
	if b, _ := MarshalFor(workflow.RoleNurse, rej); !strings.Contains(string(b), "Temperature 51.5 °C is above 45 °C.") {
		t.Errorf("the nurse's own rejected vitals: %s", b)
	}

	list := []sqlite.RejectedAct{rej}
	ForRole(workflow.RoleSecretary, &list)
	if strings.Contains(string(list[0].Args), "51.5") || list[0].Rejection.Message != hidden {
		t.Errorf("ForRole left %s / %q", list[0].Args, list[0].Rejection.Message)
	}
	ForRole(workflow.RoleNurse, &appt)
	if appt.ConsultationNotes != nil || appt.BillingAmount != nil || appt.MedicalHistoryNotes == nil {
		t.Errorf("ForRole(NURSE) left %+v", appt.Appointment)
	}
}
