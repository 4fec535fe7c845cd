package workflow

import (
	"slices"
	"testing"
)

// Every argument of every act maps to a column (or is a bookkeeping
// argument), so that the audit log's redaction never has to guess; and an
// argument is readable exactly when its column is.
func TestEveryArgHasAColumn(t *testing.T) {
	for _, name := range Names() {
		for _, arg := range acts[name].args {
			table, column, ok := ArgColumn(name, arg)
			if !ok {
				t.Errorf("%s.%s maps to no column", name, arg)
				continue
			}
			for _, role := range Roles {
				if got, want := CanReadArg(role, name, arg), slices.Contains(VisibleColumns([]Role{role}, table), column); got != want {
					t.Errorf("%s may read %s.%s: %v, but %s.%s: %v", role, name, arg, got, table, column, want)
				}
			}
		}
	}
}

func TestRedactArgs(t *testing.T) {
	got := RedactArgs(RoleAdmin, "appointment.completeConsultation", map[string]any{"id": "a1", "consultationNotes": "angina", "junk": 1})
	want := map[string]any{
		"id":                "a1",
		"consultationNotes": "hidden (role ADMIN may not read appointments.consultationNotes)",
		"junk":              `hidden (role ADMIN may not read "junk", which is no column of "appointment.completeConsultation")`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
	if got := RedactArgs(RoleDoctor, "appointment.completeConsultation", map[string]any{"consultationNotes": "angina"}); got["consultationNotes"] != "angina" {
		t.Errorf("the doctor's own notes hidden from a DOCTOR: %v", got)
	}
	if got := RedactArgs(RoleAdmin, "no.such", map[string]any{"id": "x"}); got["id"] == "x" {
		t.Errorf("an unknown act's argument shown: %v", got)
	}
	if got := RedactArgs(RoleAdmin, CloseRejected, map[string]any{"id": "m1", "reason": "typo"}); got["reason"] != "typo" {
		t.Errorf("rejected.close's reason hidden from ADMIN: %v", got)
	}
}

func TestRedactMessage(t *testing.T) {
	msg := "Temperature 51.5 °C is above 45 °C."
	if got := RedactMessage(RoleAdmin, "appointment.recordVitals", "vitals.temperature", msg); got != "hidden (role ADMIN may not read appointments.vitals)" {
		t.Errorf("ADMIN: %q", got)
	}
	if got := RedactMessage(RoleNurse, "appointment.recordVitals", "vitals.temperature", msg); got != msg {
		t.Errorf("NURSE: %q", got)
	}
	if got := RedactMessage(RoleAdmin, "appointment.checkIn", "", "appointment x is CANCELLED"); got != "appointment x is CANCELLED" {
		t.Errorf("no field: %q", got)
	}
}
