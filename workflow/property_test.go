package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// designRoles is the act table's "who" column, written out independently of
// the implementation's table.
var designRoles = map[string][]Role{
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

// Every observed status change must be an edge of the workflow.
var (
	appointmentEdges = map[[2]AppointmentStatus]bool{
		{AppointmentScheduled, AppointmentCheckedIn}:                  true,
		{AppointmentScheduled, AppointmentCancelled}:                  true,
		{AppointmentCheckedIn, AppointmentInConsultation}:             true,
		{AppointmentCheckedIn, AppointmentCancelled}:                  true,
		{AppointmentInConsultation, AppointmentConsultationCompleted}: true,
		{AppointmentConsultationCompleted, AppointmentCompleted}:      true,
	}
	prescriptionEdges = map[[2]PrescriptionStatus]bool{
		{PrescriptionCreated, PrescriptionSentToLab}:           true,
		{PrescriptionSentToLab, PrescriptionSampleCollected}:   true,
		{PrescriptionSampleCollected, PrescriptionInProgress}:  true,
		{PrescriptionInProgress, PrescriptionResultsAvailable}: true,
		{PrescriptionResultsAvailable, PrescriptionCompleted}:  true,
	}
)

func genUUID() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		b := rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "uuid")
		h := fmt.Sprintf("%x", b)
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	})
}

// pick draws an existing id of table most of the time, a fresh one else.
func pick(t *rapid.T, s *memStore, table, label string) string {
	ids := s.ids(table)
	if len(ids) > 0 && rapid.IntRange(0, 9).Draw(t, label+"?existing") < 9 {
		return rapid.SampledFrom(ids).Draw(t, label)
	}
	return genUUID().Draw(t, label+"?fresh")
}

// freshOrTaken draws the id of a new row: fresh, sometimes one that exists.
func freshOrTaken(t *rapid.T, s *memStore, table string) string {
	ids := s.ids(table)
	if len(ids) > 0 && rapid.IntRange(0, 9).Draw(t, "id?taken") == 0 {
		return rapid.SampledFrom(ids).Draw(t, "id")
	}
	return genUUID().Draw(t, "id?fresh")
}

func genArgs(t *rapid.T, s *memStore, act string, at time.Time) obj2 {
	str := func(label string, choices ...string) string { return rapid.SampledFrom(choices).Draw(t, label) }
	var a obj2
	switch act {
	case "patient.register":
		a = obj2{"id": freshOrTaken(t, s, TablePatients), "firstName": str("firstName", "Jean", "Zoé", ""),
			"lastName": str("lastName", "Dupont", "Ngô"), "birthDate": str("birthDate", "1980-05-12T00:00:00Z", "2099-01-01T00:00:00Z")}
	case "patient.update":
		a = obj2{"id": pick(t, s, TablePatients, "id")}
		switch rapid.IntRange(0, 2).Draw(t, "field") {
		case 0:
			a["phone"] = "0600000000"
		case 1:
			a["medicalHistory"] = obj2{"allergies": []string{"pénicilline"}}
		default:
			a["address"], a["medicalHistory"] = "1 rue de la Paix", nil
		}
	case "appointment.schedule":
		var userIDs []string
		for _, u := range users {
			userIDs = append(userIDs, u.ID)
		}
		a = obj2{"id": freshOrTaken(t, s, TableAppointments), "patientId": pick(t, s, TablePatients, "patientId"),
			"doctorId": rapid.SampledFrom(userIDs).Draw(t, "doctorId"), "date": at.Add(24 * time.Hour).Format(time.RFC3339),
			"motif": str("motif", "Suivi", "")}
	case "appointment.checkIn", "appointment.cancel":
		a = obj2{"id": pick(t, s, TableAppointments, "id")}
	case "appointment.recordVitals":
		v := obj2{"weight": 70, "height": 170, "temperature": rapid.IntRange(28, 47).Draw(t, "temperature"),
			"bloodPressure": obj2{"systolic": rapid.IntRange(40, 260).Draw(t, "systolic"), "diastolic": 80}, "heartRate": 72}
		a = obj2{"id": pick(t, s, TableAppointments, "id"), "vitals": v}
		if rapid.Bool().Draw(t, "notes?") {
			a["medicalHistoryNotes"] = "Asthme"
		}
	case "appointment.completeConsultation":
		a = obj2{"id": pick(t, s, TableAppointments, "id"), "consultationNotes": str("notes", "Examen normal.", "", " ")}
	case "appointment.close":
		a = obj2{"id": pick(t, s, TableAppointments, "id"),
			"billingAmount": str("amount", "25.00", "0", "99999999.99", "-0.01", "1.234", "100000000.00"),
			"billingStatus": str("status", "PENDING", "PARTIALLY_PAID", "PAID", "UNPAID")}
	case "appointment.recordPayment":
		a = obj2{"id": pick(t, s, TableAppointments, "id"), "billingStatus": str("status", "PENDING", "PARTIALLY_PAID", "PAID")}
	case "prescription.create":
		a = obj2{"id": freshOrTaken(t, s, TablePrescriptions), "patientId": pick(t, s, TablePatients, "patientId"), "text": str("text", "NFS", "")}
	case "prescription.sendToLab", "prescription.collectSample", "prescription.startAnalysis":
		a = obj2{"id": pick(t, s, TablePrescriptions, "id")}
	case "result.create":
		a = obj2{"id": freshOrTaken(t, s, TableResults), "prescriptionId": pick(t, s, TablePrescriptions, "prescriptionId"), "text": str("text", "Hb 14", "")}
		if rapid.Bool().Draw(t, "data?") {
			a["data"] = obj2{"hb": 14}
		}
	case "result.review":
		a = obj2{"id": pick(t, s, TableResults, "id"), "interpretation": str("interpretation", "Normal.", "")}
	case "document.attach":
		a = obj2{"id": freshOrTaken(t, s, TableDocuments), "patientId": pick(t, s, TablePatients, "patientId"),
			"name": "radio.png", "type": str("type", "radio", ""), "url": "files/radio.png"}
	case "patient.merge":
		a = obj2{"survivorId": pick(t, s, TablePatients, "survivorId"), "loserId": pick(t, s, TablePatients, "loserId")}
	default:
		panic("no generator for " + act)
	}
	if rapid.IntRange(0, 19).Draw(t, "junk?") == 0 {
		a["junk"] = true
	}
	return a
}

type candidate struct {
	act  string
	args obj2
}

// advancing lists the acts that would move some row one step on, so that
// the random runs reach the late states instead of milling about the
// first ones.
func advancing(s *memStore) []candidate {
	ctx := context.Background()
	var out []candidate
	for _, id := range s.ids(TableAppointments) {
		a, _ := s.Appointment(ctx, id)
		next := map[AppointmentStatus]string{
			AppointmentScheduled:             "appointment.checkIn",
			AppointmentCheckedIn:             "appointment.recordVitals",
			AppointmentInConsultation:        "appointment.completeConsultation",
			AppointmentConsultationCompleted: "appointment.close",
			AppointmentCompleted:             "appointment.recordPayment",
		}[a.Status]
		if next != "" {
			out = append(out, candidate{next, obj2{"id": id}})
		}
	}
	for _, id := range s.ids(TablePrescriptions) {
		p, _ := s.Prescription(ctx, id)
		switch p.Status {
		case PrescriptionCreated:
			out = append(out, candidate{"prescription.sendToLab", obj2{"id": id}})
		case PrescriptionSentToLab:
			out = append(out, candidate{"prescription.collectSample", obj2{"id": id}})
		case PrescriptionSampleCollected:
			out = append(out, candidate{"prescription.startAnalysis", obj2{"id": id}})
		case PrescriptionInProgress:
			out = append(out, candidate{"result.create", obj2{"prescriptionId": id}})
		case PrescriptionResultsAvailable:
			if r, err := s.ResultByPrescription(ctx, id); err == nil {
				out = append(out, candidate{"result.review", obj2{"id": r.ID}})
			}
		}
	}
	return out
}

type propState struct {
	appt    map[string]AppointmentStatus
	rx      map[string]PrescriptionStatus
	billing map[string]BillingStatus
}

var (
	acceptedMu sync.Mutex
	accepted   = map[string]int{}
)

// coverageRounds bounds the rounds of random runs TestPropertyWorkflow
// makes to see every act accepted at least once.
const coverageRounds = 5

func TestPropertyWorkflow(t *testing.T) {
	// The count is this run's own: carried over from an earlier run (go
	// test -count), it would hide a generator that stopped reaching an act.
	acceptedMu.Lock()
	clear(accepted)
	acceptedMu.Unlock()
	// Reaching every act is a matter of chance: appointment.cancel, the
	// rarest, is accepted about 4 times in a round of 100 random runs, so
	// one round in fifty accepted it never and the test failed. Rounds are
	// added until every act was accepted; an act no round in five reaches
	// (a chance of about 1e-8 at that rate) is a generator or a mutator
	// that no longer lets it through.
	for round := 0; round < coverageRounds && !t.Failed() && len(neverAccepted()) > 0; round++ {
		checkWorkflow(t)
	}
	// The generator must reach the end of both workflows, or the property
	// says little about the late states.
	if missing := neverAccepted(); len(missing) > 0 && !t.Failed() {
		t.Errorf("acts never accepted by %d rounds of random runs: %v (accepted: %v)", coverageRounds, missing, accepted)
	}
}

// neverAccepted lists the acts no random run has had accepted yet.
func neverAccepted() []string {
	acceptedMu.Lock()
	defer acceptedMu.Unlock()
	var missing []string
	for _, n := range allNames {
		if accepted[n] == 0 {
			missing = append(missing, n)
		}
	}
	return missing
}

// checkWorkflow is one round of random runs: random acts by random roles
// from a base store, each applied at the server and at the role's
// workstation, checked against the workflow's tables.
func checkWorkflow(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		s := baseStore()
		clock := now
		prev := readState(s)
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			act := rapid.SampledFrom(allNames).Draw(t, "act")
			var target obj2
			if rapid.IntRange(0, 2).Draw(t, "advance?") > 0 {
				if cands := advancing(s); len(cands) > 0 {
					c := rapid.SampledFrom(cands).Draw(t, "advance")
					act, target = c.act, c.args
				}
			}
			var role Role
			if rapid.IntRange(0, 3).Draw(t, "role?right") > 0 {
				role = rapid.SampledFrom(designRoles[act]).Draw(t, "role")
			} else {
				role = rapid.SampledFrom(Roles).Draw(t, "role")
			}
			clock = clock.Add(time.Duration(rapid.IntRange(0, 3_600_000_000).Draw(t, "µs")) * time.Microsecond)
			a := genArgs(t, s, act, clock)
			for k, v := range target {
				a[k] = v
			}
			m := Mutation{ID: fmt.Sprint(i), Name: act, Args: args(a), Actor: actorFor(role), OccurredAt: clock, Online: Online(act)}

			before := s.snapshot()
			eff, err := Apply(ctx, s, m)
			if s.snapshot() != before {
				t.Fatalf("step %d: Apply changed the store", i)
			}
			// The workstation of this role decides the same, from its replica
			// (online acts are never decided on a workstation).
			eff2, err2 := Apply(ctx, s.masked(role), m)
			if !Online(act) && describeOutcome(eff, err) != describeOutcome(eff2, err2) {
				t.Fatalf("step %d %s by %s: workstation and server disagree:\n server: %s\nreplica: %s",
					i, act, role, describeOutcome(eff, err), describeOutcome(eff2, err2))
			}
			if err != nil {
				if _, ok := AsRejection(err); !ok {
					t.Fatalf("step %d: non-rejection error from an in-memory store: %v", i, err)
				}
				if len(eff.Ops) != 0 {
					t.Fatalf("step %d: rejection %v came with an effect %+v", i, err, eff)
				}
				continue
			}
			if !contains(designRoles[act], role) {
				t.Fatalf("step %d: %s accepted from a %s", i, act, role)
			}
			if act == "appointment.recordPayment" && prev.billing[a["id"].(string)] == BillingPaid {
				t.Fatalf("step %d: payment recorded on a bill already PAID", i)
			}
			if err := s.apply(eff); err != nil {
				t.Fatalf("step %d: %s by %s: effect does not apply: %v", i, act, role, err)
			}
			acceptedMu.Lock()
			accepted[act]++
			acceptedMu.Unlock()
			if msg := checkInvariants(s); msg != "" {
				t.Fatalf("step %d: after %s by %s %s: %s", i, act, role, m.Args, msg)
			}
			cur := readState(s)
			if msg := checkTransitions(prev, cur); msg != "" {
				t.Fatalf("step %d: after %s by %s: %s", i, act, role, msg)
			}
			prev = cur
		}
	})
}

func readState(s *memStore) propState {
	st := propState{appt: map[string]AppointmentStatus{}, rx: map[string]PrescriptionStatus{}, billing: map[string]BillingStatus{}}
	ctx := context.Background()
	for _, id := range s.ids(TableAppointments) {
		a, _ := s.Appointment(ctx, id)
		st.appt[id] = a.Status
		if a.Status == AppointmentCompleted && a.BillingStatus != nil {
			st.billing[id] = *a.BillingStatus
		}
	}
	for _, id := range s.ids(TablePrescriptions) {
		p, _ := s.Prescription(ctx, id)
		st.rx[id] = p.Status
	}
	return st
}

func checkTransitions(prev, cur propState) string {
	for id, was := range prev.appt {
		if is := cur.appt[id]; is != was && !appointmentEdges[[2]AppointmentStatus{was, is}] {
			return fmt.Sprintf("appointment %s went from %s to %s", id, was, is)
		}
	}
	for id, was := range prev.rx {
		if is := cur.rx[id]; is != was && !prescriptionEdges[[2]PrescriptionStatus{was, is}] {
			return fmt.Sprintf("prescription %s went from %s to %s", id, was, is)
		}
	}
	for id, was := range prev.billing {
		if is := cur.billing[id]; billingRank(is) < billingRank(was) {
			return fmt.Sprintf("bill of appointment %s went back from %s to %s", id, was, is)
		}
	}
	return ""
}

// checkInvariants states what the table forbids, over every row.
func checkInvariants(s *memStore) string {
	ctx := context.Background()
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	hasRole := func(id *string, r Role) bool {
		if id == nil {
			return false
		}
		u, err := s.User(ctx, *id)
		return err == nil && u.Role == r
	}
	exists := func(table, id string) bool { _, ok := s.tables[table][id]; return ok }
	notBlank := func(p *string) bool { return p != nil && strings.TrimSpace(*p) != "" }

	for _, id := range s.ids(TablePatients) {
		p, _ := s.Patient(ctx, id)
		if strings.TrimSpace(p.FirstName) == "" || strings.TrimSpace(p.LastName) == "" || !p.BirthDate.Before(p.CreatedAt) {
			bad("patient %s has an empty name or a birth date not in the past", id)
		}
	}
	for _, id := range s.ids(TableAppointments) {
		a, _ := s.Appointment(ctx, id)
		if !a.Status.Valid() || !exists(TablePatients, a.PatientID) || !hasRole(&a.DoctorID, RoleDoctor) {
			bad("appointment %s: bad status, patient or doctor", id)
		}
		rank := map[AppointmentStatus]int{AppointmentScheduled: 0, AppointmentCheckedIn: 1, AppointmentInConsultation: 2,
			AppointmentConsultationCompleted: 3, AppointmentCompleted: 4, AppointmentCancelled: -1}[a.Status]
		checked := a.CheckedInAt != nil
		vitals := a.Vitals != nil && a.VitalsEnteredAt != nil && hasRole(a.VitalsEnteredBy, RoleNurse)
		consulted := notBlank(a.ConsultationNotes) && a.ConsultedAt != nil && hasRole(a.ConsultedBy, RoleDoctor)
		closed := a.BillingAmount != nil && a.BillingStatus != nil && a.ClosedAt != nil && hasRole(a.ClosedBy, RoleSecretary)
		if a.Status == AppointmentCancelled {
			if a.Vitals != nil || a.ConsultationNotes != nil || a.BillingAmount != nil || a.ClosedAt != nil {
				bad("appointment %s: cancelled after the visit began", id)
			}
			continue
		}
		if checked != (rank >= 1) || (a.Vitals != nil) != (rank >= 2) || vitals != (rank >= 2) {
			bad("appointment %s is %s with checkedIn=%v vitals=%v", id, a.Status, checked, vitals)
		}
		if (a.ConsultationNotes != nil) != (rank >= 3) || consulted != (rank >= 3) {
			bad("appointment %s is %s with consultation=%v", id, a.Status, consulted)
		}
		if (a.BillingAmount != nil) != (rank >= 4) || closed != (rank >= 4) {
			bad("appointment %s is %s with billing=%v", id, a.Status, closed)
		}
		if vitals {
			var v VitalsData
			if err := json.Unmarshal(a.Vitals, &v); err != nil || v.Temperature < 30 || v.Temperature > 45 ||
				v.BloodPressure.Systolic < 50 || v.BloodPressure.Systolic > 250 {
				bad("appointment %s has vitals out of range: %s", id, a.Vitals)
			}
			if !a.VitalsEnteredAt.After(*a.CheckedInAt) && !a.VitalsEnteredAt.Equal(*a.CheckedInAt) {
				bad("appointment %s: vitals before check-in", id)
			}
		}
		if closed {
			if c, p := parseCents(string(*a.BillingAmount)); p != amountOK || c < 0 || c > MaxBillingCents {
				bad("appointment %s: billing amount %s", id, *a.BillingAmount)
			}
		}
	}
	resultOf := map[string]*Result{}
	for _, id := range s.ids(TableResults) {
		r, _ := s.Result(ctx, id)
		if resultOf[r.PrescriptionID] != nil {
			bad("prescription %s has two results", r.PrescriptionID)
		}
		resultOf[r.PrescriptionID] = r
		p, err := s.Prescription(ctx, r.PrescriptionID)
		if err != nil || (p.Status != PrescriptionResultsAvailable && p.Status != PrescriptionCompleted) {
			bad("result %s on a prescription not past IN_PROGRESS", id)
		}
		if !hasRole(r.ValidatedBy, RoleBiologist) || r.ValidatedAt == nil || strings.TrimSpace(r.Text) == "" {
			bad("result %s not validated by a biologist", id)
		}
	}
	for _, id := range s.ids(TablePrescriptions) {
		p, _ := s.Prescription(ctx, id)
		rank := -1
		for i, st := range PrescriptionStatuses {
			if st == p.Status {
				rank = i
			}
		}
		if rank < 0 || !exists(TablePatients, p.PatientID) || !hasRole(&p.DoctorID, RoleDoctor) {
			bad("prescription %s: bad status, patient or doctor", id)
		}
		sampled := hasRole(p.NurseID, RoleNurse) && p.SampleCollectedAt != nil
		if sampled != (rank >= 2) || (p.NurseID != nil) != (rank >= 2) {
			bad("prescription %s is %s with sample=%v", id, p.Status, sampled)
		}
		if (p.AnalysisStartedAt != nil) != (rank >= 3) {
			bad("prescription %s is %s with analysisStartedAt=%v", id, p.Status, p.AnalysisStartedAt)
		}
		r := resultOf[id]
		if (r != nil) != (rank >= 4) || (p.AnalysisCompletedAt != nil) != (rank >= 4) {
			bad("prescription %s is %s with result=%v", id, p.Status, r != nil)
		}
		reviewed := r != nil && hasRole(r.ReviewedBy, RoleDoctor) && r.ReviewedAt != nil
		if reviewed != (rank >= 5) {
			bad("prescription %s is %s with reviewed=%v", id, p.Status, reviewed)
		}
	}
	for _, id := range s.ids(TableDocuments) {
		d, _ := s.Document(ctx, id)
		if !exists(TablePatients, d.PatientID) || d.UploadedBy == nil || hasRole(d.UploadedBy, RoleAdmin) || d.Name == "" || d.Type == "" {
			bad("document %s: bad patient, uploader or name", id)
		}
	}
	sort.Strings(problems)
	return strings.Join(problems, "; ")
}
