package http_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

var vitalsArg = map[string]any{
	"weight": 72.5, "height": 178, "temperature": 37.2,
	"bloodPressure": map[string]any{"systolic": 125, "diastolic": 82},
	"heartRate":     70, "oxygenSaturation": 98,
}

// TestWorkflowWalk takes a patient through every act of the workflow over
// /sync, each by its role's token on the demo workstation, then pulls and
// checks the device holds the rows exactly as PostgreSQL has them.
func TestWorkflowWalk(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	tok := map[workflow.Role]string{}
	for _, r := range workflow.Roles {
		tok[r] = env.Login(t, r, demo)
	}
	c := env.Connect(t, tok[workflow.RoleSecretary], demo)

	t0 := ms(time.Now())
	step := 0
	at := func() time.Time { step++; return t0.Add(time.Duration(step) * time.Second) }
	times := map[string]time.Time{}
	do := func(role workflow.Role, name string, args map[string]any) {
		t.Helper()
		when := at()
		times[name] = when
		c.Act(t, name, args, tok[role], when)
	}

	P, A, RX, R, D := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	sec, nur, doc, bio, adm := workflow.RoleSecretary, workflow.RoleNurse, workflow.RoleDoctor, workflow.RoleBiologist, workflow.RoleAdmin

	do(sec, "patient.register", map[string]any{"id": P, "firstName": "Léa", "lastName": "Moreau", "birthDate": "1990-04-05T00:00:00Z",
		"sex": "F", "phone": "+33 6 00 00 00 01", "address": "1 rue de la Paix", "consentMedicalData": true})
	do(sec, "appointment.schedule", map[string]any{"id": A, "patientId": P, "doctorId": doctorID,
		"date": t0.Add(time.Hour).Format(time.RFC3339), "motif": "Fièvre"})
	do(sec, "appointment.checkIn", map[string]any{"id": A})
	do(nur, "appointment.recordVitals", map[string]any{"id": A, "vitals": vitalsArg, "medicalHistoryNotes": "Asthme."})
	do(doc, "appointment.completeConsultation", map[string]any{"id": A, "consultationNotes": "Virose."})
	do(doc, "prescription.create", map[string]any{"id": RX, "patientId": P, "text": "NFS"})
	do(doc, "prescription.sendToLab", map[string]any{"id": RX})
	do(nur, "prescription.collectSample", map[string]any{"id": RX})
	do(bio, "prescription.startAnalysis", map[string]any{"id": RX})
	do(bio, "result.create", map[string]any{"id": R, "prescriptionId": RX, "text": "Hb 13.5", "data": map[string]any{"Hb": 13.5}})
	do(doc, "result.review", map[string]any{"id": R, "interpretation": "Normal."})
	do(sec, "appointment.close", map[string]any{"id": A, "billingAmount": "120.50", "billingStatus": "PENDING"})
	do(sec, "appointment.recordPayment", map[string]any{"id": A, "billingStatus": "PARTIALLY_PAID"})
	times["payment1"] = times["appointment.recordPayment"]
	do(sec, "appointment.recordPayment", map[string]any{"id": A, "billingStatus": "PAID"})
	cancelled := seedID("a:scheduled")
	do(adm, "appointment.cancel", map[string]any{"id": cancelled})
	do(nur, "document.attach", map[string]any{"id": D, "patientId": P, "name": "Radio", "type": "image/png", "url": "https://pacs/1"})
	do(sec, "patient.update", map[string]any{"id": P, "phone": "+33 6 00 00 00 02"})
	do(doc, "patient.update", map[string]any{"id": P, "medicalHistory": map[string]any{"allergies": []any{"pénicilline"}}})
	const acts = 18

	// The rows as PostgreSQL has them.
	ctx := context.Background()
	var (
		status, billing, billingAmount, vitalsBy, consultedBy, closedBy string
		checkedIn, vitalsAt, consultedAt, closedAt                      time.Time
		vitals                                                          []byte
	)
	if err := env.Pool.QueryRow(ctx, `SELECT status::text, "billingStatus"::text, "billingAmount"::text, "vitalsEnteredBy", "consultedBy", "closedBy",
		"checkedInAt", "vitalsEnteredAt", "consultedAt", "closedAt", vitals FROM appointments WHERE id = $1`, A).
		Scan(&status, &billing, &billingAmount, &vitalsBy, &consultedBy, &closedBy, &checkedIn, &vitalsAt, &consultedAt, &closedAt, &vitals); err != nil {
		t.Fatal(err)
	}
	want := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	want("status", status, "COMPLETED")
	want("billingStatus", billing, "PAID")
	want("billingAmount", billingAmount, "120.50")
	want("vitalsEnteredBy", vitalsBy, nurseID)
	want("consultedBy", consultedBy, doctorID)
	want("closedBy", closedBy, secretaryID)
	// Clinical time is the ward's occurredAt, not the sync time.
	want("checkedInAt", checkedIn.UTC(), times["appointment.checkIn"])
	want("vitalsEnteredAt", vitalsAt.UTC(), times["appointment.recordVitals"])
	want("consultedAt", consultedAt.UTC(), times["appointment.completeConsultation"])
	want("closedAt", closedAt.UTC(), times["appointment.close"])
	var vd workflow.VitalsData
	if err := json.Unmarshal(vitals, &vd); err != nil || vd.Temperature != 37.2 || vd.BloodPressure.Systolic != 125 {
		t.Errorf("vitals = %s (%v)", vitals, err)
	}

	var rxStatus, rxNurse, rxDoctor string
	var sampled, started, completed time.Time
	if err := env.Pool.QueryRow(ctx, `SELECT status::text, "nurseId", "doctorId", "sampleCollectedAt", "analysisStartedAt", "analysisCompletedAt"
		FROM prescriptions WHERE id = $1`, RX).Scan(&rxStatus, &rxNurse, &rxDoctor, &sampled, &started, &completed); err != nil {
		t.Fatal(err)
	}
	want("prescription status", rxStatus, "COMPLETED")
	want("nurseId", rxNurse, nurseID)
	want("doctorId", rxDoctor, doctorID)
	want("sampleCollectedAt", sampled.UTC(), times["prescription.collectSample"])
	want("analysisStartedAt", started.UTC(), times["prescription.startAnalysis"])
	want("analysisCompletedAt", completed.UTC(), times["result.create"])

	var validatedBy, reviewedBy, interp, data string
	if err := env.Pool.QueryRow(ctx, `SELECT "validatedBy", "reviewedBy", interpretation, data::text FROM results WHERE id = $1`, R).
		Scan(&validatedBy, &reviewedBy, &interp, &data); err != nil {
		t.Fatal(err)
	}
	want("validatedBy", validatedBy, biologistID)
	want("reviewedBy", reviewedBy, doctorID)
	want("interpretation", interp, "Normal.")
	want("data", data, `{"Hb": 13.5}`)

	var phone, history string
	if err := env.Pool.QueryRow(ctx, `SELECT phone, "medicalHistory"::text FROM patients WHERE id = $1`, P).Scan(&phone, &history); err != nil {
		t.Fatal(err)
	}
	want("phone", phone, "+33 6 00 00 00 02")
	want("medicalHistory", history, `{"allergies": ["pénicilline"]}`)
	want("cancelled status", statusOf(t, env, "appointments", cancelled), "CANCELLED")
	var uploadedBy string
	if err := env.Pool.QueryRow(ctx, `SELECT "uploadedBy" FROM documents WHERE id = $1`, D).Scan(&uploadedBy); err != nil {
		t.Fatal(err)
	}
	want("uploadedBy", uploadedBy, nurseID)

	// The audit log has every act once, applied, with its author.
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND outcome = 'applied' AND author_id IS NOT NULL`, demo); n != acts {
		t.Errorf("audit log has %d applied acts, want %d", n, acts)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND name = 'appointment.recordVitals' AND author_id = $2`, demo, nurseID); n != 1 {
		t.Errorf("recordVitals audited %d times under the nurse", n)
	}

	// The device pulls everything and holds what PostgreSQL holds.
	rep := wardtest.NewReplica()
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		c.PullAll(t, rep, 0)
		if rep.LastSeq != acts {
			return "lastMutationSeq not yet 18"
		}
		return wardtest.Diff(wardtest.ReplicaState(t, rep.Rows, nil), wardtest.PGState(t, env.Pool, workflow.Roles))
	})
	var row workflow.Appointment
	if err := json.Unmarshal(rep.Rows["appointments"][A], &row); err != nil {
		t.Fatal(err)
	}
	if row.Status != workflow.AppointmentCompleted || row.ConsultationNotes == nil || *row.ConsultationNotes != "Virose." ||
		row.BillingAmount == nil || *row.BillingAmount != "120.50" || !row.CheckedInAt.Equal(times["appointment.checkIn"]) {
		t.Errorf("pulled appointment: %s", rep.Rows["appointments"][A])
	}
	c.CheckFrames(t)
}

func statusOf(t testing.TB, env *wardtest.Server, table, id string) string {
	t.Helper()
	var s string
	if err := env.Pool.QueryRow(context.Background(), `SELECT status::text FROM `+table+` WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatalf("status of %s %s: %v", table, id, err)
	}
	return s
}

var welcomeRE = regexp.MustCompile(`^\{"type":"welcome","requestId":"hello-1","serverTime":"[0-9T:.\-]+Z","head":"[0-9]+","lastMutationSeq":0,"deviceName":"Demo workstation","roles":\["ADMIN","DOCTOR","BIOLOGIST","NURSE","SECRETARY"\]\}$`)

// TestGoldenFrames checks the welcome and pushResult frames have the
// documented wire shape (syncproto/testdata), member order included.
func TestGoldenFrames(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	sec := env.Login(t, workflow.RoleSecretary, demo)
	nurse := env.Login(t, workflow.RoleNurse, demo)
	c := env.Dial(t, sec, demo)
	c.SendRaw(t, []byte(`{"type":"hello","requestId":"hello-1","protocol":2,"deviceId":"`+demo+`","cursor":"","lastMutationSeq":0,"pending":0}`))
	w := c.Next(t)
	if !welcomeRE.Match(w.Raw) {
		t.Fatalf("welcome frame:\n%s\nwant match %s", w.Raw, welcomeRE)
	}
	now := ms(time.Now())
	m1 := c.Mut("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, sec, now)
	m2 := c.Mut("appointment.recordVitals", map[string]any{"id": seedID("a:inconsult"), "vitals": vitalsArg}, nurse, now)
	r := c.PushFrame(t, m1, m2)
	// The seed places its times around the seed time (postgres.DemoClock).
	var vitalsAt time.Time
	if err := env.Pool.QueryRow(context.Background(), `SELECT "vitalsEnteredAt" FROM appointments WHERE id = $1`, seedID("a:inconsult")).Scan(&vitalsAt); err != nil {
		t.Fatal(err)
	}
	wantMsg := "Appointment " + seedID("a:inconsult") + " is IN_CONSULTATION (vitals entered by Infirmier Test " + clockAt(vitalsAt, now) + "), not CHECKED_IN."
	want := `{"type":"pushResult","requestId":"push-1","results":[{"seq":1,"status":"applied"},{"seq":2,"status":"rejected","code":"INVALID_TRANSITION","message":` + string(wardtest.MustJSON(wantMsg)) + `}]}`
	if string(r.Raw) != want {
		t.Fatalf("pushResult frame:\n got: %s\nwant: %s", r.Raw, want)
	}
	if _, ok := r.F.(*syncproto.PushResult); !ok {
		t.Fatal("not a pushResult")
	}
}

// clockAt renders an instant the way the workflow's sentences do for an
// act at time act.
func clockAt(t, act time.Time) string {
	s := "at " + t.UTC().Format("15:04")
	if t.UTC().Format(time.DateOnly) != act.UTC().Format(time.DateOnly) {
		s += " on " + t.UTC().Format(time.DateOnly)
	}
	return s
}
