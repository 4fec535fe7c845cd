// Package desktop_test tests the desktop app end to end: the bound App
// (desktop/app) with a real engine on a temporary SQLite replica against a
// real server on loopback and a fresh seeded PostgreSQL database; the UI in
// headless Chromium driving the app built with Wails' dev tags under Xvfb;
// and the production window's screenshots (scripts/shot.sh).
//
// It lives outside desktop/ because desktop packages may not import the
// server (internal/archtest).
package desktop_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// Seed ids the tests act on.
var (
	doctorID    = wardtest.UserID(workflow.RoleDoctor)
	nurseID     = wardtest.UserID(workflow.RoleNurse)
	secretaryID = wardtest.UserID(workflow.RoleSecretary)
	biologistID = wardtest.UserID(workflow.RoleBiologist)
	apptChecked = postgres.SeedID("a:checkedin")
	apptSched   = postgres.SeedID("a:scheduled")
	apptFever   = postgres.SeedID("a:inconsult") // 38.4 °C, waiting for the doctor
)

// scalar is the one value sql reads from w's database.
func scalar(t testing.TB, w *wardtest.Server, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := w.Pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// events records what the App emitted.
type events struct {
	mu   sync.Mutex
	last app.Status
	n    int
	ch   chan struct{}
}

func (e *events) emit(_ context.Context, name string, data any) {
	if name != app.EventStatus {
		return
	}
	e.mu.Lock()
	e.last, e.n = data.(app.Status), e.n+1
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// openApp opens an App on a fresh replica bound to the demo workstation,
// started as Wails would start it.
func openApp(t testing.TB, w *wardtest.Server, dir string) (*app.App, *events) {
	t.Helper()
	ev := &events{ch: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{
		Engine: desktop.Config{DBPath: filepath.Join(dir, "workstation.db"), ServerURL: w.URL(), DeviceID: postgres.DemoDeviceID,
			Logger: wardtest.Logger(), BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, PollInterval: 200 * time.Millisecond},
		Emit:   ev.emit,
		Logger: wardtest.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Startup(ctx)
	t.Cleanup(func() {
		c, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		a.Shutdown(c)
		cancel()
	})
	return a, ev
}

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	wardtest.Eventually(t, d, func() string {
		if cond() {
			return ""
		}
		return "waiting for " + what
	})
}

// must returns v, or stops the test on err: a test that uses it defers
// caught(t), which turns the stop into t.Fatal with the error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(failure{err})
	}
	return v
}

type failure struct{ err error }

func caught(t testing.TB) {
	if r := recover(); r != nil {
		if f, ok := r.(failure); ok {
			t.Fatalf("unexpected error: %v (%+v)", f.err, f.err)
		}
		panic(r)
	}
}

func rejection(t testing.TB, err error) app.Problem {
	t.Helper()
	if err == nil {
		t.Fatal("expected a refusal, got none")
	}
	return app.Format(err)
}

func hasAppt(list []desktop.AppointmentView, id string) bool {
	return slices.ContainsFunc(list, func(a desktop.AppointmentView) bool { return a.ID == id })
}

func hasPres(list []desktop.PrescriptionView, id string) bool {
	return slices.ContainsFunc(list, func(p desktop.PrescriptionView) bool { return p.ID == id })
}

// obj is an act's arguments as the UI sends them.
type obj = map[string]any

// act queues the act name as user through the App's one act binding, as
// the UI does.
func act(a *app.App, user, name string, args obj) (*app.Acted, error) {
	b, err := json.Marshal(args)
	if err != nil {
		panic(err)
	}
	return a.Act(user, name, b)
}

func goodVitals() obj {
	return obj{"weight": 70, "height": 170, "temperature": 37.2,
		"bloodPressure": obj{"systolic": 120, "diastolic": 80}, "heartRate": 72}
}

// TestAppWalk walks one patient through the whole workflow with the bound
// App's methods, as the UI calls them, every role on the demo workstation;
// then cuts the server off, acts offline, makes that act conflict at the
// server, brings a new server up and sees the act rejected, copied and
// dismissed.
func TestAppWalk(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	a, ev := openApp(t, w, t.TempDir())

	st := must(a.Status())
	if st.NeedsSetup || !st.WaitingForLogin || st.Online {
		t.Fatalf("before any login: %+v", st)
	}
	if _, err := a.Login("nurse@hospital.com", "wrong"); err == nil {
		t.Fatal("a wrong password was accepted")
	} else if p := app.Format(err); p.Code != string(workflow.CodeUnauthenticated) {
		t.Fatalf("wrong password: %+v", p)
	}
	sessions := map[workflow.Role]*desktop.Session{}
	for _, u := range []struct{ email, pw string }{{"secretary@hospital.com", "secretary123"}, {"nurse@hospital.com", "nurse123"},
		{"doctor@hospital.com", "doctor123"}, {"biologist@hospital.com", "biologist123"}} {
		s := must(a.Login(u.email, u.pw))
		if s.Offline {
			t.Fatalf("%s logged in offline while the server is up", u.email)
		}
		sessions[s.User.Role] = s
	}
	sec, nurse, doc, bio := sessions[workflow.RoleSecretary].User.ID, sessions[workflow.RoleNurse].User.ID,
		sessions[workflow.RoleDoctor].User.ID, sessions[workflow.RoleBiologist].User.ID
	if sec != secretaryID || nurse != nurseID || doc != doctorID || bio != biologistID {
		t.Fatal("seed user ids differ from the sessions'")
	}
	if got := must(a.Sessions()); len(got) != 4 {
		t.Fatalf("sessions: %d, want 4", len(got))
	}
	waitFor(t, "online and synced", 15*time.Second, func() bool {
		s, _ := a.Status()
		return s.Online && s.LastSyncAt != nil && s.InitialSync == nil
	})
	docs := must(a.Doctors())
	if len(docs) != 1 || docs[0].ID != doctorID || docs[0].Name != "Dr Médecin Test" {
		t.Fatalf("doctors: %+v", docs)
	}

	// Reception: register, find, schedule, check in.
	bd := "1990-04-01"
	p := must(act(a, sec, "patient.register", obj{"firstName": "Walk", "lastName": "Through", "birthDate": bd + "T00:00:00Z", "sex": "F", "phone": "0102030405", "consentMedicalData": true, "consentContact": false}))
	pid := p.RowID
	found := must(a.SearchPatients("through wal", ""))
	if len(found) != 1 || found[0].Value.ID != pid || found[0].Value.BirthDate.Format(time.DateOnly) != bd {
		t.Fatalf("search: %+v", found)
	}
	if got := must(a.SearchPatients("", bd)); len(got) != 1 {
		t.Fatalf("search by birth date: %d", len(got))
	}
	if _, err := a.SearchPatients("", "01/04/1990"); app.Format(err).Field != "birthDate" {
		t.Fatalf("bad birth date search: %v", err)
	}
	if _, err := act(a, nurse, "patient.register", obj{"firstName": "X", "lastName": "Y", "birthDate": bd + "T00:00:00Z", "consentMedicalData": false, "consentContact": false}); app.Format(err).Code != string(workflow.CodeForbidden) {
		t.Fatalf("a nurse registered a patient: %v", err)
	}
	when := time.Now().Add(2 * time.Minute).UTC().Truncate(time.Minute).Format(time.RFC3339)
	if _, err := act(a, sec, "appointment.schedule", obj{"patientId": pid, "doctorId": nurseID, "date": when, "motif": "Walk"}); app.Format(err).Field != "doctorId" {
		t.Fatalf("scheduling with a nurse: %v", err)
	}
	appt := must(act(a, sec, "appointment.schedule", obj{"patientId": pid, "doctorId": doctorID, "date": when, "motif": "Douleur thoracique"})).RowID
	if d := must(a.Dashboard(sec)).Value; !hasAppt(d.ToCheckIn, appt) {
		t.Fatalf("the new appointment is not among today's to check in: %+v", d.ToCheckIn)
	}
	must(act(a, sec, "appointment.checkIn", obj{"id": appt}))

	// Nursing: a temperature out of range is refused with the seed's words.
	if d := must(a.Dashboard(nurse)).Value; !hasAppt(d.ToPrepare, appt) {
		t.Fatal("the checked-in patient is not among the nurse's patients to prepare")
	}
	bad := goodVitals()
	bad["temperature"] = 46
	_, err := act(a, nurse, "appointment.recordVitals", obj{"id": appt, "vitals": bad})
	if p := rejection(t, err); p != (app.Problem{Code: "VALIDATION_FAILED", Message: "Temperature 46 °C is above 45 °C.", Field: "vitals.temperature"}) {
		t.Fatalf("bad temperature: %+v", p)
	}
	must(act(a, nurse, "appointment.recordVitals", obj{"id": appt, "vitals": goodVitals(), "medicalHistoryNotes": "Allergie pénicilline"}))

	// Doctor: consult, prescribe, send to the lab.
	if d := must(a.Dashboard(doc)).Value; !hasAppt(d.Consultations, appt) {
		t.Fatal("the patient is not among the doctor's consultations ready")
	}
	if _, err := act(a, doc, "appointment.completeConsultation", obj{"id": appt, "consultationNotes": "  "}); app.Format(err).Message != "Consultation notes must not be empty." {
		t.Fatalf("empty notes: %v", err)
	}
	must(act(a, doc, "appointment.completeConsultation", obj{"id": appt, "consultationNotes": "Examen normal. Bilan sanguin."}))
	pres := must(act(a, doc, "prescription.create", obj{"patientId": pid, "text": "NFS, CRP"})).RowID
	must(act(a, doc, "prescription.sendToLab", obj{"id": pres}))

	// Nurse collects, biologist analyses.
	if d := must(a.Dashboard(nurse)).Value; !hasPres(d.ToCollect, pres) {
		t.Fatal("the prescription is not among the samples to collect")
	}
	must(act(a, nurse, "prescription.collectSample", obj{"id": pres}))
	if d := must(a.Dashboard(bio)).Value; !hasPres(d.SamplesReceived, pres) {
		t.Fatal("the sample is not among the biologist's samples received")
	}
	must(act(a, bio, "prescription.startAnalysis", obj{"id": pres}))
	if d := must(a.Dashboard(bio)).Value; !hasPres(d.InProgress, pres) {
		t.Fatal("the analysis is not in progress")
	}
	if _, err := act(a, bio, "result.create", obj{"prescriptionId": pres, "text": "Hb normale", "data": []any{13.5}}); app.Format(err).Message != "Result data must be an object, not a list." {
		t.Fatalf("result data as a list: %v", err)
	}
	res := must(act(a, bio, "result.create", obj{"prescriptionId": pres, "text": "Hb normale", "data": obj{"hemoglobin": 13.5, "unit": "g/dL"}})).RowID

	// Doctor reviews.
	d := must(a.Dashboard(doc)).Value
	i := slices.IndexFunc(d.ToReview, func(p desktop.PrescriptionView) bool { return p.ID == pres })
	if i < 0 || d.ToReview[i].ResultID != res {
		t.Fatalf("results to review: %+v", d.ToReview)
	}
	must(act(a, doc, "result.review", obj{"id": res, "interpretation": "RAS"}))

	// Reception closes and bills, then records the payment.
	if d := must(a.Dashboard(sec)).Value; !hasAppt(d.ToClose, appt) {
		t.Fatal("the consultation is not among those to close")
	}
	if _, err := act(a, sec, "appointment.close", obj{"id": appt, "billingAmount": "45.001", "billingStatus": "PENDING"}); app.Format(err).Field != "billingAmount" {
		t.Fatalf("bad amount: %v", err)
	}
	must(act(a, sec, "appointment.close", obj{"id": appt, "billingAmount": "45.00", "billingStatus": "PENDING"}))
	if d := must(a.Dashboard(sec)).Value; !hasAppt(d.Unpaid, appt) {
		t.Fatal("the visit is not among the payments pending")
	}
	must(act(a, sec, "appointment.recordPayment", obj{"id": appt, "billingStatus": "PAID"}))
	if d := must(a.Dashboard(sec)).Value; hasAppt(d.Unpaid, appt) {
		t.Fatal("a paid visit is still among the payments pending")
	}

	// The record: a document, the medical history, the timeline.
	must(act(a, nurse, "document.attach", obj{"patientId": pid, "name": "Consentement", "type": "consent", "url": "file:///scans/walk.pdf"}))
	must(act(a, nurse, "patient.update", obj{"id": pid, "medicalHistory": obj{"allergies": []string{"penicillin"}}}))
	phone := "0607080910"
	if _, err := act(a, nurse, "patient.update", obj{"id": pid, "phone": phone}); app.Format(err).Code != string(workflow.CodeForbidden) {
		t.Fatalf("a nurse changed a phone number: %v", err)
	}
	must(act(a, sec, "patient.update", obj{"id": pid, "phone": phone}))
	tl := must(a.Timeline(doc, pid)).Value
	kinds := map[string]int{}
	for _, e := range tl.Entries {
		kinds[e.Kind]++
	}
	// The doctor reads the whole clinical record but not the phone number
	// (reception's business: workflow.VisibleColumns); the secretary reads
	// the phone number and no prescription or result.
	if kinds["appointment"] != 1 || kinds["prescription"] != 1 || kinds["result"] != 1 || kinds["document"] != 1 || tl.Patient.Phone != "" {
		t.Fatalf("the doctor's timeline: %v, phone %q", kinds, tl.Patient.Phone)
	}
	if stl := must(a.Timeline(sec, pid)).Value; stl.Patient.Phone != phone || len(stl.Entries) != 2 {
		t.Fatalf("the secretary's timeline: %d entries, phone %q", len(stl.Entries), stl.Patient.Phone)
	}
	if _, err := a.Timeline(doc, "00000000-0000-4000-8000-000000000000"); app.Format(err).Code != string(workflow.CodeNotFound) {
		t.Fatalf("timeline of nobody: %v", err)
	}

	// ADMIN sees reception's queues on a workstation but may not check in.
	admin := must(a.Login("admin@hospital.com", "admin123")).User.ID
	if d := must(a.Dashboard(admin)).Value; d.Role != workflow.RoleAdmin || !hasAppt(d.ToCheckIn, apptSched) {
		t.Fatalf("admin dashboard: %+v", d)
	}
	if _, err := act(a, admin, "appointment.checkIn", obj{"id": apptSched}); app.Format(err).Code != string(workflow.CodeForbidden) {
		t.Fatalf("an admin checked a patient in: %v", err)
	}
	if err := a.Logout(admin); err != nil {
		t.Fatal(err)
	}

	// Everything reaches the server, which holds the same story.
	waitFor(t, "nothing pending", 20*time.Second, func() bool {
		p, _ := a.Pending()
		s, _ := a.Status()
		return len(p) == 0 && s.Pending == 0
	})
	if got := scalar(t, w, `SELECT status || ' ' || "billingStatus" || ' ' || "billingAmount" FROM appointments WHERE id = $1`, appt); got != "COMPLETED PAID 45.00" {
		t.Fatalf("server appointment: %s", got)
	}
	if got := scalar(t, w, `SELECT p.status || ' ' || r."reviewedBy" FROM prescriptions p JOIN results r ON r."prescriptionId" = p.id WHERE p.id = $1`, pres); got != "COMPLETED "+doctorID {
		t.Fatalf("server prescription: %s", got)
	}

	// Outage: the server goes away; the nurse goes on working.
	w.Stop()
	waitFor(t, "offline", 10*time.Second, func() bool { s, _ := a.Status(); return !s.Online })
	st = must(a.Status())
	if st.OfflineSince == nil || st.WaitingForLogin {
		t.Fatalf("offline status: %+v", st)
	}
	if s := must(a.Login("nurse@hospital.com", "nurse123")); !s.Offline {
		t.Fatal("the login while the server is down was not an offline one")
	}
	vit := goodVitals()
	vit["respiratoryRate"] = 16
	must(act(a, nurse, "appointment.recordVitals", obj{"id": apptChecked, "vitals": vit, "medicalHistoryNotes": "Vu hors ligne"}))
	if st := must(a.Status()); st.Pending != 1 || st.OldestPendingAt == nil {
		t.Fatalf("after acting offline: %+v", st)
	}
	pend := must(a.Pending())
	if len(pend) != 1 || pend[0].Value.Name != "appointment.recordVitals" || pend[0].Value.AuthorName != "Infirmier Test" {
		t.Fatalf("pending: %+v", pend)
	}
	// Meanwhile at the server, someone cancels that appointment.
	wardtest.Exec(t, w.Pool, `UPDATE appointments SET status = 'CANCELLED', "updatedAt" = now() WHERE id = $1`, apptChecked)
	w.Restart(t)
	waitFor(t, "the act's outcome", 30*time.Second, func() bool {
		s, _ := a.Status()
		return s.Online && s.Pending == 0 && s.Rejected == 1
	})
	rej := must(a.Rejected(false))
	if len(rej) != 1 || rej[0].Value.Rejection.Code != workflow.CodeInvalidTransition || !strings.Contains(rej[0].Value.Rejection.Message, "CANCELLED") {
		t.Fatalf("rejected: %+v", rej)
	}
	cp := must(a.CopyRejected(rej[0].Value.ID))
	b, _ := json.Marshal(cp)
	if cp.Name != "appointment.recordVitals" || !strings.Contains(string(b), `"respiratoryRate":16`) || !strings.Contains(string(b), "Vu hors ligne") {
		t.Fatalf("copy: %s", b)
	}
	if _, err := a.CopyRejected("nope"); app.Format(err).Code != string(workflow.CodeNotFound) {
		t.Fatalf("copy of nothing: %v", err)
	}
	// Copied into a new entry, the next act of that name re-issues it
	// (Reissuing is what the UI says when it opens the copy's form); one
	// of another name does not.
	if err := a.Reissuing(rej[0].Value.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CloseRejected(nurse, rej[0].Value.ID, " "); app.Format(err).Code != string(workflow.CodeValidationFailed) || app.Format(err).Field != "reason" {
		t.Fatalf("closed without a reason: %v", err)
	}
	if err := a.Reissuing(""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CloseRejected(nurse, rej[0].Value.ID, "The appointment was cancelled; nothing to redo."); err != nil {
		t.Fatal(err)
	}
	if got := must(a.Rejected(false)); len(got) != 0 {
		t.Fatalf("closed act still listed as open: %+v", got)
	}
	waitFor(t, "the close recorded by the server", 30*time.Second, func() bool {
		got, _ := a.Rejected(true)
		return len(got) == 1 && got[0].Value.State == "resolved" && got[0].Value.ResolutionNote == "The appointment was cancelled; nothing to redo."
	})
	if st := must(a.Status()); st.Rejected != 0 {
		t.Fatalf("rejected count after closing: %d", st.Rejected)
	}

	// Every change reached the UI as an event.
	ev.mu.Lock()
	n, last := ev.n, ev.last
	ev.mu.Unlock()
	if n < 5 || !last.Online || last.DeviceID != postgres.DemoDeviceID {
		t.Fatalf("events: %d, last %+v", n, last)
	}
	for _, id := range []string{sec, nurse, doc, bio} {
		if err := a.Logout(id); err != nil {
			t.Fatal(err)
		}
	}
	if got := must(a.Sessions()); len(got) != 0 {
		t.Fatalf("sessions after logout: %+v", got)
	}
	if _, err := act(a, sec, "appointment.checkIn", obj{"id": apptSched}); app.Format(err).Code != string(workflow.CodeUnauthenticated) {
		t.Fatalf("acting after logout: %v", err)
	}
}

// TestSetup is the first start: no device yet, a registration code from
// the dashboard, a wrong code refused, the right one claims the device.
func TestSetup(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	a, err := app.New(ctx, app.Config{Engine: desktop.Config{DBPath: filepath.Join(dir, "ws.db"), Logger: wardtest.Logger(),
		BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond}, Logger: wardtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	a.Startup(ctx)
	defer a.Shutdown(ctx)
	if st := must(a.Status()); !st.NeedsSetup {
		t.Fatalf("a fresh replica does not ask for setup: %+v", st)
	}
	if _, err := a.Setup("ftp://x", "d", "", ""); app.Format(err).Field != "serverUrl" {
		t.Fatalf("bad URL: %v", err)
	}
	if _, err := a.Setup(w.URL(), " ", "", ""); app.Format(err).Field != "deviceId" {
		t.Fatalf("no device: %v", err)
	}
	dev, code, _, err := w.DB.RegisterDevice(ctx, "Ward 7 nurses", []workflow.Role{workflow.RoleNurse})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Setup(w.URL(), dev.ID, "WRONG-CODE", ""); err == nil {
		t.Fatal("a wrong registration code was accepted")
	}
	res := must(a.Setup(w.URL()+"/", dev.ID, code, ""))
	if !res.Claimed || res.Name != "Ward 7 nurses" || !slices.Equal(res.Roles, []workflow.Role{workflow.RoleNurse}) {
		t.Fatalf("setup: %+v", res)
	}
	st := must(a.Status())
	if st.NeedsSetup || st.DeviceID != dev.ID || st.ServerURL != w.URL() {
		t.Fatalf("after setup: %+v", st)
	}
	if _, err := a.Login("secretary@hospital.com", "secretary123"); err == nil {
		t.Fatal("a nurses' workstation let a secretary in")
	}
	must(a.Login("nurse@hospital.com", "nurse123"))
	waitFor(t, "online", 15*time.Second, func() bool { s, _ := a.Status(); return s.Online })
	if _, err := a.Setup(w.URL(), postgres.DemoDeviceID, "", ""); app.Format(err).Field != "deviceId" {
		t.Fatalf("changing the device id: %v", err)
	}
	// Only the address may change; the replica and its sessions stay.
	must(a.Setup(w.URL(), dev.ID, "", ""))
	if got := must(a.Sessions()); len(got) != 1 {
		t.Fatalf("sessions after changing the address: %+v", got)
	}
}

// validationCases is frontend/src/desktop/validation-cases.json.
type validationCases struct {
	Vitals []struct {
		Name    string            `json:"name"`
		Typed   map[string]string `json:"typed"`
		Field   string            `json:"field"`
		Message string            `json:"message"`
		UIOnly  bool              `json:"uiOnly"`
	} `json:"vitals"`
	Amounts []struct {
		Typed   string `json:"typed"`
		Message string `json:"message"`
		UIOnly  bool   `json:"uiOnly"`
	} `json:"amounts"`
	Texts []struct {
		Rule    string `json:"rule"`
		Typed   string `json:"typed"`
		Repeat  string `json:"repeat"`
		Count   int    `json:"count"`
		Message string `json:"message"`
	} `json:"texts"`
}

// TestValidationParity: what the forms say as the user types
// (validate.test.ts checks the same file) is what the engine — the
// workflow's mutators — says for the same values.
func TestValidationParity(t *testing.T) {
	defer caught(t)
	raw, err := os.ReadFile(filepath.Join(wardtest.RepoRoot(t), "frontend", "src", "desktop", "validation-cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases validationCases
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	w := wardtest.StartServer(t, wardtest.Options{})
	a, _ := openApp(t, w, t.TempDir())
	ids := map[string]string{}
	for _, u := range [][2]string{{"nurse@hospital.com", "nurse123"}, {"secretary@hospital.com", "secretary123"},
		{"doctor@hospital.com", "doctor123"}, {"biologist@hospital.com", "biologist123"}} {
		ids[u[0]] = must(a.Login(u[0], u[1])).User.ID
	}
	waitFor(t, "synced", 15*time.Second, func() bool { s, _ := a.Status(); return s.LastSyncAt != nil && s.InitialSync == nil })
	// num puts a typed measure in vitals, as the form does; an empty
	// one stays out.
	num := func(vitals obj, key, s string) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		if strings.Contains(s, ",") && !strings.Contains(s, ".") {
			s = strings.Replace(s, ",", ".", 1)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("case value %q", s)
		}
		vitals[key] = v
	}
	for _, c := range cases.Vitals {
		if c.UIOnly {
			continue
		}
		v, bp := obj{}, obj{}
		for _, k := range []string{"weight", "height", "temperature", "heartRate", "respiratoryRate", "oxygenSaturation"} {
			num(v, k, c.Typed[k])
		}
		num(bp, "systolic", c.Typed["systolic"])
		num(bp, "diastolic", c.Typed["diastolic"])
		v["bloodPressure"] = bp
		_, err := act(a, ids["nurse@hospital.com"], "appointment.recordVitals", obj{"id": apptChecked, "vitals": v})
		if p := app.Format(err); err == nil || p.Field != c.Field || p.Message != c.Message {
			t.Errorf("vitals %s: engine says %+v, the form says %s: %s", c.Name, p, c.Field, c.Message)
		}
	}
	for _, c := range cases.Amounts {
		if c.UIOnly || c.Message == "" {
			continue
		}
		_, err := act(a, ids["secretary@hospital.com"], "appointment.close", obj{"id": postgres.SeedID("a:consultdone"), "billingAmount": strings.TrimSpace(c.Typed), "billingStatus": "PENDING"})
		if p := app.Format(err); err == nil || p.Field != "billingAmount" || p.Message != c.Message {
			t.Errorf("amount %q: engine says %+v, the form says %s", c.Typed, p, c.Message)
		}
	}
	p1 := postgres.SeedID("patient:1")
	acts := map[string]func(text string) (*app.Acted, error){
		"consultationNotes": func(s string) (*app.Acted, error) {
			return act(a, ids["doctor@hospital.com"], "appointment.completeConsultation", obj{"id": postgres.SeedID("a:inconsult"), "consultationNotes": s})
		},
		"prescriptionText": func(s string) (*app.Acted, error) {
			return act(a, ids["doctor@hospital.com"], "prescription.create", obj{"patientId": p1, "text": s})
		},
		"motif": func(s string) (*app.Acted, error) {
			return act(a, ids["secretary@hospital.com"], "appointment.schedule", obj{"patientId": p1, "doctorId": doctorID, "date": time.Now().UTC().Format(time.RFC3339), "motif": s})
		},
		"resultText": func(s string) (*app.Acted, error) {
			return act(a, ids["biologist@hospital.com"], "result.create", obj{"prescriptionId": postgres.SeedID("rx:inprogress"), "text": s})
		},
		"documentName": func(s string) (*app.Acted, error) {
			return act(a, ids["nurse@hospital.com"], "document.attach", obj{"patientId": p1, "name": s, "type": "scan", "url": "file:///x"})
		},
		"interpretation": func(s string) (*app.Acted, error) {
			args := obj{"id": postgres.SeedID("result:available")}
			if s != "" {
				args["interpretation"] = s
			}
			return act(a, ids["doctor@hospital.com"], "result.review", args)
		},
	}
	for _, c := range cases.Texts {
		text := c.Typed
		if c.Repeat != "" {
			text = strings.Repeat(c.Repeat, c.Count)
		}
		do := acts[c.Rule]
		if do == nil {
			t.Errorf("no act for text rule %s", c.Rule)
			continue
		}
		_, err := do(text)
		if p := app.Format(err); err == nil || p.Message != c.Message {
			t.Errorf("text %s: engine says %+v, the form says %s", c.Rule, p, c.Message)
		}
	}
	if p, _ := a.Pending(); len(p) != 0 {
		t.Fatalf("a refused act was queued: %+v", p)
	}
}
