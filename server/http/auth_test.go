package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestNeedToKnow checks the raw frames a lab workstation and a reception
// workstation receive, in the initial snapshot and in live changes: only
// what their roles may read ever leaves the server.
func TestNeedToKnow(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	lab := env.AddDevice(t, "Laboratoire", workflow.RoleBiologist)
	desk := env.AddDevice(t, "Accueil", workflow.RoleSecretary)
	labC := env.Connect(t, env.Login(t, workflow.RoleBiologist, lab), lab)
	deskC := env.Connect(t, env.Login(t, workflow.RoleSecretary, desk), desk)
	labF, deskF := wardtest.Follow(t, labC, 0), wardtest.Follow(t, deskC, 0)

	// Live: a whole visit with marked clinical and billing text, on the demo workstation.
	tok := map[workflow.Role]string{}
	for _, r := range workflow.Roles {
		tok[r] = env.Login(t, r, demo)
	}
	c := env.Connect(t, tok[workflow.RoleSecretary], demo)
	now := ms(time.Now())
	P, A, RX, R := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	c.Act(t, "patient.register", map[string]any{"id": P, "firstName": "Secret", "lastName": "Patient", "birthDate": "1970-01-01T00:00:00Z",
		"phone": "PHONE-MARK", "insurance": "INSURANCE-MARK"}, tok[workflow.RoleSecretary], now)
	c.Act(t, "patient.update", map[string]any{"id": P, "medicalHistory": map[string]any{"note": "HISTORY-MARK"}}, tok[workflow.RoleDoctor], now)
	c.Act(t, "appointment.schedule", map[string]any{"id": A, "patientId": P, "doctorId": doctorID, "date": now.Format(time.RFC3339), "motif": "MOTIF-MARK"}, tok[workflow.RoleSecretary], now)
	c.Act(t, "appointment.checkIn", map[string]any{"id": A}, tok[workflow.RoleSecretary], now)
	c.Act(t, "appointment.recordVitals", map[string]any{"id": A, "vitals": vitalsArg, "medicalHistoryNotes": "VITALNOTES-MARK"}, tok[workflow.RoleNurse], now)
	c.Act(t, "appointment.completeConsultation", map[string]any{"id": A, "consultationNotes": "CONSULT-MARK"}, tok[workflow.RoleDoctor], now)
	c.Act(t, "appointment.close", map[string]any{"id": A, "billingAmount": "777.77", "billingStatus": "PENDING"}, tok[workflow.RoleSecretary], now)
	c.Act(t, "prescription.create", map[string]any{"id": RX, "patientId": P, "text": "RX-MARK"}, tok[workflow.RoleDoctor], now)
	c.Act(t, "prescription.sendToLab", map[string]any{"id": RX}, tok[workflow.RoleDoctor], now)
	c.Act(t, "prescription.collectSample", map[string]any{"id": RX}, tok[workflow.RoleNurse], now)
	c.Act(t, "prescription.startAnalysis", map[string]any{"id": RX}, tok[workflow.RoleBiologist], now)
	c.Act(t, "result.create", map[string]any{"id": R, "prescriptionId": RX, "text": "RESULT-MARK"}, tok[workflow.RoleBiologist], now)
	c.Act(t, "result.review", map[string]any{"id": R, "interpretation": "INTERP-MARK"}, tok[workflow.RoleDoctor], now)
	c.Act(t, "document.attach", map[string]any{"id": uuid.NewString(), "patientId": P, "name": "DOC-MARK", "type": "t", "url": "u"}, tok[workflow.RoleNurse], now)

	labRoles, deskRoles := []workflow.Role{workflow.RoleBiologist}, []workflow.Role{workflow.RoleSecretary}
	labF.Converges(t, env.Pool, labRoles, wardtest.WaitTimeout)
	deskF.Converges(t, env.Pool, deskRoles, wardtest.WaitTimeout)
	// And a pull from scratch, for the snapshot's frames too.
	labC2 := env.Connect(t, env.Login(t, workflow.RoleBiologist, lab), lab)
	labC2.PullAll(t, wardtest.NewReplica(), 5)
	deskC2 := env.Connect(t, env.Login(t, workflow.RoleSecretary, desk), desk)
	deskC2.PullAll(t, wardtest.NewReplica(), 5)

	frames := func(cs ...*wardtest.Client) string {
		var b strings.Builder
		for _, c := range cs {
			for _, f := range c.RawFrames() {
				b.Write(f)
				b.WriteByte('\n')
			}
		}
		return b.String()
	}
	never := []string{`"password"`, `$2a$`, `@hospital.com`, `"email"`, `HISTORY-MARK`, `VITALNOTES-MARK`, `CONSULT-MARK`, `INTERP-MARK`}
	check := func(who, all string, must, mustNot []string) {
		t.Helper()
		for _, s := range append(append([]string{}, never...), mustNot...) {
			if strings.Contains(all, s) {
				i := strings.Index(all, s)
				t.Errorf("%s received %s: …%s…", who, s, all[max(0, i-150):min(len(all), i+100)])
			}
		}
		for _, s := range must {
			if !strings.Contains(all, s) {
				t.Errorf("%s never received %s: the test saw nothing", who, s)
			}
		}
	}
	check("the lab", frames(labC, labC2),
		[]string{`"table":"prescriptions"`, `RX-MARK`, `RESULT-MARK`, `DOC-MARK`, `"table":"patients"`, `Secret`},
		[]string{`"table":"appointments"`, `consultationNotes`, `medicalHistoryNotes`, `"vitals"`, `billing`, `777.77`, `MOTIF-MARK`,
			`interpretation`, `PHONE-MARK`, `INSURANCE-MARK`, `"phone"`, `"medicalHistory"`})
	check("reception", frames(deskC, deskC2),
		[]string{`"table":"appointments"`, `"billingAmount":"777.77"`, `MOTIF-MARK`, `PHONE-MARK`, `INSURANCE-MARK`, `DOC-MARK`},
		[]string{`"vitals"`, `consultationNotes`, `medicalHistoryNotes`, `"medicalHistory"`, `"table":"prescriptions"`, `"table":"results"`,
			`RX-MARK`, `RESULT-MARK`})
	// The columns each got are exactly the visible ones.
	for table, rows := range labF.Replica.Rows {
		for _, raw := range rows {
			cols := keysOf(t, raw)
			if want := workflow.VisibleColumns(labRoles, table); strings.Join(cols, ",") != strings.Join(sorted(want), ",") {
				t.Fatalf("lab %s row has %v, want %v", table, cols, want)
			}
		}
	}
}

func keysOf(t testing.TB, raw []byte) []string {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestAuthAPI covers login, logout and their refusals.
func TestAuthAPI(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	url := env.URL() + "/api/v1/auth/login"
	lab := env.AddDevice(t, "Laboratoire", workflow.RoleBiologist)

	code, out := wardtest.PostJSON(t, url, "", wardtest.LoginBody("Nurse@Hospital.com", "nurse123", demo))
	if code != http.StatusOK {
		t.Fatalf("login: %d %v", code, out)
	}
	user, _ := out["user"].(map[string]any)
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	if keys(out) != "expiresAt,sessionId,token,user" || keys(user) != "id,name,role" || user["id"] != nurseID || user["name"] != "Infirmier Test" || user["role"] != "NURSE" {
		t.Fatalf("login answer: %v", out)
	}
	exp, err := time.Parse(time.RFC3339, out["expiresAt"].(string))
	if err != nil || exp.Sub(time.Now()) < 7*24*time.Hour-time.Minute || exp.Sub(time.Now()) > 7*24*time.Hour+time.Minute {
		t.Fatalf("expiresAt %v (%v)", out["expiresAt"], err)
	}
	token := out["token"].(string)

	refusals := []struct {
		name               string
		body               map[string]any
		status             int
		code               string
		message            *regexp.Regexp
		emailForRateLimits string
	}{
		{"wrong password", wardtest.LoginBody("nurse@hospital.com", "nurse124", demo), 401, "UNAUTHENTICATED",
			regexp.MustCompile(`^Wrong e-mail or password\.$`), ""},
		{"unknown e-mail", wardtest.LoginBody("nobody@hospital.com", "nurse123", demo), 401, "UNAUTHENTICATED",
			regexp.MustCompile(`^Wrong e-mail or password\.$`), ""},
		{"unknown device", wardtest.LoginBody("nurse@hospital.com", "nurse123", "no-such-device"), 401, "UNAUTHENTICATED",
			regexp.MustCompile(`^Workstation no-such-device is not registered with this server; ask an administrator to register it\.$`), ""},
		{"device not serving the role", wardtest.LoginBody("nurse@hospital.com", "nurse123", lab), 403, "FORBIDDEN",
			regexp.MustCompile(`^Workstation "Laboratoire" serves BIOLOGIST, not NURSE; log in on a workstation of your service\.$`), ""},
		{"dashboard for a non-admin", map[string]any{"email": "nurse@hospital.com", "password": "nurse123"}, 403, "FORBIDDEN",
			regexp.MustCompile(`^Only an ADMIN may open the admin dashboard; a NURSE works on a registered workstation\.$`), ""},
	}
	for _, r := range refusals {
		code, out := wardtest.PostJSON(t, url, "", r.body)
		if code != r.status || out["code"] != r.code || !r.message.MatchString(out["message"].(string)) {
			t.Errorf("%s: %d %v", r.name, code, out)
		}
	}
	// A workstation of protocol 1 brings no session signing key: its acts
	// could not be verified, so it gets no session.
	for _, bad := range []any{nil, []byte("short")} {
		body := map[string]any{"email": "nurse@hospital.com", "password": "nurse123", "deviceId": demo}
		if bad != nil {
			body["signKey"] = bad
		}
		code, out := wardtest.PostJSON(t, url, "", body)
		if code != http.StatusUnauthorized || out["code"] != "UNAUTHENTICATED" || out["message"] != postgres.MsgNoSignKey {
			t.Fatalf("login without a signing key (%v): %d %v", bad, code, out)
		}
	}
	code, out = wardtest.PostJSON(t, url, "", map[string]string{"email": "nurse@hospital.com", "password": "x", "extra": "y"})
	if code != 400 || out["code"] != "VALIDATION_FAILED" || out["message"] != `The request body is not the expected JSON: json: unknown field "extra".` {
		t.Errorf("unknown field: %d %v", code, out)
	}

	// Disabled: refused with 403 after the password check.
	if err := env.DB.DisableUser(context.Background(), biologistID); err != nil {
		t.Fatal(err)
	}
	code, out = wardtest.PostJSON(t, url, "", wardtest.LoginBody("biologist@hospital.com", "biologist123", lab))
	if code != 403 || out["code"] != "FORBIDDEN" || !regexp.MustCompile(`^This account was disabled on \d{4}-\d\d-\d\d; ask an administrator\.$`).MatchString(out["message"].(string)) {
		t.Errorf("disabled user: %d %v", code, out)
	}

	// The token syncs; after logout it does not, and logout twice is refused.
	c := env.Connect(t, token, demo)
	c.WS.Close()
	code, out = wardtest.PostJSON(t, env.URL()+"/api/v1/auth/logout", token, nil)
	if code != 200 {
		t.Fatalf("logout: %d %v", code, out)
	}
	_, resp, err := wardtest.DialConn(env.URL(), token, 0)
	if err == nil || resp.StatusCode != 401 {
		t.Fatalf("a logged-out token still syncs: %v", err)
	}
	code, out = wardtest.PostJSON(t, env.URL()+"/api/v1/auth/logout", token, nil)
	if code != 401 || out["code"] != "UNAUTHENTICATED" {
		t.Fatalf("second logout: %d %v", code, out)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.sessions WHERE revoked_at IS NOT NULL`); n != 1 {
		t.Fatalf("%d revoked sessions", n)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.sessions WHERE token_hash = convert_to($1, 'UTF8')`, token); n != 0 {
		t.Fatal("a token is stored in clear")
	}
}

// TestGracefulShutdown: closing the server closes connected workstations
// with 1001 "going away", and a push in flight is answered or left
// unapplied, never half done.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	srv := env.Again(t, wardtest.Options{})
	sec := srv.Login(t, workflow.RoleSecretary, demo)
	c := srv.Connect(t, sec, demo)
	idle := srv.Connect(t, srv.Login(t, workflow.RoleNurse, demo), demo)
	// A push big enough to be in its transaction when Close comes.
	var muts []syncproto.Mutation
	p := uuid.NewString()
	for i := 0; i < 300; i++ {
		id := uuid.NewString()
		if i == 0 {
			id = p
		}
		muts = append(muts, c.Mut("patient.register", registerArgs(id, "Shutdown"), sec, ms(time.Now())))
	}
	m := muts[0]
	c.SendFrame(t, &syncproto.Push{RequestID: "inflight", Mutations: muts})
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string { // the server is working on it
		if wardtest.Count(t, env.Pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%sync.mutations%'`) == 0 &&
			wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations`) == 0 {
			return "the push has not started"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.HTTP.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, cl := range []*wardtest.Client{c, idle} {
		if code := cl.WaitClosed(t); code != websocket.CloseGoingAway {
			t.Fatalf("closed with %d (%v), want 1001", code, cl.CloseError())
		}
	}
	applied := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = $1`, p)
	audited := wardtest.Count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND seq = $2`, demo, m.Seq)
	if applied != audited {
		t.Fatalf("patient stored %d times, audited %d times", applied, audited)
	}
	// The transaction in flight finished, and its answer came before the close.
	answered := false
	for _, f := range c.RawFrames() {
		answered = answered || strings.HasPrefix(string(f), `{"type":"pushResult","requestId":"inflight"`)
	}
	if audited == 1 && !answered {
		t.Fatal("the push in flight was applied but its answer was not sent before the close")
	}
	if audited == 0 {
		t.Log("the push was not read before the close (nothing applied)")
	}
	// The other instance still serves.
	c2 := env.Connect(t, sec, demo)
	if res := c2.Push(t, m)[0]; res.Status != syncproto.StatusApplied && res.Status != syncproto.StatusDuplicate {
		t.Fatalf("resend: %+v", res)
	}
	if n := wardtest.Count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = $1`, p); n != 1 {
		t.Fatalf("patient stored %d times", n)
	}
}

// TestRevokedWhileConnected: a workstation revoked while connected is
// refused on its next push (fatal: the connection closes) and pulls nothing
// more. The revocation also ends its sessions, and the server may close the
// socket for that first: then the fatal error frame carries no request id
// (docs/protocol.md, "Access that ends"); either way it says why.
func TestRevokedWhileConnected(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	ward := env.AddDevice(t, "Stolen laptop", workflow.Roles...)
	sec := env.Login(t, workflow.RoleSecretary, ward)
	c := env.Connect(t, sec, ward)
	rep := wardtest.NewReplica()
	c.PullAll(t, rep, 0)
	if err := env.DB.RevokeDevice(context.Background(), ward); err != nil {
		t.Fatal(err)
	}
	// The socket may already be closing: a failed write is no failure here.
	muts := []syncproto.Mutation{c.Mut("patient.register", registerArgs(uuid.NewString(), "Thief"), sec, ms(time.Now()))}
	if err := wardtest.Author(c.Chain, muts); err != nil {
		t.Fatal(err)
	}
	b, _ := syncproto.Encode(&syncproto.Push{RequestID: c.NextID("push"), Mutations: muts})
	_ = c.WS.WriteMessage(websocket.TextMessage, b)
	checkErrorFrame(t, c.Next(t), workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.", true)
	if code := c.WaitClosed(t); code != 4401 && code != 4403 {
		t.Fatalf("closed with %d, want 4401 (the push refused) or 4403 (the revocation seen first)", code)
	}
	// A pull over a connection opened just before the revocation is refused too.
	ward2 := env.AddDevice(t, "Second laptop", workflow.Roles...)
	sec2 := env.Login(t, workflow.RoleSecretary, ward2)
	c2 := env.Connect(t, sec2, ward2)
	if err := env.DB.RevokeDevice(context.Background(), ward2); err != nil {
		t.Fatal(err)
	}
	b, _ = syncproto.Encode(&syncproto.Pull{RequestID: c2.NextID("pull"), Cursor: ""})
	_ = c2.WS.WriteMessage(websocket.TextMessage, b)
	checkErrorFrame(t, c2.Next(t), workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.", true)
	if code := c2.WaitClosed(t); code != 4401 && code != 4403 {
		t.Fatalf("closed with %d, want 4401 (the pull refused) or 4403 (the revocation seen first)", code)
	}
	if _, resp, err := wardtest.DialConn(env.URL(), sec2, 0); err == nil || resp.StatusCode != 401 {
		t.Fatal("a revoked workstation may reconnect")
	}
}
