package soak

// Hostile input and access, filling what server/http's own tests leave
// out (they already cover: no token and a forged token on /sync, a
// disabled user's token, a logged-out or revoked workstation, frames over
// 1 MiB, unreadable frames and 70-level nesting, NUL in arguments, the
// 5-minute clock skew, the session window, the login limits). Here:
// every act by every role that may not perform it, through /sync; author
// tokens of another user on another workstation, of an ended session, of
// an expired one (the server's clock moved on), issued after the act; a
// workstation pushing for a role it no longer serves; a thousand login
// attempts against the limits; X-Forwarded-For written by the client; a
// session that expires on an open socket; 10 MB frames and bodies, invalid
// UTF-8, raw NUL bytes, binary messages, 100,000 levels of nesting;
// slowloris headers, a slow body, an oversized header and trailing JSON
// (hostile_http_test.go). Each is refused with its documented error,
// writes nothing (rows counted), and the server goes on serving a
// bystander.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

func msNow(c *wardtest.Clock) time.Time { return c.Now().UTC().Truncate(time.Millisecond) }
func seedRow(name string) string        { return postgres.SeedID(name) }
func jsonOf(v any) string               { return string(wardtest.MustJSON(v)) }

// hostileServer is a wardtest server with the production login limits and
// a clock the tests move (the server's, and its database's).
type hostileServer struct {
	*wardtest.Server
	t *testing.T
}

func newHostile(t *testing.T) *hostileServer {
	t.Helper()
	return newHostileWith(t, nil)
}

// newHostileWith is newHostile with a change to the server before it
// opens (shorter timeouts).
func newHostileWith(t *testing.T, setup func(*httpserver.Server)) *hostileServer {
	t.Helper()
	clock := &wardtest.Clock{}
	return startHostile(t, wardtest.Options{Clock: clock, Configure: func(srv *httpserver.Server) {
		srv.Now = clock.Now
		if setup != nil {
			setup(srv)
		}
	}})
}

func startHostile(t *testing.T, o wardtest.Options) *hostileServer {
	t.Helper()
	o.ProductionLoginLimits = true
	cfg := o.Config
	o.Config = func(c *postgres.Config) {
		c.MaxConns = postgres.DefaultConfig().MaxConns
		if cfg != nil {
			cfg(c)
		}
	}
	return &hostileServer{Server: wardtest.StartServer(t, o), t: t}
}

// postLogin posts a login from the given local address (nil: any).
func (e *hostileServer) postLogin(from net.IP, body any) (int, map[string]any, http.Header) {
	tr := &http.Transport{DisableKeepAlives: true}
	if from != nil {
		tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: from}}).DialContext
	}
	code, out, h, err := wardtest.PostLogin(&http.Client{Transport: tr, Timeout: 30 * time.Second}, e.URL(), body, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return code, out, h
}

// counts are the rows of every table, sessions included.
func (e *hostileServer) counts() map[string]int64 {
	out := wardtest.TableCounts(e.t, e.Pool)
	out["sync.sessions"] = wardtest.Count(e.t, e.Pool, `SELECT count(*) FROM sync.sessions`)
	return out
}

// unchanged fails unless the counts are as before, except those in grew
// (table → expected growth).
func (e *hostileServer) unchanged(what string, before map[string]int64, grew map[string]int64) {
	e.t.Helper()
	after := e.counts()
	for k, v := range before {
		if after[k] != v+grew[k] {
			e.t.Fatalf("%s: %s went from %d to %d rows (expected +%d)", what, k, v, after[k], grew[k])
		}
	}
}

// bystander is a workstation that keeps working while others misbehave.
type bystander struct {
	e          *hostileServer
	w          *wardtest.Client
	dev, token string
}

// bystander is a receptionist of her own (so that what a test does to the
// seed's users does not touch her) on a workstation of her own.
func (e *hostileServer) bystander() *bystander {
	e.t.Helper()
	dev := e.AddDevice(e.t, "Bystander ward", workflow.RoleSecretary)
	if _, err := e.DB.AddUser(context.Background(), "Bea Stander", "bystander@hospital.com", "bystander123", workflow.RoleSecretary); err != nil {
		e.t.Fatal(err)
	}
	b := &bystander{e: e, dev: dev}
	b.relogin()
	b.w = e.Connect(e.t, b.token, dev)
	return b
}

// relogin gives the bystander a fresh session (after the clock jumped).
func (b *bystander) relogin() {
	b.e.t.Helper()
	code, out, _ := b.e.postLogin(net.IPv4(127, 0, 0, 9), wardtest.LoginBody("bystander@hospital.com", "bystander123", b.dev))
	if code != 200 {
		b.e.t.Fatalf("bystander login: %d %v", code, out)
	}
	b.token = out["token"].(string)
}

// stillServing: the bystander registers a patient and pulls it back.
func (b *bystander) stillServing(what string) {
	b.e.t.Helper()
	p := uuid.NewString()
	res := b.w.Push(b.e.t, b.w.Mut("patient.register", map[string]any{"id": p, "firstName": "By", "lastName": "Stander", "birthDate": "1990-01-01T00:00:00Z"},
		b.token, msNow(b.e.Clock)))
	if res[0].Status != syncproto.StatusApplied {
		b.e.t.Fatalf("after %s: the bystander's act was %s %s", what, res[0].Code, res[0].Message)
	}
	cursor := ""
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ch, err := b.w.PullErr(cursor, 0)
		if err != nil {
			b.e.t.Fatalf("after %s: pull not answered with changes", what)
		}
		for _, c := range ch.Changes {
			if c.Table == "patients" && c.ID == p {
				return
			}
		}
		cursor = ch.Cursor
		if !ch.More {
			time.Sleep(50 * time.Millisecond)
		}
	}
	b.e.t.Fatalf("after %s: the bystander never pulled its own patient", what)
}

// ---- Role escalation ----

// seedAt names the seed's row of a table standing in a status.
var seedAt = map[string]string{
	workflow.TableAppointments + "/" + string(workflow.AppointmentScheduled):             "a:scheduled",
	workflow.TableAppointments + "/" + string(workflow.AppointmentCheckedIn):             "a:checkedin",
	workflow.TableAppointments + "/" + string(workflow.AppointmentInConsultation):        "a:inconsult",
	workflow.TableAppointments + "/" + string(workflow.AppointmentConsultationCompleted): "a:consultdone",
	workflow.TableAppointments + "/" + string(workflow.AppointmentCompleted):             "a:completed",
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionCreated):             "rx:created",
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionSentToLab):           "rx:sent",
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionSampleCollected):     "rx:collected",
	workflow.TablePrescriptions + "/" + string(workflow.PrescriptionInProgress):          "rx:inprogress",
	workflow.TablePatients: "patient:1",
	workflow.TableResults:  "result:available",
}

// validArgs are an act's example arguments (workflow.Example) on the
// seed's rows: the row of its path's table in the first status the act
// applies in, the first patient (the second for a second one), a new id
// for its own new row (and for a row the seed lacks); only the role is
// wrong.
func validArgs(name string) map[string]any {
	pathTable, want, _, _, _, onPath := workflow.Path(name)
	raw, ok := workflow.Example(name, func(r workflow.Ref) string {
		key := r.Table
		switch {
		case r.Table == workflow.TableUsers:
			return wardtest.UserID(r.Role)
		case r.New:
			return uuid.NewString()
		case r.Other && r.Table == workflow.TablePatients:
			return seedRow("patient:2")
		case onPath && r.Table == pathTable:
			key += "/" + want[0]
		}
		if row, found := seedAt[key]; found {
			return seedRow(row)
		}
		return uuid.NewString()
	})
	if !ok {
		panic("no example arguments for " + name)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

// forbiddenBy asks the workflow what it tells role about name (the role
// check comes before any row is read, so no reader is needed).
func forbiddenBy(t *testing.T, name string, role workflow.Role, args any) *workflow.Rejection {
	t.Helper()
	_, err := workflow.Apply(context.Background(), noRows{t}, workflow.Mutation{ID: "x", Name: name, Args: wardtest.MustJSON(args),
		Actor: workflow.Actor{ID: wardtest.UserID(role), Role: role}, OccurredAt: time.Now()})
	r, ok := workflow.AsRejection(err)
	if !ok || r.Code != workflow.CodeForbidden {
		t.Fatalf("the workflow lets a %s perform %s with %v: %v", role, name, args, err)
	}
	return r
}

type noRows struct{ t *testing.T }

func (n noRows) fail() error { n.t.Fatal("a forbidden act read rows"); return nil }
func (n noRows) User(context.Context, string) (*workflow.User, error) {
	return nil, n.fail()
}
func (n noRows) Patient(context.Context, string) (*workflow.Patient, error) {
	return nil, n.fail()
}
func (n noRows) Appointment(context.Context, string) (*workflow.Appointment, error) {
	return nil, n.fail()
}
func (n noRows) Prescription(context.Context, string) (*workflow.Prescription, error) {
	return nil, n.fail()
}
func (n noRows) Result(context.Context, string) (*workflow.Result, error) { return nil, n.fail() }
func (n noRows) ResultByPrescription(context.Context, string) (*workflow.Result, error) {
	return nil, n.fail()
}
func (n noRows) Document(context.Context, string) (*workflow.Document, error) {
	return nil, n.fail()
}
func (n noRows) PatientRecords(context.Context, string) (*workflow.PatientRecords, error) {
	return nil, n.fail()
}

// TestRoleEscalation: every act, by every role that may not perform it,
// through /sync on a workstation that serves every role: FORBIDDEN with the
// workflow's sentence (who may not, who does instead), in the push result
// and in the audit log; no row written; the workstation goes on.
func TestRoleEscalation(t *testing.T) {
	t.Parallel()
	e := newHostile(t)
	dev := e.AddDevice(e.t, "Every role", workflow.Roles...)
	tok := map[workflow.Role]string{}
	for _, r := range workflow.Roles {
		tok[r] = e.Login(e.t, r, dev)
	}
	w := e.Connect(e.t, tok[workflow.RoleSecretary], dev)
	by := e.bystander()

	type attempt struct {
		name string
		role workflow.Role
		args map[string]any
		want *workflow.Rejection
	}
	var attempts []attempt
	for _, name := range workflow.Names() {
		allowed := map[workflow.Role]bool{}
		for _, r := range workflow.AllowedRoles(name) {
			allowed[r] = true
		}
		for _, r := range workflow.Roles {
			if !allowed[r] {
				a := validArgs(name)
				attempts = append(attempts, attempt{name, r, a, forbiddenBy(t, name, r, a)})
			}
		}
	}
	// patient.update: each role only its own fields.
	for _, c := range []struct {
		role  workflow.Role
		field string
		value any
	}{
		{workflow.RoleNurse, "phone", "0600000000"}, {workflow.RoleDoctor, "address", "1 rue X"},
		{workflow.RoleNurse, "firstName", "Eve"}, {workflow.RoleDoctor, "insurance", "X"},
		{workflow.RoleSecretary, "medicalHistory", map[string]any{"a": 1}}, {workflow.RoleAdmin, "medicalHistory", map[string]any{"a": 1}},
	} {
		a := map[string]any{"id": seedRow("patient:1"), c.field: c.value}
		attempts = append(attempts, attempt{"patient.update", c.role, a, forbiddenBy(t, "patient.update", c.role, a)})
	}
	if len(attempts) < 40 {
		t.Fatalf("only %d attempts", len(attempts))
	}

	before := e.counts()
	at := msNow(e.Clock)
	var muts []syncproto.Mutation
	for _, a := range attempts {
		muts = append(muts, w.Mut(a.name, a.args, tok[a.role], at))
	}
	res := w.Push(t, muts...)
	for i, r := range res {
		a := attempts[i]
		if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeForbidden || r.Message != a.want.Message || r.Field != a.want.Field {
			t.Errorf("%s as %s: %s %s %q (field %q), want FORBIDDEN %q (field %q)", a.name, a.role, r.Status, r.Code, r.Message, r.Field, a.want.Message, a.want.Field)
		}
		var outcome, code, msg string
		if err := e.Pool.QueryRow(context.Background(), `SELECT outcome, code, message FROM sync.mutations WHERE device_id = $1 AND seq = $2`,
			dev, muts[i].Seq).Scan(&outcome, &code, &msg); err != nil || outcome != "rejected" || code != "FORBIDDEN" || msg != a.want.Message {
			t.Errorf("%s as %s: audited %s %s %q (%v)", a.name, a.role, outcome, code, msg, err)
		}
	}
	e.unchanged("role escalation", before, map[string]int64{"sync.mutations": int64(len(attempts))})
	t.Logf("%d escalation attempts refused (%d acts × wrong roles, %d patient fields)", len(attempts), len(attempts)-6, 6)

	// The same workstation goes on: each act by a role that may perform it applies.
	ok := w.Push(t, w.Mut("appointment.checkIn", validArgs("appointment.checkIn"), tok[workflow.RoleSecretary], msNow(e.Clock)))
	if ok[0].Status != syncproto.StatusApplied {
		t.Fatalf("a legitimate act after the attempts: %+v", ok[0])
	}
	by.stillServing("role escalation")
}

// ---- Forged authors ----

// TestForgedAuthor: acts whose authorToken does not make a real author on
// this workstation at that moment are UNAUTHENTICATED, audited, and write
// nothing; the workstation is not blocked by them.
func TestForgedAuthor(t *testing.T) {
	t.Parallel()
	e := newHostile(t)
	ward := e.AddDevice(e.t, "Ward 1", workflow.Roles...)
	other := e.AddDevice(e.t, "Ward 2", workflow.Roles...)
	sec := e.Login(e.t, workflow.RoleSecretary, ward)
	w := e.Connect(e.t, sec, ward)
	by := e.bystander()
	checkIn := func() map[string]any { return map[string]any{"id": seedRow("a:scheduled")} }

	cases := []struct {
		what  string
		token func() string
		at    func() time.Time
		msg   *regexp.Regexp
	}{
		{"another user's token from another workstation",
			func() string { return e.Login(e.t, workflow.RoleAdmin, other) },
			func() time.Time { return msNow(e.Clock) },
			regexp.MustCompile(`^The act's session was issued on another workstation; acts are accepted only from the workstation where the author logged in\.$`)},
		{"an ended session (logged out before the act)",
			func() string {
				tok := e.Login(e.t, workflow.RoleAdmin, ward)
				if err := e.DB.Logout(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
				return tok
			},
			func() time.Time { return msNow(e.Clock).Add(time.Second) },
			regexp.MustCompile(`^Admin Test logged out at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, before this act reached the server; an act that arrives after its author's logout is refused, whatever time it gives\.$`)},
		{"an ended session, the act backdated to before the logout",
			func() string {
				tok := e.Login(e.t, workflow.RoleAdmin, ward)
				if err := e.DB.Logout(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
				return tok
			},
			func() time.Time { return msNow(e.Clock).Add(-time.Second) },
			regexp.MustCompile(`^Admin Test logged out at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, before this act reached the server; an act that arrives after its author's logout is refused, whatever time it gives\.$`)},
		{"a token issued after the act occurred",
			func() string { return e.Login(e.t, workflow.RoleAdmin, ward) },
			func() time.Time { return msNow(e.Clock).Add(-2 * time.Hour) },
			regexp.MustCompile(`^The act occurred at \d{4}-\d\d-\d\d \d\d:\d\d, before Admin Test logged in at \d{4}-\d\d-\d\d \d\d:\d\d\.$`)},
		{"a made-up token",
			func() string { return "wardsync-" + strings.Repeat("A", 40) },
			func() time.Time { return msNow(e.Clock) },
			regexp.MustCompile(`^The act's session is not a session of this server; the author must log in again\.$`)},
	}
	for _, c := range cases {
		tok := c.token()
		before := e.counts()
		m := w.Mut("appointment.cancel", checkIn(), tok, c.at())
		r := w.Push(t, m)[0]
		if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeUnauthenticated || !c.msg.MatchString(r.Message) {
			t.Errorf("%s: %s %s %q", c.what, r.Status, r.Code, r.Message)
		}
		e.unchanged(c.what, before, map[string]int64{"sync.mutations": 1})
	}

	// Expired: the session was issued eight days ago by the server's clock.
	old := e.Login(e.t, workflow.RoleAdmin, ward)
	e.Clock.Advance(8 * 24 * time.Hour)
	fresh := e.Login(e.t, workflow.RoleSecretary, ward)
	w2 := e.Connect(e.t, fresh, ward)
	before := e.counts()
	r := w2.Push(t, w2.Mut("appointment.cancel", checkIn(), old, msNow(e.Clock)))[0]
	if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeUnauthenticated ||
		!regexp.MustCompile(`^The act occurred at .*, after the session of Admin Test expired at .*; offline work is accepted for 168h0m0s after a login\.$`).MatchString(r.Message) {
		t.Errorf("expired session: %s %s %q", r.Status, r.Code, r.Message)
	}
	e.unchanged("expired session", before, map[string]int64{"sync.mutations": 1})
	// The expired token cannot open /sync either.
	if _, resp, err := wardtest.DialConn(e.URL(), old, 0); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an expired token opened /sync: %v", err)
	}

	by.relogin()
	// None of it blocked the workstation.
	if r := w2.Push(t, w2.Mut("appointment.checkIn", checkIn(), fresh, msNow(e.Clock)))[0]; r.Status != syncproto.StatusApplied {
		t.Fatalf("legitimate act after the forgeries: %+v", r)
	}
	by.stillServing("forged authors")
}

// TestRoleNotServed: a session stays valid when the administrator changes
// what the workstation serves, or the user's role, but its acts for a role
// the workstation no longer serves are FORBIDDEN.
func TestRoleNotServed(t *testing.T) {
	t.Parallel()
	e := newHostile(t)
	ctx := context.Background()
	dev := e.AddDevice(e.t, "Ward 3", workflow.RoleNurse, workflow.RoleSecretary)
	nurse := e.Login(e.t, workflow.RoleNurse, dev)
	sec := e.Login(e.t, workflow.RoleSecretary, dev)
	// The socket is the nurse's session: the secretary's role change below
	// ends her sessions, and a socket opened with one of them would close.
	w := e.Connect(e.t, nurse, dev)
	by := e.bystander()

	// The ward now serves reception only.
	if _, err := e.DB.AddDevice(ctx, dev, "Ward 3", []workflow.Role{workflow.RoleSecretary}); err != nil {
		t.Fatal(err)
	}
	before := e.counts()
	r := w.Push(t, w.Mut("appointment.recordVitals", validArgs("appointment.recordVitals"), nurse, msNow(e.Clock)))[0]
	if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeForbidden || r.Message != "This workstation does not serve the NURSE role." {
		t.Errorf("nurse on a reception-only ward: %s %s %q", r.Status, r.Code, r.Message)
	}
	e.unchanged("role not served", before, map[string]int64{"sync.mutations": 1})

	// A user whose role changes loses her sessions: her acts after the
	// change are refused, and acts she did before it still count.
	before = e.counts()
	ok := w.Push(t, w.Mut("appointment.checkIn", validArgs("appointment.checkIn"), sec, msNow(e.Clock)))[0]
	if ok.Status != syncproto.StatusApplied {
		t.Fatalf("the secretary's act before the change: %+v", ok)
	}
	e.unchanged("an act before the change", before, map[string]int64{"sync.mutations": 1, "appointments": 0, "sync.changes": 1})
	if err := e.DB.SetUserRole(ctx, wardtest.UserID(workflow.RoleSecretary), workflow.RoleBiologist); err != nil {
		t.Fatal(err)
	}
	before = e.counts()
	r = w.Push(t, w.Mut("appointment.cancel", map[string]any{"id": seedRow("a:checkedin")}, sec, msNow(e.Clock).Add(time.Second)))[0]
	if r.Status != syncproto.StatusRejected || r.Code != workflow.CodeUnauthenticated ||
		!regexp.MustCompile(`^The role of Secrétaire Test was changed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; log in again\.$`).MatchString(r.Message) {
		t.Errorf("a user whose role changed: %s %s %q", r.Status, r.Code, r.Message)
	}
	e.unchanged("role changed", before, map[string]int64{"sync.mutations": 1})
	// Logged in again as BIOLOGIST on the reception ward: refused at login.
	if code, out, _ := e.postLogin(nil, wardtest.LoginBody(wardtest.Email(workflow.RoleSecretary), wardtest.Password(workflow.RoleSecretary), dev)); code != 403 ||
		out["message"] != `Workstation "Ward 3" serves SECRETARY, not BIOLOGIST; log in on a workstation of your service.` {
		t.Errorf("login as the new role on a ward not serving it: %d %v", code, out)
	}
	by.stillServing("role not served")
}

// ---- A thousand logins ----

// TestLoginFlood: a thousand attempts at one account, and a thousand at
// made-up accounts from another address, with the default free failures (5
// per account, 30 per address) and a 1 s cap on the delay: exactly the free
// number get an answer, every other one 429 RATE_LIMITED with Retry-After
// and its sentence, even with the right password — the counts are exact
// however many arrive at once, as each attempt is counted before its
// password is checked; nothing is written but sessions; other addresses,
// other accounts and connected workstations go on. A registered
// workstation's right password is never refused: it is held for at most
// the cap and gets in. Once the delay passes, the account logs in anywhere.
func TestLoginFlood(t *testing.T) {
	t.Parallel()
	e := newHostile(t)
	limits := httpserver.DefaultLoginLimits()
	limits.MaxDelay = time.Second
	e.HTTP.SetLoginPolicy(limits)
	// The delays must not pass however long a loaded machine takes: the
	// server's clock stands still until advanced.
	e.Clock.Freeze()
	dev := e.AddDevice(e.t, "Ward 4", workflow.Roles...)
	by := e.bystander()
	before := e.counts()
	limited := regexp.MustCompile(`^Too many failed logins for this account or from this address; try again in 1 seconds\.$`)

	flood := func(from net.IP, body func(i int) map[string]string) map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		wardtest.Parallel(1000, 8, func(i int) error {
			code, out, h := e.postLogin(from, body(i))
			if code == http.StatusTooManyRequests && (out["code"] != "RATE_LIMITED" || h.Get("Retry-After") != "1" ||
				!limited.MatchString(fmt.Sprint(out["message"]))) {
				t.Errorf("429 without its documented body: %v %v", out, h)
			}
			if code == http.StatusUnauthorized && (out["code"] != "UNAUTHENTICATED" || out["message"] != "Wrong e-mail or password.") {
				t.Errorf("401 without its documented body: %v", out)
			}
			mu.Lock()
			statuses[code]++
			mu.Unlock()
			return nil
		})
		return statuses
	}
	local := net.IPv4(127, 0, 0, 1)
	got := flood(local, func(int) map[string]string {
		return map[string]string{"email": "nurse@hospital.com", "password": "guess"}
	})
	if got[401] != 5 || got[429] != 995 || len(got) != 2 {
		t.Fatalf("1,000 guesses at one account: %v, want 5 × 401 and 995 × 429", got)
	}
	// The right password is refused too while the delay lasts, in any
	// spelling of the e-mail, unless it comes from a registered workstation.
	if code, out, _ := e.postLogin(local, map[string]string{"email": " Nurse@Hospital.com", "password": "nurse123"}); code != 429 {
		t.Fatalf("right password during the delay: %d %v", code, out)
	}
	start := time.Now()
	if code, out, _ := e.postLogin(local, wardtest.LoginBody("nurse@hospital.com", "nurse123", dev)); code != 200 {
		t.Fatalf("the registered workstation's right password during the delay: %d %v", code, out)
	}
	if held := time.Since(start); held < 900*time.Millisecond {
		t.Fatalf("the workstation's login was not held for the delay: %s", held)
	}
	// Another account from another address logs in at once.
	if code, out, _ := e.postLogin(net.IPv4(127, 0, 0, 4), wardtest.LoginBody(wardtest.Email(workflow.RoleDoctor), wardtest.Password(workflow.RoleDoctor), dev)); code != 200 {
		t.Fatalf("another account during the flood: %d %v", code, out)
	}

	// Credential stuffing: a thousand made-up accounts from one address.
	stuffer := net.IPv4(127, 0, 0, 3)
	got = flood(stuffer, func(i int) map[string]string {
		return map[string]string{"email": fmt.Sprintf("user%d@example.com", i), "password": "123456"}
	})
	if got[401] != 30 || got[429] != 970 || len(got) != 2 {
		t.Fatalf("1,000 made-up accounts from one address: %v, want 30 × 401 and 970 × 429", got)
	}
	// A real user at that address is held back too; from another address, not.
	if code, _, _ := e.postLogin(stuffer, map[string]string{"email": wardtest.Email(workflow.RoleAdmin), "password": wardtest.Password(workflow.RoleAdmin)}); code != 429 {
		t.Fatalf("the flooding address may log in: %d", code)
	}
	if code, out, _ := e.postLogin(net.IPv4(127, 0, 0, 2), wardtest.LoginBody(wardtest.Email(workflow.RoleAdmin), wardtest.Password(workflow.RoleAdmin), dev)); code != 200 {
		t.Fatalf("another address during the flood: %d %v", code, out)
	}
	// Only the three successful logins wrote (a session each).
	e.unchanged("login flood", before, map[string]int64{"sync.sessions": 3})
	by.stillServing("login flood")

	// Once the delay has passed, the stuffing address logs in again.
	e.Clock.Advance(limits.MaxDelay)
	if code, out, _ := e.postLogin(stuffer, wardtest.LoginBody("secretary@hospital.com", wardtest.Password(workflow.RoleSecretary), dev)); code != 200 {
		t.Fatalf("after the delay: %d %v", code, out)
	}
}

// TestSpoofedForwardedFor: a client that writes X-Forwarded-For itself,
// with no trusted proxy in between, is counted and logged by its own
// address: changing the header each time does not reset its limit.
func TestSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	e := newHostile(t)
	e.Clock.Freeze()
	e.HTTP.SetLoginLimits(1000, 3)
	post := func(i int) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL()+"/api/v1/auth/login",
			strings.NewReader(jsonOf(map[string]string{"email": fmt.Sprintf("ghost%d@example.com", i), "password": "x"})))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	for i := 0; i < 3; i++ {
		if code, out := post(i); code != 401 {
			t.Fatalf("guess %d: %d %v", i, code, out)
		}
	}
	if code, out := post(3); code != 429 || out["code"] != "RATE_LIMITED" {
		t.Fatalf("a fresh X-Forwarded-For reset the limit: %d %v", code, out)
	}
	var spoofed, peer int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM sync.security_events WHERE address LIKE '198.51.100.%'),
		(SELECT count(*) FROM sync.security_events WHERE kind = 'login_failed' AND address = '127.0.0.1')`).Scan(&spoofed, &peer); err != nil {
		t.Fatal(err)
	}
	if spoofed != 0 || peer != 4 {
		t.Fatalf("security log: %d events from spoofed addresses, %d from the peer (want 0 and 4)", spoofed, peer)
	}
}

// TestExpiredSessionOnOpenSocket: a socket whose session expires while it
// is open is closed at the expiry with 4401 and the sentence, though no one
// acted; its token then opens nothing.
func TestExpiredSessionOnOpenSocket(t *testing.T) {
	t.Parallel()
	e := startHostile(t, wardtest.Options{Config: func(c *postgres.Config) { c.SessionTTL = 2 * time.Second }})
	dev := e.AddDevice(e.t, "Ward 6", workflow.RoleNurse)
	tok := e.Login(e.t, workflow.RoleNurse, dev)
	c, _, err := wardtest.DialConn(e.URL(), tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(&syncproto.Hello{RequestID: "h", Protocol: syncproto.Version, DeviceID: dev}); err != nil {
		t.Fatal(err)
	}
	var last []byte
	_ = c.WS.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := c.WS.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != httpserver.SessionEndedCloseCode ||
				!regexp.MustCompile(`^The session of Infirmier Test expired at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; log in again\.$`).MatchString(ce.Text) {
				t.Fatalf("closed with %v, want 4401 and the expiry sentence", err)
			}
			break
		}
		last = data
	}
	f, err := syncproto.DecodeFromServer(last)
	if ef, ok := f.(*syncproto.Error); err != nil || !ok || ef.Code != workflow.CodeUnauthenticated || !ef.Fatal {
		t.Fatalf("the last frame is not a fatal UNAUTHENTICATED error: %s", last)
	}
	if _, resp, err := wardtest.DialConn(e.URL(), tok, 0); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("the expired token opened /sync again: %v", err)
	}
}

// ---- Hostile frames ----

// TestHostileFrames: what server/http's hostile test leaves out — 10 MB
// frames (string members and arguments), invalid UTF-8, raw NUL bytes, a
// binary message, 100,000 levels of nesting in a mutation's arguments, and
// 10 MB HTTP bodies and headers. Each gets its documented error frame and
// close (or HTTP status), writes nothing, and the server keeps serving.
func TestHostileFrames(t *testing.T) {
	t.Parallel()
	e := newHostile(t)
	dev := e.AddDevice(e.t, "Ward 5", workflow.Roles...)
	sec := e.Login(e.t, workflow.RoleSecretary, dev)
	by := e.bystander()
	push := func(args string) []byte {
		return []byte(`{"type":"push","requestId":"x","mutations":[{"seq":1,"id":"` + uuid.NewString() +
			`","name":"patient.register","args":` + args + `,"occurredAt":"2026-01-01T00:00:00Z","authorToken":"` + sec + `"}]}`)
	}
	tenMB := strings.Repeat("é", 5<<20) // 10 MiB of UTF-8
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	cases := []struct {
		what  string
		typ   int
		data  []byte
		code  workflow.Code
		msg   string // "" = syncproto's own verdict
		close int
	}{
		{"a 10 MB string member", websocket.TextMessage, []byte(`{"type":"pull","requestId":"x","cursor":"` + tenMB + `"}`),
			workflow.CodeProtocolError, "frame of more than 1048576 bytes exceeds the 1 MiB limit", websocket.CloseMessageTooBig},
		{"10 MB of arguments", websocket.TextMessage, push(`{"firstName":"` + tenMB + `"}`),
			workflow.CodeProtocolError, "frame of more than 1048576 bytes exceeds the 1 MiB limit", websocket.CloseMessageTooBig},
		{"invalid UTF-8 in a member", websocket.TextMessage, []byte("{\"type\":\"pull\",\"requestId\":\"x\",\"cursor\":\"\xff\xfe\"}"),
			workflow.CodeProtocolError, "", websocket.ClosePolicyViolation},
		{"invalid UTF-8 in arguments", websocket.TextMessage, push("{\"firstName\":\"Jo\xc3\x28\"}"),
			workflow.CodeProtocolError, "", websocket.ClosePolicyViolation},
		{"a raw NUL byte in a string", websocket.TextMessage, []byte("{\"type\":\"pull\",\"requestId\":\"x\",\"cursor\":\"a\x00b\"}"),
			workflow.CodeProtocolError, "", websocket.ClosePolicyViolation},
		{"a NUL byte between members", websocket.TextMessage, []byte("{\"type\":\"pull\",\x00\"requestId\":\"x\",\"cursor\":\"\"}"),
			workflow.CodeProtocolError, "", websocket.ClosePolicyViolation},
		{"100,000 levels of nesting in arguments", websocket.TextMessage, push(`{"firstName":` + deep + `}`),
			workflow.CodeProtocolError, "", websocket.ClosePolicyViolation},
		{"a binary message", websocket.BinaryMessage, []byte(`{"type":"pull","requestId":"x","cursor":""}`),
			workflow.CodeProtocolError, "Frames are JSON text messages; a binary message was received.", websocket.ClosePolicyViolation},
	}
	for _, c := range cases {
		before := e.counts()
		w := e.Connect(e.t, sec, dev)
		if err := w.WriteMessage(c.typ, c.data); err != nil {
			t.Fatalf("%s: write: %v", c.what, err)
		}
		want := c.msg
		if want == "" {
			_, err := syncproto.DecodeFromClient(c.data)
			r, ok := workflow.AsRejection(err)
			if !ok || r.Code != c.code {
				t.Fatalf("%s: syncproto says %v", c.what, err)
			}
			want = r.Message
		}
		f := w.Next(t).F
		ef, ok := f.(*syncproto.Error)
		if !ok || ef.Code != c.code || ef.Message != want || !ef.Fatal {
			t.Fatalf("%s: answered %#v, want a fatal %s %q", c.what, f, c.code, want)
		}
		if got := w.WaitClosed(t); got != c.close {
			t.Fatalf("%s: closed with %d, want %d", c.what, got, c.close)
		}
		e.unchanged(c.what, before, nil)
		by.stillServing(c.what)
	}

	// A NUL in a mutation's arguments, escaped: the frame is fine, the act
	// is refused and audited (its text could not be stored).
	w := e.Connect(e.t, sec, dev)
	before := e.counts()
	r := w.Push(t, w.Mut("patient.register", json.RawMessage(`{"id":"`+uuid.NewString()+`","firstName":"A\u0000","lastName":"B","birthDate":"1980-01-01T00:00:00Z"}`),
		sec, msNow(e.Clock)))[0]
	if r.Code != workflow.CodeValidationFailed || r.Field != "firstName" {
		t.Errorf("escaped NUL: %+v", r)
	}
	e.unchanged("escaped NUL", before, map[string]int64{"sync.mutations": 1})

	// HTTP: a 10 MB login body, a 10 MB bearer token.
	before = e.counts()
	resp, err := http.Post(e.HTTP.URL()+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"nurse@hospital.com","password":"`+tenMB+`","deviceId":"`+dev+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 400 || out["code"] != "VALIDATION_FAILED" || !strings.Contains(fmt.Sprint(out["message"]), "request body too large") {
		t.Errorf("10 MB login body: %d %v", resp.StatusCode, out)
	}
	req, _ := http.NewRequest("GET", e.HTTP.URL()+"/sync", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 10<<20))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("10 MB token: %d", resp.StatusCode)
		}
	} // (the server may also just close the connection)
	e.unchanged("10 MB HTTP requests", before, nil)
	by.stillServing("10 MB HTTP requests")
}

// TestJSONNumbersAgreeWithPostgres: free-form JSON (medical history, result
// data) may hold any number jsonb can store and no other. The workstation's
// mutator decides before the server's database sees it, so their rules must
// agree: for numbers at and around numeric's limits, the act is applied
// exactly when PostgreSQL's own jsonb input takes the value, and otherwise
// refused by the workflow (VALIDATION_FAILED on the field), never by the
// database after a workstation accepted it.
func TestJSONNumbersAgreeWithPostgres(t *testing.T) {
	t.Parallel()
	e := newHostile(t)
	ctx := context.Background()
	dev := e.AddDevice(e.t, "Ward 6", workflow.RoleNurse)
	nurse := e.Login(e.t, workflow.RoleNurse, dev)
	w := e.Connect(e.t, nurse, dev)
	nums := []string{"0", "-0.0", "12.5", "1e-1000", "0e999999", "0e-16383", "0e-16384", "0.0e-16384", "1e-16383", "1e-16384",
		"1.0e-16383", "10e-16384", "1.5e-16400", "1e131071", "1e131072", "0.5e131072", "0.05e131073", "0.05e131074", "123e131069",
		"123e131070", "-123e131070", "1e999999", "1e-999999", "0e1073741822", "0e1073741823", "0e-1073741823", "1e2147483648",
		"1E+131071", "1E+131072", "9.99e131070", "0.000001e131077", "0.000001e131078"}
	var muts []syncproto.Mutation
	for _, n := range nums {
		muts = append(muts, w.Mut("patient.update", json.RawMessage(`{"id":"`+seedRow("patient:2")+`","medicalHistory":{"n":`+n+`}}`), nurse, msNow(e.Clock)))
	}
	res := w.Push(t, muts...)
	for i, n := range nums {
		var pgOK bool
		_, err := e.Pool.Exec(ctx, `SELECT $1::jsonb`, `{"n":`+n+`}`)
		pgOK = err == nil
		r := res[i]
		switch {
		case pgOK && r.Status != syncproto.StatusApplied:
			t.Errorf("%s: jsonb takes it, the act was %s %s %q", n, r.Status, r.Code, r.Message)
		case !pgOK && (r.Status != syncproto.StatusRejected || r.Code != workflow.CodeValidationFailed || r.Field != "medicalHistory" ||
			!strings.Contains(r.Message, "too large or too precise")):
			t.Errorf("%s: jsonb refuses it (%v), the act was %s %s %q (field %q)", n, err, r.Status, r.Code, r.Message, r.Field)
		}
	}
}
