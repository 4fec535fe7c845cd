package workflow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// accepting returns, for an act, a store and arguments it accepts and the
// role that performs it; tests then spoil one argument at a time.
func accepting(name string) (*memStore, obj2, Role) {
	s := baseStore()
	withAppt := func(st AppointmentStatus) { s.put(TableAppointments, fixtureAppointment(st)) }
	withRx := func(st PrescriptionStatus) {
		p, r := prescriptionIn(st)
		s.put(TablePrescriptions, p)
		if r != nil {
			s.put(TableResults, r)
		}
	}
	switch name {
	case "patient.register":
		return s, obj2{"id": freshID, "firstName": "Marie", "lastName": "Curie", "birthDate": "1967-11-07T00:00:00Z"}, S
	case "patient.update":
		return s, obj2{"id": patientID, "phone": "0600000000"}, S
	case "appointment.schedule":
		return s, obj2{"id": freshID, "patientId": patientID, "doctorId": doctorID, "date": "2026-01-06T09:30:00Z", "motif": "Suivi"}, S
	case "appointment.checkIn":
		withAppt(AppointmentScheduled)
		return s, obj2{"id": apptID}, S
	case "appointment.recordVitals":
		withAppt(AppointmentCheckedIn)
		return s, obj2{"id": apptID, "vitals": json.RawMessage(seedVitals)}, N
	case "appointment.completeConsultation":
		withAppt(AppointmentInConsultation)
		return s, obj2{"id": apptID, "consultationNotes": "Examen normal."}, D
	case "appointment.close":
		withAppt(AppointmentConsultationCompleted)
		return s, obj2{"id": apptID, "billingAmount": "25.00", "billingStatus": "PENDING"}, S
	case "appointment.recordPayment":
		withAppt(AppointmentCompleted)
		return s, obj2{"id": apptID, "billingStatus": "PAID"}, S
	case "appointment.cancel":
		withAppt(AppointmentCheckedIn)
		return s, obj2{"id": apptID}, A
	case "prescription.create":
		return s, obj2{"id": freshID, "patientId": patientID, "text": "NFS"}, D
	case "prescription.sendToLab":
		withRx(PrescriptionCreated)
		return s, obj2{"id": rxID}, D
	case "prescription.collectSample":
		withRx(PrescriptionSentToLab)
		return s, obj2{"id": rxID}, N
	case "prescription.startAnalysis":
		withRx(PrescriptionSampleCollected)
		return s, obj2{"id": rxID}, B
	case "result.create":
		withRx(PrescriptionInProgress)
		return s, obj2{"id": freshID, "prescriptionId": rxID, "text": "Hb 14 g/dL"}, B
	case "result.review":
		withRx(PrescriptionResultsAvailable)
		return s, obj2{"id": resultID, "interpretation": "Normal."}, D
	case "document.attach":
		withRx(PrescriptionResultsAvailable)
		return s, obj2{"id": freshID, "patientId": patientID, "name": "radio.png", "type": "radio", "url": "files/radio.png"}, S
	case "patient.merge":
		return s, obj2{"survivorId": patientID, "loserId": patient2ID}, A
	}
	panic("no accepting case for " + name)
}

func TestAcceptingCasesAccept(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			s, a, role := accepting(name)
			eff, err := apply(s, name, role, args(a))
			mustAccept(t, eff, err)
		})
	}
}

// setPath sets a dotted path in a (nested) argument map, decoding
// json.RawMessage objects on the way.
func setPath(a obj2, path string, v any) {
	head, rest, nested := strings.Cut(path, ".")
	if !nested {
		if v == nil {
			delete(a, head)
		} else {
			a[head] = v
		}
		return
	}
	var sub obj2
	switch x := a[head].(type) {
	case obj2:
		sub = x
	case json.RawMessage:
		if err := json.Unmarshal(x, &sub); err != nil {
			panic(err)
		}
	default:
		panic("no object at " + head)
	}
	setPath(sub, rest, v)
	a[head] = sub
}

type remove struct{}

func run(t *testing.T, act string, edit map[string]any) (Effect, error) {
	t.Helper()
	s, a, role := accepting(act)
	for p, v := range edit {
		if _, ok := v.(remove); ok {
			setPath(a, p, nil)
		} else {
			setPath(a, p, v)
		}
	}
	return apply(s, act, role, args(a))
}

func TestVitalsBounds(t *testing.T) {
	n := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		path, value string
		extra       map[string]any
		ok          bool
		msg         string
	}{
		{path: "temperature", value: "29.9", msg: "Temperature 29.9 °C is below 30 °C."},
		{path: "temperature", value: "30", ok: true},
		{path: "temperature", value: "45", ok: true},
		{path: "temperature", value: "45.1", msg: "Temperature 45.1 °C is above 45 °C."},
		{path: "temperature", value: "46", msg: "Temperature 46 °C is above 45 °C."},
		{path: "bloodPressure.systolic", value: "49", extra: map[string]any{"vitals.bloodPressure.diastolic": n("40")}, msg: "Systolic blood pressure 49 mmHg is below 50 mmHg."},
		{path: "bloodPressure.systolic", value: "50", extra: map[string]any{"vitals.bloodPressure.diastolic": n("40")}, ok: true},
		{path: "bloodPressure.systolic", value: "250", ok: true},
		{path: "bloodPressure.systolic", value: "251", msg: "Systolic blood pressure 251 mmHg is above 250 mmHg."},
		{path: "bloodPressure.diastolic", value: "29", msg: "Diastolic blood pressure 29 mmHg is below 30 mmHg."},
		{path: "bloodPressure.diastolic", value: "30", ok: true},
		{path: "bloodPressure.diastolic", value: "150", extra: map[string]any{"vitals.bloodPressure.systolic": n("200")}, ok: true},
		{path: "bloodPressure.diastolic", value: "151", extra: map[string]any{"vitals.bloodPressure.systolic": n("200")}, msg: "Diastolic blood pressure 151 mmHg is above 150 mmHg."},
		{path: "bloodPressure.diastolic", value: "120", msg: "Diastolic blood pressure 120 mmHg must be lower than systolic blood pressure 120 mmHg."},
		{path: "heartRate", value: "29", msg: "Heart rate 29 bpm is below 30 bpm."},
		{path: "heartRate", value: "30", ok: true},
		{path: "heartRate", value: "220", ok: true},
		{path: "heartRate", value: "221", msg: "Heart rate 221 bpm is above 220 bpm."},
		{path: "respiratoryRate", value: "4", msg: "Respiratory rate 4 breaths/min is below 5 breaths/min."},
		{path: "respiratoryRate", value: "5", ok: true},
		{path: "respiratoryRate", value: "60", ok: true},
		{path: "respiratoryRate", value: "61", msg: "Respiratory rate 61 breaths/min is above 60 breaths/min."},
		{path: "respiratoryRate", value: "null", ok: true},
		{path: "oxygenSaturation", value: "69", msg: "Oxygen saturation 69 % is below 70 %."},
		{path: "oxygenSaturation", value: "70", ok: true},
		{path: "oxygenSaturation", value: "100", ok: true},
		{path: "oxygenSaturation", value: "101", msg: "Oxygen saturation 101 % is above 100 %."},
		{path: "weight", value: "0", msg: "Weight 0 kg must be above 0 kg."},
		{path: "weight", value: "-1", msg: "Weight -1 kg must be above 0 kg."},
		{path: "weight", value: "0.1", ok: true},
		{path: "weight", value: "500", ok: true},
		{path: "weight", value: "500.1", msg: "Weight 500.1 kg is above 500 kg."},
		{path: "height", value: "0", msg: "Height 0 cm must be above 0 cm."},
		{path: "height", value: "0.1", ok: true},
		{path: "height", value: "300", ok: true},
		{path: "height", value: "300.01", msg: "Height 300.01 cm is above 300 cm."},
		{path: "temperature", value: "1e400", msg: "Temperature 1e400 °C is above 45 °C."},
		{path: "temperature", value: "-1e400", msg: "Temperature -1e400 °C is below 30 °C."},
	}
	for _, c := range cases {
		t.Run(c.path+"="+c.value, func(t *testing.T) {
			edit := map[string]any{"vitals." + c.path: n(c.value)}
			for k, v := range c.extra {
				edit[k] = v
			}
			eff, err := run(t, "appointment.recordVitals", edit)
			if c.ok {
				mustAccept(t, eff, err)
				return
			}
			field := "vitals." + c.path
			r := mustReject(t, eff, err, CodeValidationFailed, field)
			if r.Message != c.msg {
				t.Fatalf("message %q, want %q", r.Message, c.msg)
			}
		})
	}
}

func TestBillingAmount(t *testing.T) {
	cases := []struct {
		value any
		want  Decimal // "" = refused
		msg   string
	}{
		{"-0.01", "", "Billing amount -0.01 is below 0.00."},
		{"0", "0.00", ""},
		{"0.00", "0.00", ""},
		{"-0", "0.00", ""},
		{"99999999.99", "99999999.99", ""},
		{"100000000.00", "", "Billing amount 100000000.00 is above 99,999,999.99."},
		{"123456789012345678901234567890", "", "Billing amount 123456789012345678901234567890 is above 99,999,999.99."},
		{"-123456789012345678901234567890", "", "Billing amount -123456789012345678901234567890 is below 0.00."},
		{"1.234", "", "Billing amount 1.234 has more than 2 decimals; the smallest unit is one cent (0.01)."},
		{"1.230", "1.23", ""},
		{"120.5", "120.50", ""},
		{"0007", "7.00", ""},
		{"abc", "", `Billing amount "abc" is not an amount; write it with a dot and up to 2 decimals, such as "120.50".`},
		{"1e3", "", ""},
		{"", "", ""},
		{" 1", "", ""},
		{".5", "", ""},
		{"1.", "", ""},
		{"+1", "", ""},
		{"1,50", "", ""},
		{120.5, "", `Billing amount must be text such as "120.50", not a number.`},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v", c.value), func(t *testing.T) {
			eff, err := run(t, "appointment.close", map[string]any{"billingAmount": c.value})
			if c.want != "" {
				mustAccept(t, eff, err)
				if got := eff.Ops[0].Values["billingAmount"]; got != c.want {
					t.Fatalf("billingAmount %#v, want %#v", got, c.want)
				}
				d, err := ParseDecimal(c.value.(string))
				if err != nil || d != c.want {
					t.Fatalf("ParseDecimal = %q, %v", d, err)
				}
				return
			}
			r := mustReject(t, eff, err, CodeValidationFailed, "billingAmount")
			if c.msg != "" && r.Message != c.msg {
				t.Fatalf("message %q, want %q", r.Message, c.msg)
			}
		})
	}
}

// runeString is n characters mixing 1-, 2-, 3- and 4-byte UTF-8, so a
// limit counted in bytes would fail it.
func runeString(n int) string {
	pieces := []string{"a", "é", "日", "𝄞"}
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(pieces[i%len(pieces)])
	}
	return b.String()
}

func TestTextLimits(t *testing.T) {
	cases := []struct {
		act, field string
		min, max   int
	}{
		{"patient.register", "firstName", 1, 200},
		{"patient.register", "lastName", 1, 200},
		{"patient.register", "sex", 1, 50},
		{"patient.register", "phone", 0, 50},
		{"patient.register", "address", 0, 500},
		{"patient.register", "emergencyContact", 0, 500},
		{"patient.register", "insurance", 0, 200},
		{"patient.register", "idNumber", 0, 100},
		{"patient.update", "firstName", 1, 200},
		{"patient.update", "address", 0, 500},
		{"appointment.schedule", "motif", 1, 500},
		{"appointment.recordVitals", "medicalHistoryNotes", 0, 10000},
		{"appointment.completeConsultation", "consultationNotes", 1, 10000},
		{"prescription.create", "text", 1, 10000},
		{"result.create", "text", 1, 50000},
		{"result.review", "interpretation", 0, 10000},
		{"document.attach", "name", 1, 200},
		{"document.attach", "type", 1, 200},
		{"document.attach", "url", 1, 2000},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%d", c.act, c.field, c.max), func(t *testing.T) {
			s := runeString(c.max)
			if utf8.RuneCountInString(s) != c.max || len(s) <= c.max {
				t.Fatal("test string is not what it should be")
			}
			eff, err := run(t, c.act, map[string]any{c.field: s})
			eff = mustAccept(t, eff, err)
			if got := eff.Ops[0].Values[c.field]; got != s {
				t.Fatalf("stored %v", got)
			}
		})
		t.Run(fmt.Sprintf("%s/%s/%d", c.act, c.field, c.max+1), func(t *testing.T) {
			eff, err := run(t, c.act, map[string]any{c.field: runeString(c.max + 1)})
			r := mustReject(t, eff, err, CodeValidationFailed, c.field)
			if !strings.Contains(r.Message, "at most "+thousands(int64(c.max))+" characters long (got "+thousands(int64(c.max+1))+")") {
				t.Fatalf("message %q does not name the bound and the length", r.Message)
			}
		})
		if c.min == 0 {
			t.Run(fmt.Sprintf("%s/%s/empty", c.act, c.field), func(t *testing.T) {
				eff, err := run(t, c.act, map[string]any{c.field: ""})
				mustAccept(t, eff, err)
			})
		} else {
			for _, blank := range []string{"", " \t\n"} {
				t.Run(fmt.Sprintf("%s/%s/blank%q", c.act, c.field, blank), func(t *testing.T) {
					eff, err := run(t, c.act, map[string]any{c.field: blank})
					r := mustReject(t, eff, err, CodeValidationFailed, c.field)
					if !strings.HasSuffix(r.Message, " must not be empty.") {
						t.Fatalf("message %q", r.Message)
					}
				})
			}
			t.Run(fmt.Sprintf("%s/%s/%d", c.act, c.field, c.min), func(t *testing.T) {
				eff, err := run(t, c.act, map[string]any{c.field: "𝄞"})
				mustAccept(t, eff, err)
			})
		}
	}
}

// TestMalformedArguments covers the shape of the arguments: unknown
// fields, wrong types, missing fields, bad ids, text that cannot be stored.
func TestMalformedArguments(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := []struct {
		name  string
		act   string
		edit  map[string]any
		field string
		msg   string
	}{
		{"unknown field", "appointment.checkIn", map[string]any{"foo": 1}, "foo", `The field "foo" is not known here; check the spelling.`},
		{"unknown vitals field", "appointment.recordVitals", map[string]any{"vitals.pulse": 1}, "vitals.pulse", `The field "vitals.pulse" is not known here; check the spelling.`},
		{"unknown blood pressure field", "appointment.recordVitals", map[string]any{"vitals.bloodPressure.mean": 1}, "vitals.bloodPressure.mean", ""},
		{"doctorId on checkIn", "appointment.checkIn", map[string]any{"doctorId": doctorID}, "doctorId", ""},
		{"status is not an argument", "appointment.checkIn", map[string]any{"status": "CHECKED_IN"}, "status", ""},
		{"id as number", "appointment.checkIn", map[string]any{"id": 123}, "id", "The appointment id must be text, not a number."},
		{"temperature as text", "appointment.recordVitals", map[string]any{"vitals.temperature": "37"}, "vitals.temperature", "Temperature must be a number, not text."},
		{"temperature as null", "appointment.recordVitals", map[string]any{"vitals.temperature": raw("null")}, "vitals.temperature", "Temperature must be given."},
		{"vitals as list", "appointment.recordVitals", map[string]any{"vitals": []int{1}}, "vitals", "Vitals must be an object, not a list."},
		{"vitals as text", "appointment.recordVitals", map[string]any{"vitals": seedVitals}, "vitals", "Vitals must be an object, not text."},
		{"blood pressure as number", "appointment.recordVitals", map[string]any{"vitals.bloodPressure": 120}, "vitals.bloodPressure", "Blood pressure must be an object, not a number."},
		{"heart rate as bool", "appointment.recordVitals", map[string]any{"vitals.heartRate": true}, "vitals.heartRate", "Heart rate must be a number, not true/false."},
		{"consent as text", "patient.register", map[string]any{"consentContact": "yes"}, "consentContact", "Consent to be contacted must be true or false, not text."},
		{"consent as null", "patient.update", map[string]any{"consentMedicalData": raw("null")}, "consentMedicalData", ""},
		{"data as list", "result.create", map[string]any{"data": []int{1}}, "data", "Result data must be an object, not a list."},
		{"data as text", "result.create", map[string]any{"data": "x"}, "data", ""},
		{"medical history by reception", "patient.update", map[string]any{"phone": remove{}, "medicalHistory": "asthme"}, "medicalHistory", "A SECRETARY cannot set the patient's medical history; a nurse (NURSE) or a doctor (DOCTOR) does that."},
		{"billing status as number", "appointment.close", map[string]any{"billingStatus": 1}, "billingStatus", ""},
		{"billing status unknown", "appointment.recordPayment", map[string]any{"billingStatus": "UNPAID"}, "billingStatus", `Billing status "UNPAID" is not one of PENDING, PAID or PARTIALLY_PAID.`},
		{"first name null", "patient.update", map[string]any{"firstName": raw("null")}, "firstName", "First name must not be empty."},
		{"phone null", "patient.update", map[string]any{"phone": raw("null")}, "phone", "Phone number cannot be null; send an empty text to clear it."},
		{"birth date not RFC 3339", "patient.register", map[string]any{"birthDate": "12/05/1980"}, "birthDate", `Birth date "12/05/1980" is not a date and time in RFC 3339 form, such as 2026-01-05T14:00:00Z.`},
		{"birth date without time", "patient.register", map[string]any{"birthDate": "1980-05-12"}, "birthDate", ""},
		{"birth date in the future", "patient.register", map[string]any{"birthDate": "2030-01-01T00:00:00Z"}, "birthDate", "Birth date 2030-01-01 must be before the time of the act (2026-01-05 11:00)."},
		{"birth date is the act's instant", "patient.register", map[string]any{"birthDate": "2026-01-05T11:00:00Z"}, "birthDate", ""},
		{"birth date 151 years ago", "patient.register", map[string]any{"birthDate": "1875-01-01T00:00:00Z"}, "birthDate", "Birth date 1875-01-01 is more than 150 years ago."},
		{"birth date null on update", "patient.update", map[string]any{"birthDate": raw("null")}, "birthDate", "Birth date must be given."},
		{"appointment 11 years ahead", "appointment.schedule", map[string]any{"date": "2037-01-06T09:30:00Z"}, "date", "Appointment date 2037-01-06 09:30 is more than 10 years away from the time of the act (2026-01-05)."},
		{"interpretation as number", "result.review", map[string]any{"interpretation": 5}, "interpretation", ""},
		{"missing id", "appointment.checkIn", map[string]any{"id": remove{}}, "id", "The appointment id must be given."},
		{"missing vitals", "appointment.recordVitals", map[string]any{"vitals": remove{}}, "vitals", "Vitals must be given."},
		{"missing heart rate", "appointment.recordVitals", map[string]any{"vitals.heartRate": remove{}}, "vitals.heartRate", "Heart rate must be given."},
		{"missing weight", "appointment.recordVitals", map[string]any{"vitals.weight": remove{}}, "vitals.weight", ""},
		{"missing systolic", "appointment.recordVitals", map[string]any{"vitals.bloodPressure.systolic": remove{}}, "vitals.bloodPressure.systolic", ""},
		{"missing blood pressure", "appointment.recordVitals", map[string]any{"vitals.bloodPressure": remove{}}, "vitals.bloodPressure", ""},
		{"missing consultation notes", "appointment.completeConsultation", map[string]any{"consultationNotes": remove{}}, "consultationNotes", "Consultation notes must be given."},
		{"missing billing status", "appointment.close", map[string]any{"billingStatus": remove{}}, "billingStatus", ""},
		{"missing billing amount", "appointment.close", map[string]any{"billingAmount": remove{}}, "billingAmount", ""},
		{"missing payment status", "appointment.recordPayment", map[string]any{"billingStatus": remove{}}, "billingStatus", ""},
		{"missing result text", "result.create", map[string]any{"text": remove{}}, "text", "Result text must be given."},
		{"missing prescription id", "result.create", map[string]any{"prescriptionId": remove{}}, "prescriptionId", ""},
		{"missing first name", "patient.register", map[string]any{"firstName": remove{}}, "firstName", ""},
		{"missing birth date", "patient.register", map[string]any{"birthDate": remove{}}, "birthDate", ""},
		{"missing motif", "appointment.schedule", map[string]any{"motif": remove{}}, "motif", "Reason for the visit must be given."},
		{"missing doctor", "appointment.schedule", map[string]any{"doctorId": remove{}}, "doctorId", ""},
		{"missing date", "appointment.schedule", map[string]any{"date": remove{}}, "date", ""},
		{"missing url", "document.attach", map[string]any{"url": remove{}}, "url", ""},
		{"missing patient of prescription", "prescription.create", map[string]any{"patientId": remove{}}, "patientId", ""},
		{"uppercase uuid", "appointment.checkIn", map[string]any{"id": strings.ToUpper("abcdef00-0000-4000-8000-000000000001")}, "id", `The appointment id "ABCDEF00-0000-4000-8000-000000000001" is not a valid id; ids are lowercase UUIDs such as 123e4567-e89b-12d3-a456-426614174000.`},
		{"uppercase hex uuid", "appointment.checkIn", map[string]any{"id": "A0000000-0000-4000-8000-00000000000F"}, "id", ""},
		{"short uuid", "appointment.checkIn", map[string]any{"id": "abc"}, "id", ""},
		{"nil uuid", "appointment.checkIn", map[string]any{"id": "00000000-0000-0000-0000-000000000000"}, "id", ""},
		{"braced uuid", "appointment.checkIn", map[string]any{"id": "{" + apptID + "}"}, "id", ""},
		{"uuid without dashes", "appointment.checkIn", map[string]any{"id": strings.ReplaceAll(apptID, "-", "")}, "id", ""},
		{"uuid with space", "appointment.checkIn", map[string]any{"id": " " + apptID[1:]}, "id", ""},
		{"uuid with g", "appointment.checkIn", map[string]any{"id": "g" + apptID[1:]}, "id", ""},
		{"bad patient id", "appointment.schedule", map[string]any{"patientId": "patient-1"}, "patientId", ""},
		{"bad doctor id", "appointment.schedule", map[string]any{"doctorId": "doctor-1"}, "doctorId", ""},
		{"bad prescription id", "result.create", map[string]any{"prescriptionId": "x"}, "prescriptionId", ""},
		{"bad document patient", "document.attach", map[string]any{"patientId": 7}, "patientId", ""},
		{"NUL in motif", "appointment.schedule", map[string]any{"motif": "a\x00b"}, "motif", "Reason for the visit: the text contains a NUL character (U+0000), which cannot be stored."},
		{"NUL in notes", "appointment.completeConsultation", map[string]any{"consultationNotes": "\x00"}, "consultationNotes", ""},
		{"NUL in first name", "patient.register", map[string]any{"firstName": "Ma\x00rie"}, "firstName", ""},
		{"NUL in result data", "result.create", map[string]any{"data": obj2{"x": obj2{"y": "\x00"}}}, "data", "Result data: the text contains a NUL character (U+0000), which cannot be stored."},
		{"NUL in first name on update", "patient.update", map[string]any{"phone": remove{}, "firstName": "a\x00"}, "firstName", ""},
		{"lone high surrogate", "appointment.schedule", map[string]any{"motif": raw(`"a\ud800b"`)}, "motif", "Reason for the visit: the text contains an unpaired UTF-16 surrogate, which is not valid text."},
		{"lone low surrogate", "appointment.schedule", map[string]any{"motif": raw(`"\udc00"`)}, "motif", ""},
		{"high surrogate at the end", "appointment.schedule", map[string]any{"motif": raw(`"a\ud834"`)}, "motif", ""},
		{"two high surrogates", "appointment.schedule", map[string]any{"motif": raw(`"\ud834\ud834"`)}, "motif", ""},
		{"surrogate in data", "result.create", map[string]any{"data": raw(`{"a":"\udfff"}`)}, "data", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eff, err := run(t, c.act, c.edit)
			code := CodeValidationFailed
			if strings.HasPrefix(c.msg, "A SECRETARY cannot") {
				code = CodeForbidden
			}
			r := mustReject(t, eff, err, code, c.field)
			if c.msg != "" && r.Message != c.msg {
				t.Fatalf("message\n got: %s\nwant: %s", r.Message, c.msg)
			}
		})
	}
}

// TestRawArguments covers arguments that are not a clean JSON object,
// including bytes json.Marshal would never produce.
func TestRawArguments(t *testing.T) {
	s := baseStore()
	s.put(TableAppointments, fixtureAppointment(AppointmentScheduled))
	id := `"id":"` + apptID + `"`
	cases := []struct {
		name, act, raw, field string
		ok                    bool
	}{
		{name: "clean", act: "appointment.checkIn", raw: `{` + id + `}`, ok: true},
		{name: "spaces around", act: "appointment.checkIn", raw: " \n{" + id + "}\n ", ok: true},
		{name: "empty", act: "appointment.checkIn", raw: ``},
		{name: "null", act: "appointment.checkIn", raw: `null`},
		{name: "list", act: "appointment.checkIn", raw: `[{` + id + `}]`},
		{name: "text", act: "appointment.checkIn", raw: `"x"`},
		{name: "truncated", act: "appointment.checkIn", raw: `{` + id},
		{name: "not JSON", act: "appointment.checkIn", raw: `{id: 1}`},
		{name: "trailing object", act: "appointment.checkIn", raw: `{` + id + `}{}`},
		{name: "trailing garbage", act: "appointment.checkIn", raw: `{` + id + `}x`},
		{name: "duplicate key", act: "appointment.checkIn", raw: `{` + id + `,` + id + `}`, field: "id"},
		{name: "duplicate nested key", act: "appointment.recordVitals", raw: `{` + id + `,"vitals":{"weight":1,"weight":2}}`, field: "vitals.weight"},
		{name: "invalid UTF-8 in motif", act: "appointment.schedule",
			raw: `{"id":"` + freshID + `","patientId":"` + patientID + `","doctorId":"` + doctorID + `","date":"2026-01-06T09:30:00Z","motif":"caf` + "\xe9" + `"}`, field: "motif"},
		{name: "truncated UTF-8 in notes", act: "appointment.completeConsultation", raw: `{` + id + `,"consultationNotes":"` + "\xc3" + `"}`, field: "consultationNotes"},
		{name: "invalid UTF-8 in data", act: "result.create", raw: `{"id":"` + freshID + `","prescriptionId":"` + rxID + `","text":"x","data":{"a":"` + "\xff" + `"}}`, field: "data"},
		{name: "escaped NUL in motif", act: "appointment.schedule",
			raw: `{"id":"` + freshID + `","patientId":"` + patientID + `","doctorId":"` + doctorID + `","date":"2026-01-06T09:30:00Z","motif":"a\u0000"}`, field: "motif"},
		{name: "escaped backslash then u0000 is text", act: "appointment.schedule",
			raw: `{"id":"` + freshID + `","patientId":"` + patientID + `","doctorId":"` + doctorID + `","date":"2026-01-06T09:30:00Z","motif":"a\\u0000"}`, ok: true},
		{name: "surrogate pair is text", act: "appointment.schedule",
			raw: `{"id":"` + freshID + `","patientId":"` + patientID + `","doctorId":"` + doctorID + `","date":"2026-01-06T09:30:00Z","motif":"\ud834\udd1e"}`, ok: true},
		{name: "raw NUL byte", act: "appointment.schedule",
			raw: `{"id":"` + freshID + `","patientId":"` + patientID + `","doctorId":"` + doctorID + `","date":"2026-01-06T09:30:00Z","motif":"a` + "\x00" + `"}`, field: "motif"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			role := S
			store := s
			switch c.act {
			case "appointment.recordVitals", "appointment.completeConsultation", "result.create":
				var a obj2
				store, a, role = accepting(c.act)
				_ = a
			}
			eff, err := apply(store, c.act, role, json.RawMessage(c.raw))
			if c.ok {
				mustAccept(t, eff, err)
				return
			}
			mustReject(t, eff, err, CodeValidationFailed, c.field)
		})
	}
	t.Run("surrogate pair stored decoded", func(t *testing.T) {
		eff, err := apply(s, "appointment.schedule", S, json.RawMessage(`{"id":"`+freshID+`","patientId":"`+patientID+`","doctorId":"`+doctorID+`","date":"2026-01-06T09:30:00Z","motif":"\ud834\udd1e"}`))
		mustAccept(t, eff, err)
		if got := eff.Ops[0].Values["motif"]; got != "𝄞" {
			t.Fatalf("motif %q", got)
		}
	})
}
