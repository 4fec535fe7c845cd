package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var allNames = []string{
	"appointment.cancel", "appointment.checkIn", "appointment.close", "appointment.completeConsultation",
	"appointment.recordPayment", "appointment.recordVitals", "appointment.schedule", "document.attach",
	"patient.merge", "patient.register", "patient.update", "prescription.collectSample", "prescription.create",
	"prescription.sendToLab", "prescription.startAnalysis", "result.create", "result.review",
}

func TestNames(t *testing.T) {
	if got := Names(); !reflect.DeepEqual(got, allNames) {
		t.Fatalf("Names() = %v", got)
	}
}

func TestAllowedRoles(t *testing.T) {
	want := map[string][]Role{
		"patient.register":                 {S, A},
		"patient.update":                   {S, A, N, D},
		"appointment.schedule":             {S, A},
		"appointment.checkIn":              {S},
		"appointment.recordVitals":         {N},
		"appointment.completeConsultation": {D},
		"prescription.create":              {D},
		"prescription.sendToLab":           {D},
		"prescription.collectSample":       {N},
		"prescription.startAnalysis":       {B},
		"result.create":                    {B},
		"result.review":                    {D},
		"appointment.close":                {S},
		"appointment.recordPayment":        {S},
		"appointment.cancel":               {S, A},
		"document.attach":                  {S, N, D, B},
		"patient.merge":                    {A},
	}
	for _, name := range allNames {
		t.Run(name, func(t *testing.T) {
			got := AllowedRoles(name)
			if !reflect.DeepEqual(got, want[name]) {
				t.Fatalf("AllowedRoles(%s) = %v, want %v", name, got, want[name])
			}
			got[0] = "JANITOR"
			if AllowedRoles(name)[0] == "JANITOR" {
				t.Fatal("AllowedRoles returns the package's own slice")
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if AllowedRoles("appointment.delete") != nil {
			t.Fatal("roles for an unknown act")
		}
	})
}

func TestTargets(t *testing.T) {
	want := map[string]string{
		"patient.register": TablePatients, "patient.update": TablePatients,
		"appointment.schedule": TableAppointments, "appointment.checkIn": TableAppointments,
		"appointment.recordVitals": TableAppointments, "appointment.completeConsultation": TableAppointments,
		"appointment.close": TableAppointments, "appointment.recordPayment": TableAppointments,
		"appointment.cancel": TableAppointments, "prescription.create": TablePrescriptions,
		"prescription.sendToLab": TablePrescriptions, "prescription.collectSample": TablePrescriptions,
		"prescription.startAnalysis": TablePrescriptions, "result.create": TableResults,
		"result.review": TableResults, "document.attach": TableDocuments,
		"patient.merge": TablePatients,
	}
	for _, name := range allNames {
		t.Run(name, func(t *testing.T) {
			_, a, _ := accepting(name)
			table, id, err := Targets(name, args(a))
			wantID := a["id"]
			if name == "patient.merge" {
				wantID = a["survivorId"]
			}
			if err != nil || table != want[name] || id != wantID {
				t.Fatalf("Targets = %q, %q, %v; want %q, %q", table, id, err, want[name], wantID)
			}
		})
	}
	t.Run("unknown act", func(t *testing.T) {
		_, _, err := Targets("x.y", json.RawMessage(`{"id":"`+apptID+`"}`))
		if codeOf(t, err) != CodeUnknownMutation {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad id", func(t *testing.T) {
		_, _, err := Targets("appointment.checkIn", json.RawMessage(`{"id":"x"}`))
		if r, _ := AsRejection(err); r == nil || r.Code != CodeValidationFailed || r.Field != "id" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not an object", func(t *testing.T) {
		_, _, err := Targets("appointment.checkIn", json.RawMessage(`[]`))
		if codeOf(t, err) != CodeValidationFailed {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("extra fields are Apply's business", func(t *testing.T) {
		_, id, err := Targets("appointment.checkIn", json.RawMessage(`{"id":"`+apptID+`","x":1}`))
		if err != nil || id != apptID {
			t.Fatalf("got %q %v", id, err)
		}
	})
}

func TestUnknownMutation(t *testing.T) {
	eff, err := apply(baseStore(), "appointment.delete", A, json.RawMessage(`{}`))
	r := mustReject(t, eff, err, CodeUnknownMutation, "")
	if !strings.HasPrefix(r.Message, `Unknown act "appointment.delete"; this version knows appointment.cancel, `) {
		t.Fatalf("message %q", r.Message)
	}
}

func TestAuthor(t *testing.T) {
	s, a, _ := accepting("appointment.checkIn")
	for name, actor := range map[string]Actor{
		"no id":        {Role: RoleSecretary},
		"unknown role": {ID: secretaryID, Role: "JANITOR"},
		"no role":      {ID: secretaryID},
	} {
		t.Run(name, func(t *testing.T) {
			eff, err := Apply(context.Background(), s, Mutation{Name: "appointment.checkIn", Args: args(a), Actor: actor, OccurredAt: now})
			mustReject(t, eff, err, CodeUnauthenticated, "")
		})
	}
	t.Run("no occurredAt", func(t *testing.T) {
		eff, err := Apply(context.Background(), s, Mutation{Name: "appointment.checkIn", Args: args(a), Actor: actorFor(S)})
		mustReject(t, eff, err, CodeValidationFailed, "occurredAt")
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Apply(ctx, s, Mutation{Name: "appointment.checkIn", Args: args(a), Actor: actorFor(S), OccurredAt: now})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestOccurredAtStamps: clinical time is the ward's, in UTC, to the
// millisecond, whatever zone and precision the client sent.
func TestOccurredAtStamps(t *testing.T) {
	s, a, _ := accepting("appointment.checkIn")
	paris := time.FixedZone("CET", 3600)
	when := time.Date(2026, 1, 5, 12, 0, 0, 123456789, paris)
	eff, err := Apply(context.Background(), s, Mutation{Name: "appointment.checkIn", Args: args(a), Actor: actorFor(S), OccurredAt: when})
	mustAccept(t, eff, err)
	want := time.Date(2026, 1, 5, 11, 0, 0, 123000000, time.UTC)
	for _, col := range []string{"checkedInAt", "updatedAt"} {
		got := eff.Ops[0].Values[col].(time.Time)
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("%s = %v, want %v", col, got, want)
		}
	}
}

// failing is a Reader whose chosen methods fail like a lost connection.
type failing struct {
	*memStore
	fail map[string]bool
}

var errDB = errors.New("connection reset by peer")

func (f failing) User(ctx context.Context, id string) (*User, error) {
	if f.fail["User"] {
		return nil, errDB
	}
	return f.memStore.User(ctx, id)
}

func (f failing) Patient(ctx context.Context, id string) (*Patient, error) {
	if f.fail["Patient"] {
		return nil, errDB
	}
	return f.memStore.Patient(ctx, id)
}

func (f failing) Appointment(ctx context.Context, id string) (*Appointment, error) {
	if f.fail["Appointment"] {
		return nil, errDB
	}
	return f.memStore.Appointment(ctx, id)
}

func (f failing) Prescription(ctx context.Context, id string) (*Prescription, error) {
	if f.fail["Prescription"] {
		return nil, errDB
	}
	return f.memStore.Prescription(ctx, id)
}

func (f failing) Result(ctx context.Context, id string) (*Result, error) {
	if f.fail["Result"] {
		return nil, errDB
	}
	return f.memStore.Result(ctx, id)
}

func (f failing) ResultByPrescription(ctx context.Context, id string) (*Result, error) {
	if f.fail["ResultByPrescription"] {
		return nil, errDB
	}
	return f.memStore.ResultByPrescription(ctx, id)
}

func (f failing) Document(ctx context.Context, id string) (*Document, error) {
	if f.fail["Document"] {
		return nil, errDB
	}
	return f.memStore.Document(ctx, id)
}

var readerMethods = []string{"User", "Patient", "Appointment", "Prescription", "Result", "ResultByPrescription", "Document"}

// TestInfrastructureErrors: a Reader failure is never turned into a
// rejection (which would be final); it comes back for the caller to retry.
func TestInfrastructureErrors(t *testing.T) {
	for _, name := range allNames {
		t.Run(name+"/every read fails", func(t *testing.T) {
			s, a, role := accepting(name)
			all := map[string]bool{}
			for _, m := range readerMethods {
				all[m] = true
			}
			eff, err := apply(failing{s, all}, name, role, args(a))
			if !errors.Is(err, errDB) {
				t.Fatalf("got %v, want the reader's error", err)
			}
			if _, isRej := AsRejection(err); isRej || len(eff.Ops) != 0 {
				t.Fatalf("got rejection or effect: %v %+v", err, eff)
			}
		})
		// Each single failing method: either the act does not read through
		// it (and succeeds) or the error comes back unchanged.
		for _, m := range readerMethods {
			t.Run(name+"/"+m+" fails", func(t *testing.T) {
				s, a, role := accepting(name)
				_, err := apply(failing{s, map[string]bool{m: true}}, name, role, args(a))
				if err != nil && !errors.Is(err, errDB) {
					t.Fatalf("got %v", err)
				}
			})
		}
	}
	t.Run("user name in a refusal", func(t *testing.T) {
		s := baseStore()
		s.put(TableAppointments, fixtureAppointment(AppointmentInConsultation))
		_, err := apply(failing{s, map[string]bool{"User": true}}, "appointment.recordVitals", N,
			args(obj2{"id": apptID, "vitals": json.RawMessage(seedVitals)}))
		if !errors.Is(err, errDB) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("existing result lookup", func(t *testing.T) {
		s, a, _ := accepting("result.create")
		_, err := apply(failing{s, map[string]bool{"ResultByPrescription": true}}, "result.create", B, args(a))
		if !errors.Is(err, errDB) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrapped not found is not found", func(t *testing.T) {
		// memStore wraps ErrNotFound with context, as adapters may.
		_, err := apply(baseStore(), "appointment.checkIn", S, args(obj2{"id": missingID}))
		if codeOf(t, err) != CodeNotFound {
			t.Fatalf("got %v", err)
		}
	})
}

// nilReader returns (nil, nil) for everything: no row, no error.
type nilReader struct{}

func (nilReader) User(context.Context, string) (*User, error)                 { return nil, nil }
func (nilReader) Patient(context.Context, string) (*Patient, error)           { return nil, nil }
func (nilReader) Appointment(context.Context, string) (*Appointment, error)   { return nil, nil }
func (nilReader) Prescription(context.Context, string) (*Prescription, error) { return nil, nil }
func (nilReader) Result(context.Context, string) (*Result, error)             { return nil, nil }
func (nilReader) ResultByPrescription(context.Context, string) (*Result, error) {
	return nil, nil
}
func (nilReader) Document(context.Context, string) (*Document, error) { return nil, nil }
func (nilReader) PatientRecords(context.Context, string) (*PatientRecords, error) {
	return nil, nil
}

func TestNilRowIsNotFound(t *testing.T) {
	eff, err := apply(nilReader{}, "appointment.checkIn", S, args(obj2{"id": apptID}))
	r := mustReject(t, eff, err, CodeNotFound, "id")
	if r.Message != "Appointment "+apptID+" was not found." {
		t.Fatalf("message %q", r.Message)
	}
	eff, err = apply(nilReader{}, "appointment.schedule", S, args(obj2{"id": freshID, "patientId": patientID, "doctorId": doctorID, "date": "2026-01-06T09:30:00Z", "motif": "x"}))
	mustReject(t, eff, err, CodeNotFound, "patientId")
}

func TestRecordPayment(t *testing.T) {
	cases := []struct {
		current *BillingStatus
		target  BillingStatus
		code    Code
		msg     string
	}{
		{ptr(BillingPending), BillingPartiallyPaid, "", ""},
		{ptr(BillingPending), BillingPaid, "", ""},
		{ptr(BillingPartiallyPaid), BillingPartiallyPaid, "", ""},
		{ptr(BillingPartiallyPaid), BillingPaid, "", ""},
		{nil, BillingPaid, "", ""},
		{ptr(BillingPending), BillingPending, CodeInvalidTransition,
			"The bill of appointment " + apptID + " is PENDING; a payment can only move it to PARTIALLY_PAID or PAID, not PENDING."},
		{ptr(BillingPartiallyPaid), BillingPending, CodeInvalidTransition,
			"The bill of appointment " + apptID + " is PARTIALLY_PAID; a payment can only move it to PARTIALLY_PAID or PAID, not PENDING."},
		{ptr(BillingPaid), BillingPaid, CodeInvalidTransition, "The bill of appointment " + apptID + " is already PAID; no further payment can be recorded."},
		{ptr(BillingPaid), BillingPartiallyPaid, CodeInvalidTransition, ""},
		{ptr(BillingPaid), BillingPending, CodeInvalidTransition, ""},
	}
	for _, c := range cases {
		cur := "nil"
		if c.current != nil {
			cur = string(*c.current)
		}
		t.Run(cur+"->"+string(c.target), func(t *testing.T) {
			s := baseStore()
			a := fixtureAppointment(AppointmentCompleted)
			a.BillingStatus = c.current
			s.put(TableAppointments, a)
			eff, err := apply(s, "appointment.recordPayment", S, args(obj2{"id": apptID, "billingStatus": c.target}))
			if c.code == "" {
				eff = mustAccept(t, eff, err)
				if got := eff.Ops[0].Values["billingStatus"]; got != string(c.target) {
					t.Fatalf("billingStatus %v", got)
				}
				return
			}
			r := mustReject(t, eff, err, c.code, "")
			if c.msg != "" && r.Message != c.msg {
				t.Fatalf("message %q", r.Message)
			}
		})
	}
}

func TestRulesBeyondState(t *testing.T) {
	t.Run("second result for a prescription", func(t *testing.T) {
		s, a, _ := accepting("result.create")
		s.put(TableResults, &Result{ID: resultID, PrescriptionID: rxID, Text: "old", CreatedAt: day0, UpdatedAt: day0})
		eff, err := apply(s, "result.create", B, args(a))
		r := mustReject(t, eff, err, CodeInvalidTransition, "")
		if r.Message != "Prescription "+rxID+" already has a result ("+resultID+"); a prescription has only one." {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("result id taken", func(t *testing.T) {
		s, a, _ := accepting("result.create")
		a["id"] = resultID
		s.put(TableResults, &Result{ID: resultID, PrescriptionID: patient2ID, Text: "other", CreatedAt: day0, UpdatedAt: day0})
		eff, err := apply(s, "result.create", B, args(a))
		mustReject(t, eff, err, CodeDuplicateID, "id")
	})
	t.Run("result of unknown prescription", func(t *testing.T) {
		s, a, _ := accepting("result.create")
		a["prescriptionId"] = missingID
		eff, err := apply(s, "result.create", B, args(a))
		mustReject(t, eff, err, CodeNotFound, "prescriptionId")
	})
	t.Run("review of unknown result", func(t *testing.T) {
		s, a, _ := accepting("result.review")
		a["id"] = missingID
		eff, err := apply(s, "result.review", D, args(a))
		r := mustReject(t, eff, err, CodeNotFound, "id")
		if r.Message != "Result "+missingID+" was not found." {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("review without interpretation", func(t *testing.T) {
		s, a, _ := accepting("result.review")
		delete(a, "interpretation")
		eff, err := apply(s, "result.review", D, args(a))
		eff = mustAccept(t, eff, err)
		if _, ok := eff.Ops[0].Values["interpretation"]; ok {
			t.Fatal("interpretation written though not given")
		}
	})
	t.Run("prescription in another doctor's name", func(t *testing.T) {
		s, a, _ := accepting("prescription.create")
		a["doctorId"] = doctor2ID
		eff, err := apply(s, "prescription.create", D, args(a))
		mustReject(t, eff, err, CodeForbidden, "doctorId")
	})
	t.Run("prescription for unknown patient", func(t *testing.T) {
		s, a, _ := accepting("prescription.create")
		a["patientId"] = missingID
		eff, err := apply(s, "prescription.create", D, args(a))
		mustReject(t, eff, err, CodeNotFound, "patientId")
	})
	t.Run("appointment with unknown user", func(t *testing.T) {
		s, a, _ := accepting("appointment.schedule")
		a["doctorId"] = missingID
		eff, err := apply(s, "appointment.schedule", S, args(a))
		r := mustReject(t, eff, err, CodeValidationFailed, "doctorId")
		if r.Message != "No user with id "+missingID+" exists; choose the doctor from the list." {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("appointment with an administrator", func(t *testing.T) {
		s, a, _ := accepting("appointment.schedule")
		a["doctorId"] = adminID
		eff, err := apply(s, "appointment.schedule", A, args(a))
		r := mustReject(t, eff, err, CodeValidationFailed, "doctorId")
		if r.Message != "Admin Test (user "+adminID+") is an ADMIN, not a DOCTOR; an appointment is with a doctor." {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("empty patch", func(t *testing.T) {
		eff, err := apply(baseStore(), "patient.update", S, args(obj2{"id": patientID}))
		r := mustReject(t, eff, err, CodeValidationFailed, "")
		if r.Message != "Nothing to change: give at least one field besides the id." {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("patch mixing fields", func(t *testing.T) {
		eff, err := apply(baseStore(), "patient.update", N, args(obj2{"id": patientID, "medicalHistory": obj2{}, "address": "x"}))
		r := mustReject(t, eff, err, CodeForbidden, "address")
		if r.Message != "A NURSE cannot set the patient's address; reception (SECRETARY) or an administrator (ADMIN) does that." {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("rights before values", func(t *testing.T) {
		eff, err := apply(baseStore(), "patient.update", D, args(obj2{"id": patientID, "phone": 7}))
		mustReject(t, eff, err, CodeForbidden, "phone")
	})
	t.Run("medical history by a doctor", func(t *testing.T) {
		eff, err := apply(baseStore(), "patient.update", D, args(obj2{"id": patientID, "medicalHistory": []any{"asthme", obj2{"b": 1, "a": 2}}}))
		eff = mustAccept(t, eff, err)
		if got := string(eff.Ops[0].Values["medicalHistory"].(json.RawMessage)); got != `["asthme",{"a":2,"b":1}]` {
			t.Fatalf("medicalHistory %s", got)
		}
	})
	t.Run("medical history cleared", func(t *testing.T) {
		eff, err := apply(baseStore(), "patient.update", N, json.RawMessage(`{"id":"`+patientID+`","medicalHistory":null}`))
		eff = mustAccept(t, eff, err)
		if v, ok := eff.Ops[0].Values["medicalHistory"]; !ok || v != nil {
			t.Fatalf("medicalHistory %v %v", v, ok)
		}
	})
	t.Run("medical history as text by a nurse", func(t *testing.T) {
		eff, err := apply(baseStore(), "patient.update", N, args(obj2{"id": patientID, "medicalHistory": "asthme"}))
		mustReject(t, eff, err, CodeValidationFailed, "medicalHistory")
	})
	t.Run("medical history at registration", func(t *testing.T) {
		// Reception may not write what it may not read; the nurse adds the
		// history with patient.update at the first visit.
		s, a, _ := accepting("patient.register")
		a["medicalHistory"] = obj2{"allergies": []string{}}
		eff, err := apply(s, "patient.register", S, args(a))
		mustReject(t, eff, err, CodeForbidden, "medicalHistory")
	})
	t.Run("vitals dated yesterday", func(t *testing.T) {
		s := baseStore()
		a := fixtureAppointment(AppointmentInConsultation)
		a.VitalsEnteredAt = ptr(a.VitalsEnteredAt.Add(-24 * time.Hour))
		s.put(TableAppointments, a)
		eff, err := apply(s, "appointment.cancel", S, args(obj2{"id": apptID}))
		r := mustReject(t, eff, err, CodeInvalidTransition, "")
		if r.Message != "Appointment "+apptID+" is IN_CONSULTATION (vitals entered by Infirmier Test at 10:42 on 2026-01-04), not SCHEDULED or CHECKED_IN." {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("unknown user falls back to id", func(t *testing.T) {
		s := baseStore()
		a := fixtureAppointment(AppointmentInConsultation)
		a.VitalsEnteredBy = ptr(missingID)
		s.put(TableAppointments, a)
		eff, err := apply(s, "appointment.recordVitals", N, args(obj2{"id": apptID, "vitals": json.RawMessage(seedVitals)}))
		r := mustReject(t, eff, err, CodeInvalidTransition, "")
		if !strings.Contains(r.Message, "(vitals entered by "+missingID+" at 10:42)") {
			t.Fatalf("message %q", r.Message)
		}
	})
	t.Run("vitals stored canonically", func(t *testing.T) {
		eff, err := run(t, "appointment.recordVitals", map[string]any{"vitals": json.RawMessage(`{"oxygenSaturation":null,"heartRate":72,"bloodPressure":{"systolic":120,"diastolic":80},"temperature":37,"height":170,"weight":70,"respiratoryRate":16}`)})
		eff = mustAccept(t, eff, err)
		want := `{"weight":70,"height":170,"temperature":37,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72,"respiratoryRate":16}`
		if got := string(eff.Ops[0].Values["vitals"].(json.RawMessage)); got != want {
			t.Fatalf("vitals %s", got)
		}
	})
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"123e4567-e89b-12d3-a456-426614174000":  true,
		"123E4567-E89B-12D3-A456-426614174000":  false,
		"00000000-0000-0000-0000-000000000000":  false,
		"123e4567e89b12d3a456426614174000":      false,
		"123e4567-e89b-12d3-a456-42661417400":   false,
		"123e4567-e89b-12d3-a456-4266141740000": false,
		"123e4567-e89b-12d3-a456_426614174000":  false,
		"":                                      false,
	} {
		if IsUUID(s) != want {
			t.Errorf("IsUUID(%q) != %v", s, want)
		}
	}
}

func TestEnums(t *testing.T) {
	for _, s := range AppointmentStatuses {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	for _, s := range PrescriptionStatuses {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	for _, s := range BillingStatuses {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if AppointmentStatus("DONE").Valid() || PrescriptionStatus("DONE").Valid() || BillingStatus("DONE").Valid() {
		t.Error("unknown status valid")
	}
}
