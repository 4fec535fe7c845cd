package workflow

import (
	"strings"
	"testing"
)

// The waiting rule, written out here independently of the act table: per
// act, the states it waits in and what the nurse reads while it waits.
// Every other state but the act's own is a plain refusal.
var waitRules = map[string]struct {
	waits    []string
	sentence string
}{
	"appointment.checkIn":              {},
	"appointment.recordVitals":         {[]string{"SCHEDULED"}, "waiting for check-in at reception"},
	"appointment.completeConsultation": {[]string{"SCHEDULED", "CHECKED_IN"}, "waiting for the vitals from the nurse"},
	"appointment.close":                {[]string{"SCHEDULED", "CHECKED_IN", "IN_CONSULTATION"}, "waiting for the doctor to complete the consultation"},
	"appointment.recordPayment": {[]string{"SCHEDULED", "CHECKED_IN", "IN_CONSULTATION", "CONSULTATION_COMPLETED"},
		"waiting for the appointment to be closed and billed at reception"},
	"appointment.cancel":         {},
	"prescription.sendToLab":     {},
	"prescription.collectSample": {[]string{"CREATED"}, "waiting for the doctor to send the prescription to the lab"},
	"prescription.startAnalysis": {[]string{"CREATED", "SENT_TO_LAB"}, "waiting for the nurse to collect the sample"},
	"result.create":              {[]string{"CREATED", "SENT_TO_LAB", "SAMPLE_COLLECTED"}, "waiting for the analysis to start in the lab"},
	"result.review":              {},
}

// TestPathPartition: every state of an act's row is in exactly one of the
// act's want, waits and never lists, and CANCELLED is never waited in.
func TestPathPartition(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			table, want, waits, never, sentence, ok := Path(name)
			_, ruled := waitRules[name]
			if ok != ruled {
				t.Fatalf("Path ok = %v, but the rule table says %v", ok, ruled)
			}
			if !ok {
				return
			}
			all := appointmentStates()
			if table == TablePrescriptions {
				all = prescriptionStates()
			}
			seen := map[string]int{}
			for _, l := range [][]string{want, waits, never} {
				for _, s := range l {
					seen[s]++
				}
			}
			for _, s := range all {
				if seen[s] != 1 {
					t.Errorf("state %s is in %d of want/waits/never, want exactly 1", s, seen[s])
				}
			}
			if len(seen) != len(all) {
				t.Errorf("lists name states outside %s's: %v", table, seen)
			}
			if contains(waits, "CANCELLED") {
				t.Error("an act waits in CANCELLED; nothing comes back from it")
			}
			if len(waits) > 0 && len(want) != 1 {
				t.Errorf("a deferrable act applies in exactly one state (the wire's waitState), got %v", want)
			}
			if (len(waits) == 0) != (sentence == "") {
				t.Errorf("waits %v with sentence %q", waits, sentence)
			}
		})
	}
}

// TestDeferrable runs every act with a status rule in every state of its
// row and checks: its own state applies; an earlier state is a deferrable
// INVALID_TRANSITION naming the predecessor; any other state is a plain
// INVALID_TRANSITION, without Wait.
func TestDeferrable(t *testing.T) {
	for _, ma := range matrixActs() {
		name, _, _ := strings.Cut(ma.name, " ")
		rule, ok := waitRules[name]
		if !ok {
			continue
		}
		for _, state := range ma.states {
			t.Run(ma.name+"/"+state, func(t *testing.T) {
				s, a := ma.build(state)
				eff, err := apply(s, name, ma.roles[0], a)
				_, applies := ma.outcome[state]
				w, deferrable := Deferrable(err)
				switch {
				case applies:
					if err != nil || len(eff.Ops) == 0 {
						t.Fatalf("want applied, got %v", err)
					}
				case contains(rule.waits, state):
					r := mustReject(t, eff, err, CodeInvalidTransition, "")
					if !deferrable {
						t.Fatalf("want deferrable, got plain %v", r)
					}
					_, wantStates, _, _, _, _ := Path(name)
					id := apptID
					if strings.HasPrefix(name, "prescription.") || strings.HasPrefix(name, "result.") {
						id = rxID
					}
					if w.ID != id || w.Sentence != rule.sentence || strings.Join(w.Want, ",") != strings.Join(wantStates, ",") {
						t.Fatalf("wait = %+v; want id %s, sentence %q, want %v", w, id, rule.sentence, wantStates)
					}
					if !strings.Contains(r.Message, " is "+state) {
						t.Fatalf("message %q does not name the state %s", r.Message, state)
					}
				default:
					r := mustReject(t, eff, err, CodeInvalidTransition, "")
					if deferrable {
						t.Fatalf("state %s is past the act (or cancelled) but the refusal waits: %+v", state, w)
					}
					if !strings.Contains(r.Message, " is "+state) {
						t.Fatalf("message %q does not say why (state %s)", r.Message, state)
					}
				}
			})
		}
	}
}

// TestDeferrableOnlyWrongState: refusals for any other reason (role,
// values, missing row) never wait, even in a waiting state.
func TestDeferrableOnlyWrongState(t *testing.T) {
	cases := []struct {
		name  string
		role  Role
		id    string
		temp  float64
		code  Code
		field string
	}{
		{"wrong role", D, apptID, 37, CodeForbidden, ""},
		{"bad vitals", N, apptID, 50, CodeValidationFailed, "vitals.temperature"},
		{"missing row", N, missingID, 37, CodeNotFound, "id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := baseStore()
			s.put(TableAppointments, fixtureAppointment(AppointmentScheduled))
			v := obj2{"weight": 70.0, "height": 170.0, "temperature": c.temp, "bloodPressure": obj2{"systolic": 120, "diastolic": 80}, "heartRate": 70}
			eff, err := apply(s, "appointment.recordVitals", c.role, args(obj2{"id": c.id, "vitals": v}))
			mustReject(t, eff, err, c.code, c.field)
			if w, ok := Deferrable(err); ok {
				t.Fatalf("deferrable: %+v", w)
			}
		})
	}
	if _, ok := Deferrable(nil); ok {
		t.Fatal("nil is deferrable")
	}
}
