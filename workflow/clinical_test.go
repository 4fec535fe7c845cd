package workflow

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestClinicalShapes: the documented shapes of patients.medicalHistory and
// results.data (docs/clinical-data.md) are refused, with the field and
// the sentence, when a documented key is wrong; other keys (rows written
// before the shape) pass as they are.
func TestClinicalShapes(t *testing.T) {
	history := func(h any) (Effect, error) {
		return apply(baseStore(), "patient.update", N, args(obj2{"id": patientID, "medicalHistory": h}))
	}
	lab := func(data any) (Effect, error) {
		s := baseStore()
		p, _ := prescriptionIn(PrescriptionInProgress)
		s.put(TablePrescriptions, p)
		return apply(s, "result.create", B, args(obj2{"id": freshID, "prescriptionId": rxID, "text": "CRP élevée", "data": data}))
	}
	t.Run("accepted", func(t *testing.T) {
		ok := func(eff Effect, err error) { t.Helper(); mustAccept(t, eff, err) }
		ok(history(obj2{"allergies": []string{"pénicilline"}, "conditions": []string{"asthme"}, "medications": []string{"salbutamol 100 µg"}}))
		ok(history(obj2{"note": "free text written before the shape"}))
		ok(history([]string{"asthme"}))
		ok(lab(obj2{"rows": []obj2{{"test": "CRP", "value": "85", "unit": "mg/L", "range": "< 5", "abnormal": true}, {"test": "Na", "value": "140"}}}))
		ok(lab(obj2{"TSH": 2.1}))
	})
	cases := []struct {
		name  string
		run   func() (Effect, error)
		field string
		msg   string
	}{
		{"allergies as text", func() (Effect, error) { return history(obj2{"allergies": "penicillin"}) },
			"medicalHistory.allergies", "Allergies must be a list, not text."},
		{"condition as number", func() (Effect, error) { return history(obj2{"conditions": []any{"asthme", 3}}) },
			"medicalHistory.conditions.1", "Condition 2 must be text, not a number."},
		{"empty medication", func() (Effect, error) { return history(obj2{"medications": []string{"  "}}) },
			"medicalHistory.medications.0", "Medication 1 must not be empty."},
		{"allergy too long", func() (Effect, error) { return history(obj2{"allergies": []string{strings.Repeat("a", 201)}}) },
			"medicalHistory.allergies.0", "Allergy 1 must be at most 200 characters long (got 201)."},
		{"too many conditions", func() (Effect, error) { return history(obj2{"conditions": make([]string, 101)}) },
			"medicalHistory.conditions", "Conditions hold at most 100 entries (got 101)."},
		{"rows as object", func() (Effect, error) { return lab(obj2{"rows": obj2{"CRP": 85}}) },
			"data.rows", "The rows of measured values must be a list, not an object."},
		{"row as text", func() (Effect, error) { return lab(obj2{"rows": []any{"CRP: 85 mg/L"}}) },
			"data.rows.0", "Row 1 of the measured values must be an object, not text."},
		{"row without value", func() (Effect, error) {
			return lab(obj2{"rows": []obj2{{"test": "CRP", "value": "85"}, {"test": "Na"}}})
		},
			"data.rows.1.value", "The value of row 2 must be given."},
		{"value as number", func() (Effect, error) { return lab(obj2{"rows": []obj2{{"test": "CRP", "value": 85}}}) },
			"data.rows.0.value", "The value of row 1 must be text, not a number."},
		{"empty test", func() (Effect, error) { return lab(obj2{"rows": []obj2{{"test": "", "value": "85"}}}) },
			"data.rows.0.test", "The test name of row 1 must not be empty."},
		{"abnormal as text", func() (Effect, error) {
			return lab(obj2{"rows": []obj2{{"test": "CRP", "value": "85", "abnormal": "yes"}}})
		},
			"data.rows.0.abnormal", "The abnormal flag of row 1 must be true or false, not text."},
		{"unknown row key", func() (Effect, error) { return lab(obj2{"rows": []obj2{{"test": "CRP", "value": "85", "flag": "H"}}}) },
			"data.rows.0.flag", `The field "data.rows.0.flag" is not known here; check the spelling.`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eff, err := c.run()
			r := mustReject(t, eff, err, CodeValidationFailed, c.field)
			if r.Message != c.msg {
				t.Fatalf("message %q, want %q", r.Message, c.msg)
			}
		})
	}
}

// TestAbnormalVitals: the normal ranges flag a 38.4 °C fever, and only
// the measures outside them.
func TestAbnormalVitals(t *testing.T) {
	spo2 := 91.0
	v := VitalsData{Weight: 70, Height: 170, Temperature: 38.4, BloodPressure: BloodPressure{Systolic: 120, Diastolic: 80}, HeartRate: 72, OxygenSaturation: &spo2}
	got := AbnormalVitals(v)
	want := []string{"Temperature 38.4 °C is above the usual 37.5 °C.", "Oxygen saturation 91 % is below the usual 94 %."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	v.Temperature, v.OxygenSaturation = 37, nil
	if got := AbnormalVitals(v); len(got) != 0 {
		t.Fatalf("normal vitals flagged: %q", got)
	}
}

func TestLabAbnormal(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"rows":[{"test":"Na","value":"140"},{"test":"CRP","value":"85","abnormal":true}]}`: true,
		`{"rows":[{"test":"Na","value":"140","abnormal":false}]}`:                            false,
		`{"TSH":2.1}`: false,
		`not json`:    false,
	} {
		if got := LabAbnormal(json.RawMessage(raw)); got != want {
			t.Errorf("LabAbnormal(%s) = %v, want %v", raw, got, want)
		}
	}
}
