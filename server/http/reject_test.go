package http_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/wardtest"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// auditOf reads the audit log's record of one of the device's seqs.
func auditOf(t testing.TB, env *wardtest.Server, device string, seq int64) (outcome, code, message, field string) {
	t.Helper()
	var c, m, f *string
	if err := env.Pool.QueryRow(context.Background(), `SELECT outcome, code, message, field FROM sync.mutations WHERE device_id = $1 AND seq = $2`,
		device, seq).Scan(&outcome, &c, &m, &f); err != nil {
		t.Fatalf("audit of seq %d: %v", seq, err)
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return outcome, deref(c), deref(m), deref(f)
}

// checkAudited requires the audit log to say what the push result said.
func checkAudited(t testing.TB, env *wardtest.Server, device string, res syncproto.MutationResult) {
	t.Helper()
	outcome, code, msg, field := auditOf(t, env, device, res.Seq)
	if outcome != "rejected" || code != string(res.Code) || msg != res.Message || field != res.Field {
		t.Fatalf("audit of seq %d = %s %s %q %q, push said %s %s %q %q", res.Seq, outcome, code, msg, field, res.Status, res.Code, res.Message, res.Field)
	}
}

// TestRejections drives every rejection code through /sync and checks the
// code, the sentence, the field, that nothing was written, and that the
// audit log recorded the same outcome.
func TestRejections(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	sec := env.Login(t, workflow.RoleSecretary, demo)
	nurse := env.Login(t, workflow.RoleNurse, demo)
	c := env.Connect(t, sec, demo)
	now := func() time.Time { return ms(time.Now()) }

	before := wardtest.TableCounts(t, env.Pool)
	checkUnchanged := func(what string) {
		t.Helper()
		after := wardtest.TableCounts(t, env.Pool)
		for _, table := range workflow.Tables {
			if after[table] != before[table] {
				t.Fatalf("%s: %s went from %d to %d rows", what, table, before[table], after[table])
			}
		}
	}
	check := func(name string, args any, token string, at time.Time, code workflow.Code, message any, field string) {
		t.Helper()
		res := c.Reject(t, name, args, token, at, code, message, field)
		checkAudited(t, env, demo, res)
		checkUnchanged(name + " " + string(code))
	}

	// INVALID_TRANSITION names the current state, who moved it there and when.
	appt := seedID("a:checkedin")
	vitalsAt := now()
	c.Act(t, "appointment.recordVitals", map[string]any{"id": appt, "vitals": vitalsArg}, nurse, vitalsAt)
	before = wardtest.TableCounts(t, env.Pool)
	check("appointment.recordVitals", map[string]any{"id": appt, "vitals": vitalsArg}, nurse, now(),
		workflow.CodeInvalidTransition, fmt.Sprintf("Appointment %s is IN_CONSULTATION (vitals entered by Infirmier Test %s), not CHECKED_IN.", appt, clockAt(vitalsAt, now())), "")
	if got := statusOf(t, env, "appointments", appt); got != "IN_CONSULTATION" {
		t.Fatalf("status %s", got)
	}

	// FORBIDDEN says who does it instead.
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, nurse, now(),
		workflow.CodeForbidden, "A NURSE cannot check in an appointment; reception (SECRETARY) does that.", "")
	check("patient.update", map[string]any{"id": seedID("patient:1"), "phone": "0"}, nurse, now(),
		workflow.CodeForbidden, "A NURSE cannot set the patient's phone number; reception (SECRETARY) or an administrator (ADMIN) does that.", "phone")

	// VALIDATION_FAILED names the field.
	hot := map[string]any{"weight": 70, "height": 170, "temperature": 50, "bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 70}
	check("appointment.recordVitals", map[string]any{"id": seedID("a:scheduled"), "vitals": hot}, nurse, now(),
		workflow.CodeValidationFailed, "Temperature 50 °C is above 45 °C.", "vitals.temperature")
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled"), "note": "x"}, sec, now(),
		workflow.CodeValidationFailed, `The field "note" is not known here; check the spelling.`, "note")
	check("appointment.close", map[string]any{"id": seedID("a:consultdone"), "billingAmount": 12.5, "billingStatus": "PENDING"}, sec, now(),
		workflow.CodeValidationFailed, `Billing amount must be text such as "120.50", not a number.`, "billingAmount")

	// NOT_FOUND names the row.
	missing := uuid.NewString()
	check("appointment.checkIn", map[string]any{"id": missing}, sec, now(),
		workflow.CodeNotFound, "Appointment "+missing+" was not found.", "id")

	// DUPLICATE_ID.
	p1 := seedID("patient:1")
	check("patient.register", map[string]any{"id": p1, "firstName": "A", "lastName": "B", "birthDate": "1980-01-01T00:00:00Z"}, sec, now(),
		workflow.CodeDuplicateID, "A patient with id "+p1+" already exists.", "id")

	// UNKNOWN_MUTATION lists what this version knows.
	check("appointment.teleport", map[string]any{"id": seedID("a:scheduled")}, sec, now(),
		workflow.CodeUnknownMutation, `Unknown act "appointment.teleport"; this version knows `+strings.Join(workflow.Names(), ", ")+".", "")

	// UNAUTHENTICATED: a token that is no session.
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, "not-a-token", now(),
		workflow.CodeUnauthenticated, "The act's session is not a session of this server; the author must log in again.", "")
	// ... a session of another workstation.
	ward := env.AddDevice(t, "Ward 2", workflow.RoleSecretary)
	otherSec := env.Login(t, workflow.RoleSecretary, ward)
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, otherSec, now(),
		workflow.CodeUnauthenticated, "The act's session was issued on another workstation; acts are accepted only from the workstation where the author logged in.", "")
	// ... an admin dashboard session (no workstation).
	dash := wardtest.LoginAs(t, env.URL(), "admin@hospital.com", "admin123", "")
	check("appointment.cancel", map[string]any{"id": seedID("a:scheduled")}, dash, now(),
		workflow.CodeUnauthenticated, "The act's session was issued on another workstation; acts are accepted only from the workstation where the author logged in.", "")
	// ... a session ended by logout, for an act after the logout.
	gone := env.Login(t, workflow.RoleSecretary, demo)
	if code, out := wardtest.PostJSON(t, env.URL()+"/api/v1/auth/logout", gone, nil); code != 200 {
		t.Fatalf("logout: %d %v", code, out)
	}
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, gone, now().Add(time.Second),
		workflow.CodeUnauthenticated, loggedOutSentence("Secrétaire Test"), "")
	// ... an act after the logout that claims to predate it: refused too
	// (docs/protocol.md, "Access that ends").
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, gone, now().Add(-time.Second),
		workflow.CodeUnauthenticated, loggedOutSentence("Secrétaire Test"), "")
	// ... an act before the login.
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, sec, now().Add(-time.Hour),
		workflow.CodeUnauthenticated, regexp.MustCompile(`^The act occurred at \d{4}-\d\d-\d\d \d\d:\d\d, before Secrétaire Test logged in at \d{4}-\d\d-\d\d \d\d:\d\d\.$`), "")

	// CLOCK_SKEW: more than 5 minutes in the server's future.
	future := now().Add(10 * time.Minute)
	check("appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, sec, future,
		workflow.CodeClockSkew, regexp.MustCompile(`^The act claims to have occurred at `+regexp.QuoteMeta(future.Format(time.RFC3339))+
			`, more than 5m0s after the server's time \S+Z; check the workstation's clock\.$`), "")

	// The device is not blocked by any of this: the next act applies.
	c.Act(t, "appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, sec, now())

	// PROTOCOL_ERROR: a seq gap refuses the whole push, nothing applied.
	before = wardtest.TableCounts(t, env.Pool)
	newPatient := uuid.NewString()
	m := c.Mut("patient.register", map[string]any{"id": newPatient, "firstName": "A", "lastName": "B", "birthDate": "1980-01-01T00:00:00Z"}, sec, now())
	last := m.Seq - 1
	m.Seq += 3
	r := c.PushFrame(t, m)
	e, ok := r.F.(*syncproto.Error)
	if !ok {
		t.Fatalf("gap answered with %s", r.Raw)
	}
	wantGap := fmt.Sprintf("Mutation seq %d leaves a gap: the server has everything up to %d, so the next must be %d; resend from %d.", m.Seq, last, last+1, last+1)
	if e.Code != workflow.CodeProtocolError || e.Message != wantGap || e.Fatal {
		t.Fatalf("gap: %s", r.Raw)
	}
	after := wardtest.TableCounts(t, env.Pool)
	if after["sync.mutations"] != before["sync.mutations"] || after["patients"] != before["patients"] {
		t.Fatalf("a refused push wrote: %v → %v", before, after)
	}
	if w := hello2(t, c); w.LastMutationSeq != last {
		t.Fatalf("lastMutationSeq %d after a gap, want %d", w.LastMutationSeq, last)
	}
	// Resending from last+1 works.
	m.Seq = last + 1
	c.Seq = m.Seq
	if res := c.Push(t, m)[0]; res.Status != syncproto.StatusApplied {
		t.Fatalf("resend after gap: %+v", res)
	}
}

// hello2 says hello on a second connection of the same device and token
// and returns the welcome: the server's view of the device.
func hello2(t testing.TB, c *wardtest.Client) *syncproto.Welcome {
	t.Helper()
	c2 := c.Server.Dial(t, c.Token, c.Device)
	defer c2.WS.Close()
	return c2.Hello(t, "")
}

// TestSessionWindow: a session authors acts offline for SessionTTL after its
// login, whenever they reach the server; an act after the window, after a
// logout, or by a disabled user is UNAUTHENTICATED.
func TestSessionWindow(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	old := env.Login(t, workflow.RoleSecretary, demo)
	oldNurse := env.Login(t, workflow.RoleNurse, demo)
	issued := ms(env.Clock.Now())
	loggedOut := env.Login(t, workflow.RoleDoctor, demo)
	if code, _ := wardtest.PostJSON(t, env.URL()+"/api/v1/auth/logout", loggedOut, nil); code != 200 {
		t.Fatal("logout")
	}

	// Eight days later the workstation comes back online.
	env.Clock.Advance(8 * 24 * time.Hour)
	fresh := env.Login(t, workflow.RoleSecretary, demo)
	c := env.Connect(t, fresh, demo)

	// Done offline within the window: accepted, at its own time.
	c.Act(t, "appointment.checkIn", map[string]any{"id": seedID("a:scheduled")}, old, issued.Add(time.Hour))
	// Done offline after the window: refused.
	late := ms(env.Clock.Now())
	expires := issued.Add(7 * 24 * time.Hour)
	res := c.Reject(t, "appointment.cancel", map[string]any{"id": seedID("a:checkedin")}, old, late, workflow.CodeUnauthenticated,
		regexp.MustCompile(`^The act occurred at `+regexp.QuoteMeta(late.Format("2006-01-02 15:04"))+`, after the session of Secrétaire Test expired at `+
			`\d{4}-\d\d-\d\d \d\d:\d\d; offline work is accepted for 168h0m0s after a login\.$`), "")
	checkAudited(t, env, demo, res)
	if !strings.Contains(res.Message, expires.Format("2006-01-02")) {
		t.Fatalf("message does not name the expiry %s: %s", expires, res.Message)
	}
	if got := statusOf(t, env, "appointments", seedID("a:checkedin")); got != "CHECKED_IN" {
		t.Fatalf("refused act changed the row: %s", got)
	}
	// An act by a session ended before it: refused.
	c.Reject(t, "prescription.sendToLab", map[string]any{"id": seedID("rx:created")}, loggedOut, late, workflow.CodeUnauthenticated,
		loggedOutSentence("Dr Médecin Test"), "")
	// A disabled user's acts are refused, even inside the window.
	if err := env.DB.DisableUser(context.Background(), nurseID); err != nil {
		t.Fatal(err)
	}
	c.Reject(t, "prescription.collectSample", map[string]any{"id": seedID("rx:sent")}, oldNurse, issued.Add(2*time.Hour), workflow.CodeUnauthenticated,
		"The account of Infirmier Test is disabled.", "")
	if got := statusOf(t, env, "prescriptions", seedID("rx:sent")); got != "SENT_TO_LAB" {
		t.Fatalf("refused act changed the row: %s", got)
	}
}

// loggedOutSentence is the refusal of an act that reached the server after
// its author's logout.
func loggedOutSentence(name string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(name) + ` logged out at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, before this act reached the server; ` +
		`an act that arrives after its author's logout is refused, whatever time it gives\.$`)
}
