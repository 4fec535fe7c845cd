package workflow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The matrix runs every act, in every state its row can be in, for every
// role, and checks the outcome against the act table written out here
// independently of the implementation. Each case also runs on the replica
// a workstation serving only that role would hold (need-to-know filtered)
// and must give the very same outcome, message included.

type matrixAct struct {
	name    string // act name, plus a variant after a space
	roles   []Role // who may do it (the act table's who column)
	states  []string
	outcome map[string]Code // per state, for an allowed role; missing = INVALID_TRANSITION
	build   func(state string) (*memStore, json.RawMessage)
}

var (
	S, A, N, D, B = RoleSecretary, RoleAdmin, RoleNurse, RoleDoctor, RoleBiologist
)

func appointmentStates() []string {
	var out []string
	for _, s := range AppointmentStatuses {
		out = append(out, string(s))
	}
	return out
}

func prescriptionStates() []string {
	var out []string
	for _, s := range PrescriptionStatuses {
		out = append(out, string(s))
	}
	return out
}

// onAppointment builds acts on an existing appointment.
func onAppointment(name string, roles []Role, allowed AppointmentStatus, extra obj2) matrixAct {
	return onAppointmentIn(name, roles, []AppointmentStatus{allowed}, extra)
}

func onAppointmentIn(name string, roles []Role, allowed []AppointmentStatus, extra obj2) matrixAct {
	out := map[string]Code{}
	for _, s := range allowed {
		out[string(s)] = ""
	}
	return matrixAct{name: name, roles: roles, states: appointmentStates(), outcome: out,
		build: func(state string) (*memStore, json.RawMessage) {
			s := baseStore()
			s.put(TableAppointments, fixtureAppointment(AppointmentStatus(state)))
			a := obj2{"id": apptID}
			for k, v := range extra {
				a[k] = v
			}
			return s, args(a)
		}}
}

// onPrescription builds acts whose state is a prescription's.
func onPrescription(name string, roles []Role, allowed PrescriptionStatus, a obj2, alwaysResult bool) matrixAct {
	return matrixAct{name: name, roles: roles, states: prescriptionStates(), outcome: map[string]Code{string(allowed): ""},
		build: func(state string) (*memStore, json.RawMessage) {
			s := baseStore()
			p, r := prescriptionIn(PrescriptionStatus(state))
			s.put(TablePrescriptions, p)
			if r == nil && alwaysResult {
				// result.review must refuse on the prescription's state even
				// if a result row exists too early.
				r = &Result{ID: resultID, PrescriptionID: rxID, Text: "Normal", CreatedAt: day0, UpdatedAt: day0}
			}
			if r != nil {
				s.put(TableResults, r)
			}
			return s, args(a)
		}}
}

// inserting builds acts that insert a row, with states about the id and
// the rows it refers to.
func inserting(name string, roles []Role, outcome map[string]Code, build func(state string) (*memStore, json.RawMessage)) matrixAct {
	var states []string
	for _, s := range []string{"new", "taken id", "unknown patient", "doctor is a nurse", "existing", "missing"} {
		if _, ok := outcome[s]; ok {
			states = append(states, s)
		}
	}
	return matrixAct{name: name, roles: roles, states: states, outcome: outcome, build: build}
}

func patientArgsFor(state string, extra obj2) json.RawMessage {
	a := obj2{"id": freshID, "firstName": "Marie", "lastName": "Curie", "birthDate": "1967-11-07T00:00:00Z"}
	if state == "taken id" {
		a["id"] = patientID
	}
	for k, v := range extra {
		a[k] = v
	}
	return args(a)
}

func matrixActs() []matrixAct {
	refs := func(state string, a obj2, taken string) json.RawMessage {
		switch state {
		case "taken id":
			a["id"] = taken
		case "unknown patient":
			a["patientId"] = missingID
		case "doctor is a nurse":
			a["doctorId"] = nurseID
		}
		return args(a)
	}
	return []matrixAct{
		inserting("patient.register", []Role{S, A}, map[string]Code{"new": "", "taken id": CodeDuplicateID},
			func(state string) (*memStore, json.RawMessage) { return baseStore(), patientArgsFor(state, nil) }),
		inserting("patient.update identity", []Role{S, A}, map[string]Code{"existing": "", "missing": CodeNotFound},
			func(state string) (*memStore, json.RawMessage) {
				id := patientID
				if state == "missing" {
					id = missingID
				}
				return baseStore(), args(obj2{"id": id, "phone": "+33 6 00 00 00 00"})
			}),
		inserting("patient.update medicalHistory", []Role{N, D}, map[string]Code{"existing": "", "missing": CodeNotFound},
			func(state string) (*memStore, json.RawMessage) {
				id := patientID
				if state == "missing" {
					id = missingID
				}
				return baseStore(), args(obj2{"id": id, "medicalHistory": obj2{"allergies": []string{"pénicilline"}}})
			}),
		inserting("appointment.schedule", []Role{S, A},
			map[string]Code{"new": "", "taken id": CodeDuplicateID, "unknown patient": CodeNotFound, "doctor is a nurse": CodeValidationFailed},
			func(state string) (*memStore, json.RawMessage) {
				s := baseStore()
				s.put(TableAppointments, fixtureAppointment(AppointmentScheduled))
				return s, refs(state, obj2{"id": freshID, "patientId": patientID, "doctorId": doctorID,
					"date": "2026-01-06T09:30:00Z", "motif": "Première consultation"}, apptID)
			}),
		onAppointment("appointment.checkIn", []Role{S}, AppointmentScheduled, nil),
		onAppointment("appointment.recordVitals", []Role{N}, AppointmentCheckedIn,
			obj2{"vitals": json.RawMessage(seedVitals), "medicalHistoryNotes": "Asthme"}),
		onAppointment("appointment.completeConsultation", []Role{D}, AppointmentInConsultation,
			obj2{"consultationNotes": "Examen normal."}),
		onAppointment("appointment.close", []Role{S}, AppointmentConsultationCompleted,
			obj2{"billingAmount": "25.00", "billingStatus": "PENDING"}),
		onAppointment("appointment.recordPayment", []Role{S}, AppointmentCompleted, obj2{"billingStatus": "PAID"}),
		onAppointmentIn("appointment.cancel", []Role{S, A}, []AppointmentStatus{AppointmentScheduled, AppointmentCheckedIn}, nil),
		inserting("prescription.create", []Role{D},
			map[string]Code{"new": "", "taken id": CodeDuplicateID, "unknown patient": CodeNotFound},
			func(state string) (*memStore, json.RawMessage) {
				s := baseStore()
				p, _ := prescriptionIn(PrescriptionCreated)
				s.put(TablePrescriptions, p)
				return s, refs(state, obj2{"id": freshID, "patientId": patientID, "text": "Lipid Panel"}, rxID)
			}),
		onPrescription("prescription.sendToLab", []Role{D}, PrescriptionCreated, obj2{"id": rxID}, false),
		onPrescription("prescription.collectSample", []Role{N}, PrescriptionSentToLab, obj2{"id": rxID}, false),
		onPrescription("prescription.startAnalysis", []Role{B}, PrescriptionSampleCollected, obj2{"id": rxID}, false),
		onPrescription("result.create", []Role{B}, PrescriptionInProgress,
			obj2{"id": freshID, "prescriptionId": rxID, "text": "Hémoglobine 14 g/dL", "data": obj2{"hb": 14}}, false),
		onPrescription("result.review", []Role{D}, PrescriptionResultsAvailable,
			obj2{"id": resultID, "interpretation": "Normal."}, true),
		inserting("document.attach", []Role{S, N, D, B},
			map[string]Code{"new": "", "taken id": CodeDuplicateID, "unknown patient": CodeNotFound},
			func(state string) (*memStore, json.RawMessage) {
				s := baseStore()
				s.put(TableDocuments, &Document{ID: docID, Name: "ordonnance.pdf", Type: "ordonnance", URL: "files/ordonnance.pdf",
					PatientID: patientID, CreatedAt: day0, UpdatedAt: day0})
				return s, refs(state, obj2{"id": freshID, "patientId": patientID, "name": "radio.png", "type": "radio", "url": "files/radio.png"}, docID)
			}),
		{name: "patient.merge", roles: []Role{A}, states: []string{"two patients", "same ids", "unknown survivor", "unknown loser"},
			outcome: map[string]Code{"two patients": "", "same ids": CodeValidationFailed, "unknown survivor": CodeNotFound, "unknown loser": CodeNotFound},
			build: func(state string) (*memStore, json.RawMessage) {
				s := baseStore()
				a := obj2{"survivorId": patientID, "loserId": patient2ID}
				switch state {
				case "same ids":
					a["loserId"] = patientID
				case "unknown survivor":
					a["survivorId"] = missingID
				case "unknown loser":
					a["loserId"] = missingID
				}
				return s, args(a)
			}},
	}
}

// Sample sentences, checked word for word.
var matrixMessages = map[string]string{
	"appointment.checkIn/SCHEDULED/NURSE":                    "A NURSE cannot check in an appointment; reception (SECRETARY) does that.",
	"appointment.checkIn/SCHEDULED/ADMIN":                    "An ADMIN cannot check in an appointment; reception (SECRETARY) does that.",
	"appointment.cancel/SCHEDULED/NURSE":                     "A NURSE cannot cancel an appointment; reception (SECRETARY) or an administrator (ADMIN) does that.",
	"document.attach/new/ADMIN":                              "An ADMIN cannot attach a document; reception (SECRETARY), a nurse (NURSE), a doctor (DOCTOR) or the laboratory (BIOLOGIST) does that.",
	"patient.update identity/existing/NURSE":                 "A NURSE cannot set the patient's phone number; reception (SECRETARY) or an administrator (ADMIN) does that.",
	"patient.update medicalHistory/existing/SECRETARY":       "A SECRETARY cannot set the patient's medical history; a nurse (NURSE) or a doctor (DOCTOR) does that.",
	"patient.update identity/existing/BIOLOGIST":             "A BIOLOGIST cannot update a patient's record; reception (SECRETARY), an administrator (ADMIN), a nurse (NURSE) or a doctor (DOCTOR) does that.",
	"appointment.recordVitals/SCHEDULED/NURSE":               "Appointment " + apptID + " is SCHEDULED (planned for 2026-01-05 14:00), not CHECKED_IN.",
	"appointment.recordVitals/IN_CONSULTATION/NURSE":         "Appointment " + apptID + " is IN_CONSULTATION (vitals entered by Infirmier Test at 10:42), not CHECKED_IN.",
	"appointment.checkIn/CHECKED_IN/SECRETARY":               "Appointment " + apptID + " is CHECKED_IN (checked in at 10:30), not SCHEDULED.",
	"appointment.close/COMPLETED/SECRETARY":                  "Appointment " + apptID + " is COMPLETED (closed by Secretaire Test at 10:55), not CONSULTATION_COMPLETED.",
	"appointment.completeConsultation/COMPLETED/DOCTOR":      "Appointment " + apptID + " is COMPLETED, not IN_CONSULTATION.",
	"appointment.cancel/CONSULTATION_COMPLETED/SECRETARY":    "Appointment " + apptID + " is CONSULTATION_COMPLETED (consultation completed by Dr Test at 10:50), not SCHEDULED or CHECKED_IN.",
	"appointment.checkIn/CANCELLED/SECRETARY":                "Appointment " + apptID + " is CANCELLED (cancelled at 10:15), not SCHEDULED.",
	"prescription.sendToLab/SAMPLE_COLLECTED/DOCTOR":         "Prescription " + rxID + " is SAMPLE_COLLECTED (sample collected by Infirmier Test at 10:30), not CREATED.",
	"prescription.collectSample/CREATED/NURSE":               "Prescription " + rxID + " is CREATED (prescribed by Dr Test at 09:00), not SENT_TO_LAB.",
	"prescription.startAnalysis/SENT_TO_LAB/BIOLOGIST":       "Prescription " + rxID + " is SENT_TO_LAB (sent to the lab at 09:10), not SAMPLE_COLLECTED.",
	"prescription.sendToLab/IN_PROGRESS/DOCTOR":              "Prescription " + rxID + " is IN_PROGRESS (analysis started at 10:35), not CREATED.",
	"result.create/RESULTS_AVAILABLE/BIOLOGIST":              "Prescription " + rxID + " is RESULTS_AVAILABLE (results validated by Biologiste Test at 10:40), not IN_PROGRESS.",
	"result.review/COMPLETED/DOCTOR":                         "Prescription " + rxID + " is COMPLETED (results reviewed by Dr Test at 10:45), not RESULTS_AVAILABLE.",
	"prescription.collectSample/COMPLETED/NURSE":             "Prescription " + rxID + " is COMPLETED, not SENT_TO_LAB.",
	"prescription.collectSample/RESULTS_AVAILABLE/NURSE":     "Prescription " + rxID + " is RESULTS_AVAILABLE (results available at 10:40), not SENT_TO_LAB.",
	"patient.register/taken id/SECRETARY":                    "A patient with id " + patientID + " already exists.",
	"patient.update identity/missing/ADMIN":                  "Patient " + missingID + " was not found.",
	"appointment.schedule/doctor is a nurse/SECRETARY":       "Infirmier Test (user " + nurseID + ") is a NURSE, not a DOCTOR; an appointment is with a doctor.",
	"appointment.schedule/unknown patient/ADMIN":             "Patient " + missingID + " was not found.",
	"appointment.recordPayment/CONSULTATION_COMPLETED/ADMIN": "An ADMIN cannot record a payment; reception (SECRETARY) does that.",
	"patient.merge/two patients/SECRETARY":                   "A SECRETARY cannot merge two patients' records; an administrator (ADMIN) does that.",
	"patient.merge/same ids/ADMIN":                           "A patient cannot be merged into itself: survivorId and loserId are both " + patientID + ".",
	"patient.merge/unknown survivor/ADMIN":                   "Patient " + missingID + " was not found.",
	"patient.merge/unknown loser/ADMIN":                      "Patient " + missingID + " was not found.",
}

func TestMatrix(t *testing.T) {
	seen := map[string]bool{}
	for _, ma := range matrixActs() {
		name, _, _ := strings.Cut(ma.name, " ")
		seen[name] = true
		for _, state := range ma.states {
			for _, role := range Roles {
				key := ma.name + "/" + state + "/" + string(role)
				t.Run(key, func(t *testing.T) {
					want, ok := ma.outcome[state]
					if !ok {
						want = CodeInvalidTransition
					}
					if !contains(ma.roles, role) {
						want = CodeForbidden
					}
					s, a := ma.build(state)
					before := s.snapshot()
					eff, err := apply(s, name, role, a)
					if got := codeOf(t, err); got != want {
						t.Fatalf("got %q (%s), want %q", got, describeOutcome(eff, err), want)
					}
					if s.snapshot() != before {
						t.Fatal("Apply changed the store")
					}
					if err != nil {
						if len(eff.Ops) != 0 {
							t.Fatalf("rejection with an effect: %+v", eff)
						}
						if msg, ok := matrixMessages[key]; ok && err.(*Rejection).Message != msg {
							t.Fatalf("message\n got: %s\nwant: %s", err.(*Rejection).Message, msg)
						}
					} else {
						mustAccept(t, eff, err)
						for _, op := range eff.Ops {
							if Online(name) {
								break // performed on the server only, which reads everything
							}
							for col := range op.Values {
								if !CanRead([]Role{role}, op.Table, col) {
									t.Errorf("%s writes %s.%s, which a %s may not read", name, op.Table, col, role)
								}
							}
						}
						if err := s.clone().apply(eff); err != nil {
							t.Fatalf("effect does not apply: %v", err)
						}
					}
					// The workstation's replica gives the same answer.
					if Online(name) {
						return
					}
					eff2, err2 := apply(s.masked(role), name, role, a)
					if describeOutcome(eff, err) != describeOutcome(eff2, err2) {
						t.Fatalf("workstation disagrees with server:\n server: %s\nreplica: %s", describeOutcome(eff, err), describeOutcome(eff2, err2))
					}
				})
			}
		}
	}
	for _, n := range Names() {
		if !seen[n] {
			t.Errorf("act %s is missing from the matrix", n)
		}
	}
	for key := range matrixMessages {
		found := false
		for _, ma := range matrixActs() {
			if strings.HasPrefix(key, ma.name+"/") {
				found = true
			}
		}
		if !found {
			t.Errorf("sample message for unknown case %s", key)
		}
	}
}

// TestMatrixEffects checks what the accepted acts write, column by column.
func TestMatrixEffects(t *testing.T) {
	cases := []struct {
		act   string
		role  Role
		build func() (*memStore, json.RawMessage)
		want  []string // "table id column=value", values as fmt %v
	}{
		{"appointment.checkIn", S, func() (*memStore, json.RawMessage) {
			s := baseStore()
			s.put(TableAppointments, fixtureAppointment(AppointmentScheduled))
			return s, args(obj2{"id": apptID})
		}, []string{"update appointments " + apptID + " status=CHECKED_IN checkedInAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC"}},
		{"appointment.recordVitals", N, func() (*memStore, json.RawMessage) {
			s := baseStore()
			s.put(TableAppointments, fixtureAppointment(AppointmentCheckedIn))
			return s, json.RawMessage(`{"id":"` + apptID + `","vitals":{"heartRate":72,"bloodPressure":{"diastolic":80,"systolic":120.0},"temperature":37.20,"height":1.75e2,"weight":75.5,"oxygenSaturation":98}}`)
		}, []string{"update appointments " + apptID + ` status=IN_CONSULTATION vitals={"weight":75.5,"height":175,"temperature":37.2,"bloodPressure":{"systolic":120,"diastolic":80},"heartRate":72,"oxygenSaturation":98} vitalsEnteredAt=2026-01-05 11:00:00 +0000 UTC vitalsEnteredBy=` + nurseID + " updatedAt=2026-01-05 11:00:00 +0000 UTC"}},
		{"appointment.close", S, func() (*memStore, json.RawMessage) {
			s := baseStore()
			s.put(TableAppointments, fixtureAppointment(AppointmentConsultationCompleted))
			return s, args(obj2{"id": apptID, "billingAmount": "0120.5", "billingStatus": "PARTIALLY_PAID"})
		}, []string{"update appointments " + apptID + " status=COMPLETED closedAt=2026-01-05 11:00:00 +0000 UTC closedBy=" + secretaryID + " billingAmount=120.50 billingStatus=PARTIALLY_PAID updatedAt=2026-01-05 11:00:00 +0000 UTC"}},
		{"result.create", B, func() (*memStore, json.RawMessage) {
			s := baseStore()
			p, _ := prescriptionIn(PrescriptionInProgress)
			s.put(TablePrescriptions, p)
			return s, args(obj2{"id": freshID, "prescriptionId": rxID, "text": "Hb 14", "data": obj2{"z": 1, "a": obj2{"<b>": "é"}}})
		}, []string{
			"insert results " + freshID + ` id=` + freshID + ` data={"a":{"<b>":"é"},"z":1} text=Hb 14 validatedBy=` + biologistID + " validatedAt=2026-01-05 11:00:00 +0000 UTC createdAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC prescriptionId=" + rxID,
			"update prescriptions " + rxID + " status=RESULTS_AVAILABLE analysisCompletedAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC",
		}},
		{"prescription.create", D, func() (*memStore, json.RawMessage) {
			return baseStore(), args(obj2{"id": freshID, "patientId": patientID, "text": "NFS", "doctorId": doctorID})
		}, []string{"insert prescriptions " + freshID + " id=" + freshID + " text=NFS status=CREATED createdAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC patientId=" + patientID + " doctorId=" + doctorID}},
		{"prescription.collectSample", N, func() (*memStore, json.RawMessage) {
			s := baseStore()
			p, _ := prescriptionIn(PrescriptionSentToLab)
			s.put(TablePrescriptions, p)
			return s, args(obj2{"id": rxID})
		}, []string{"update prescriptions " + rxID + " status=SAMPLE_COLLECTED sampleCollectedAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC nurseId=" + nurseID}},
		{"result.review", D, func() (*memStore, json.RawMessage) {
			s := baseStore()
			p, r := prescriptionIn(PrescriptionResultsAvailable)
			s.put(TablePrescriptions, p)
			s.put(TableResults, r)
			return s, args(obj2{"id": resultID, "interpretation": "Rien."})
		}, []string{
			"update results " + resultID + " reviewedBy=" + doctorID + " reviewedAt=2026-01-05 11:00:00 +0000 UTC interpretation=Rien. updatedAt=2026-01-05 11:00:00 +0000 UTC",
			"update prescriptions " + rxID + " status=COMPLETED updatedAt=2026-01-05 11:00:00 +0000 UTC",
		}},
		{"patient.register", S, func() (*memStore, json.RawMessage) {
			return baseStore(), args(obj2{"id": freshID, "firstName": "Zoé", "lastName": "Ngô", "birthDate": "2026-01-05T08:00:00+01:00", "idNumber": nil})
		}, []string{"insert patients " + freshID + " id=" + freshID + " firstName=Zoé lastName=Ngô birthDate=2026-01-05 07:00:00 +0000 UTC sex=NON_SPECIFIE phone= address= emergencyContact= insurance= idNumber=<nil> consentMedicalData=false consentContact=false createdAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC"}},
		{"appointment.schedule", A, func() (*memStore, json.RawMessage) {
			return baseStore(), args(obj2{"id": freshID, "patientId": patientID, "doctorId": doctor2ID, "date": "2026-01-06T09:30:00.123456Z", "motif": "Suivi"})
		}, []string{"insert appointments " + freshID + " id=" + freshID + " date=2026-01-06 09:30:00.123 +0000 UTC motif=Suivi status=SCHEDULED billingStatus=PENDING createdAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC patientId=" + patientID + " doctorId=" + doctor2ID}},
		{"document.attach", B, func() (*memStore, json.RawMessage) {
			return baseStore(), args(obj2{"id": freshID, "patientId": patientID, "name": "bilan.pdf", "type": "bilan", "url": "files/bilan.pdf"})
		}, []string{"insert documents " + freshID + " id=" + freshID + " name=bilan.pdf type=bilan url=files/bilan.pdf uploadedBy=" + biologistID + " createdAt=2026-01-05 11:00:00 +0000 UTC updatedAt=2026-01-05 11:00:00 +0000 UTC patientId=" + patientID}},
	}
	for _, c := range cases {
		t.Run(c.act, func(t *testing.T) {
			s, a := c.build()
			eff, err := apply(s, c.act, c.role, a)
			mustAccept(t, eff, err)
			var got []string
			for _, op := range eff.Ops {
				got = append(got, renderOp(op))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("effect\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(c.want, "\n      "))
			}
		})
	}
}

// renderOp prints an op with its columns in schema order.
func renderOp(op Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", op.Kind, op.Table, op.ID)
	for _, col := range Columns(op.Table) {
		if v, ok := op.Values[col]; ok {
			if raw, ok := v.(json.RawMessage); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, " %s=%v", col, v)
		}
	}
	return b.String()
}
