package http_test

import (
	"context"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestNeedToKnow checks the raw frames a lab workstation and a reception
// workstation receive, in the initial snapshot and in live changes: only
// what their roles may read ever leaves the server.
func TestNeedToKnow(t *testing.T) {
	t.Parallel()
	env := newTestServer(t)
	lab := env.addDevice(t, "Laboratoire", workflow.RoleBiologist)
	desk := env.addDevice(t, "Accueil", workflow.RoleSecretary)
	labC := connect(t, env.Srv, loginOn(t, env.Srv, workflow.RoleBiologist, lab), lab)
	deskC := connect(t, env.Srv, loginOn(t, env.Srv, workflow.RoleSecretary, desk), desk)
	labF, deskF := follow(t, labC), follow(t, deskC)

	// Live: a whole visit with marked clinical and billing text, on the demo workstation.
	tok := map[workflow.Role]string{}
	for _, r := range workflow.Roles {
		tok[r] = loginOn(t, env.Srv, r, demo)
	}
	c := connect(t, env.Srv, tok[workflow.RoleSecretary], demo)
	now := ms(time.Now())
	P, A, RX, R := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	c.act(t, "patient.register", map[string]any{"id": P, "firstName": "Secret", "lastName": "Patient", "birthDate": "1970-01-01T00:00:00Z",
		"phone": "PHONE-MARK", "insurance": "INSURANCE-MARK"}, tok[workflow.RoleSecretary], now)
	c.act(t, "patient.update", map[string]any{"id": P, "medicalHistory": map[string]any{"note": "HISTORY-MARK"}}, tok[workflow.RoleDoctor], now)
	c.act(t, "appointment.schedule", map[string]any{"id": A, "patientId": P, "doctorId": doctorID, "date": now.Format(time.RFC3339), "motif": "MOTIF-MARK"}, tok[workflow.RoleSecretary], now)
	c.act(t, "appointment.checkIn", map[string]any{"id": A}, tok[workflow.RoleSecretary], now)
	c.act(t, "appointment.recordVitals", map[string]any{"id": A, "vitals": vitalsArg, "medicalHistoryNotes": "VITALNOTES-MARK"}, tok[workflow.RoleNurse], now)
	c.act(t, "appointment.completeConsultation", map[string]any{"id": A, "consultationNotes": "CONSULT-MARK"}, tok[workflow.RoleDoctor], now)
	c.act(t, "appointment.close", map[string]any{"id": A, "billingAmount": "777.77", "billingStatus": "PENDING"}, tok[workflow.RoleSecretary], now)
	c.act(t, "prescription.create", map[string]any{"id": RX, "patientId": P, "text": "RX-MARK"}, tok[workflow.RoleDoctor], now)
	c.act(t, "prescription.sendToLab", map[string]any{"id": RX}, tok[workflow.RoleDoctor], now)
	c.act(t, "prescription.collectSample", map[string]any{"id": RX}, tok[workflow.RoleNurse], now)
	c.act(t, "prescription.startAnalysis", map[string]any{"id": RX}, tok[workflow.RoleBiologist], now)
	c.act(t, "result.create", map[string]any{"id": R, "prescriptionId": RX, "text": "RESULT-MARK"}, tok[workflow.RoleBiologist], now)
	c.act(t, "result.review", map[string]any{"id": R, "interpretation": "INTERP-MARK"}, tok[workflow.RoleDoctor], now)
	c.act(t, "document.attach", map[string]any{"id": uuid.NewString(), "patientId": P, "name": "DOC-MARK", "type": "t", "url": "u"}, tok[workflow.RoleNurse], now)

	labRoles, deskRoles := []workflow.Role{workflow.RoleBiologist}, []workflow.Role{workflow.RoleSecretary}
	labF.converges(t, env.Pool, labRoles, waitTimeout)
	deskF.converges(t, env.Pool, deskRoles, waitTimeout)
	// And a pull from scratch, for the snapshot's frames too.
	labC2 := connect(t, env.Srv, loginOn(t, env.Srv, workflow.RoleBiologist, lab), lab)
	labC2.pullAll(t, newReplica(), 5)
	deskC2 := connect(t, env.Srv, loginOn(t, env.Srv, workflow.RoleSecretary, desk), desk)
	deskC2.pullAll(t, newReplica(), 5)

	frames := func(cs ...*wsClient) string {
		var b strings.Builder
		for _, c := range cs {
			for _, f := range c.rawFrames() {
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
	for table, rows := range labF.rep.rows {
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
	if err := jsonUnmarshal(raw, &m); err != nil {
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
	env := newTestServer(t)
	url := env.Srv.URL() + "/api/v1/auth/login"
	lab := env.addDevice(t, "Laboratoire", workflow.RoleBiologist)

	code, out := postJSON(t, url, "", loginBody("Nurse@Hospital.com", "nurse123", demo))
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
	// A workstation of protocol 1 brings no session signing key: its acts
	// could not be verified, so it gets no session.
	for _, bad := range []any{nil, []byte("short")} {
		body := map[string]any{"email": "nurse@hospital.com", "password": "nurse123", "deviceId": demo}
		if bad != nil {
			body["signKey"] = bad
		}
		code, out := postJSON(t, url, "", body)
		if code != http.StatusUnauthorized || out["code"] != "UNAUTHENTICATED" || out["message"] != postgres.MsgNoSignKey {
			t.Fatalf("login without a signing key (%v): %d %v", bad, code, out)
		}
	}
	exp, err := time.Parse(time.RFC3339, out["expiresAt"].(string))
	if err != nil || exp.Sub(time.Now()) < 7*24*time.Hour-time.Minute || exp.Sub(time.Now()) > 7*24*time.Hour+time.Minute {
		t.Fatalf("expiresAt %v (%v)", out["expiresAt"], err)
	}
	token := out["token"].(string)

	refusals := []struct {
		name               string
		body               map[string]string
		status             int
		code               string
		message            *regexp.Regexp
		emailForRateLimits string
	}{
		{"wrong password", map[string]string{"email": "nurse@hospital.com", "password": "nurse124", "deviceId": demo}, 401, "UNAUTHENTICATED",
			regexp.MustCompile(`^Wrong e-mail or password\.$`), ""},
		{"unknown e-mail", map[string]string{"email": "nobody@hospital.com", "password": "nurse123", "deviceId": demo}, 401, "UNAUTHENTICATED",
			regexp.MustCompile(`^Wrong e-mail or password\.$`), ""},
		{"unknown device", map[string]string{"email": "nurse@hospital.com", "password": "nurse123", "deviceId": "no-such-device"}, 401, "UNAUTHENTICATED",
			regexp.MustCompile(`^Workstation no-such-device is not registered with this server; ask an administrator to register it\.$`), ""},
		{"device not serving the role", map[string]string{"email": "nurse@hospital.com", "password": "nurse123", "deviceId": lab}, 403, "FORBIDDEN",
			regexp.MustCompile(`^Workstation "Laboratoire" serves BIOLOGIST, not NURSE; log in on a workstation of your service\.$`), ""},
		{"dashboard for a non-admin", map[string]string{"email": "nurse@hospital.com", "password": "nurse123"}, 403, "FORBIDDEN",
			regexp.MustCompile(`^Only an ADMIN may open the admin dashboard; a NURSE works on a registered workstation\.$`), ""},
	}
	for _, r := range refusals {
		code, out := postJSON(t, url, "", r.body)
		if code != r.status || out["code"] != r.code || !r.message.MatchString(out["message"].(string)) {
			t.Errorf("%s: %d %v", r.name, code, out)
		}
	}
	code, out = postJSON(t, url, "", map[string]string{"email": "nurse@hospital.com", "password": "x", "extra": "y"})
	if code != 400 || out["code"] != "VALIDATION_FAILED" || out["message"] != `The request body is not the expected JSON: json: unknown field "extra".` {
		t.Errorf("unknown field: %d %v", code, out)
	}

	// Disabled: refused with 403 after the password check.
	if err := env.DB.DisableUser(context.Background(), biologistID); err != nil {
		t.Fatal(err)
	}
	code, out = postJSON(t, url, "", map[string]string{"email": "biologist@hospital.com", "password": "biologist123", "deviceId": lab})
	if code != 403 || out["code"] != "FORBIDDEN" || !regexp.MustCompile(`^This account was disabled on \d{4}-\d\d-\d\d; ask an administrator\.$`).MatchString(out["message"].(string)) {
		t.Errorf("disabled user: %d %v", code, out)
	}

	// The token syncs; after logout it does not, and logout twice is refused.
	c := connect(t, env.Srv, token, demo)
	c.ws.Close()
	code, out = postJSON(t, env.Srv.URL()+"/api/v1/auth/logout", token, nil)
	if code != 200 {
		t.Fatalf("logout: %d %v", code, out)
	}
	_, resp, err := dialRaw(env.Srv, token)
	if err == nil || resp.StatusCode != 401 {
		t.Fatalf("a logged-out token still syncs: %v", err)
	}
	code, out = postJSON(t, env.Srv.URL()+"/api/v1/auth/logout", token, nil)
	if code != 401 || out["code"] != "UNAUTHENTICATED" {
		t.Fatalf("second logout: %d %v", code, out)
	}
	if n := count(t, env.Pool, `SELECT count(*) FROM sync.sessions WHERE revoked_at IS NOT NULL`); n != 1 {
		t.Fatalf("%d revoked sessions", n)
	}
	if n := count(t, env.Pool, `SELECT count(*) FROM sync.sessions WHERE token_hash = convert_to($1, 'UTF8')`, token); n != 0 {
		t.Fatal("a token is stored in clear")
	}
}

// TestGracefulShutdown: closing the server closes connected workstations
// with 1001 "going away", and a push in flight is answered or left
// unapplied, never half done.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	env := newTestServer(t)
	srv := env.secondInstance(t)
	sec := loginOn(t, srv, workflow.RoleSecretary, demo)
	c := connect(t, srv, sec, demo)
	idle := connect(t, srv, loginOn(t, srv, workflow.RoleNurse, demo), demo)
	// A push big enough to be in its transaction when Close comes.
	var muts []syncproto.Mutation
	p := uuid.NewString()
	for i := 0; i < 300; i++ {
		id := uuid.NewString()
		if i == 0 {
			id = p
		}
		muts = append(muts, c.mut("patient.register", registerArgs(id, "Shutdown"), sec, ms(time.Now())))
	}
	m := muts[0]
	c.sendFrame(t, &syncproto.Push{RequestID: "inflight", Mutations: muts})
	eventually(t, waitTimeout, func() string { // the server is working on it
		if count(t, env.Pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%sync.mutations%'`) == 0 &&
			count(t, env.Pool, `SELECT count(*) FROM sync.mutations`) == 0 {
			return "the push has not started"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, cl := range []*wsClient{c, idle} {
		if code := cl.waitClosed(t); code != websocket.CloseGoingAway {
			t.Fatalf("closed with %d (%v), want 1001", code, cl.closeError())
		}
	}
	applied := count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = $1`, p)
	audited := count(t, env.Pool, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND seq = $2`, demo, m.Seq)
	if applied != audited {
		t.Fatalf("patient stored %d times, audited %d times", applied, audited)
	}
	// The transaction in flight finished, and its answer came before the close.
	answered := false
	for _, f := range c.rawFrames() {
		answered = answered || strings.HasPrefix(string(f), `{"type":"pushResult","requestId":"inflight"`)
	}
	if audited == 1 && !answered {
		t.Fatal("the push in flight was applied but its answer was not sent before the close")
	}
	if audited == 0 {
		t.Log("the push was not read before the close (nothing applied)")
	}
	// The other instance still serves.
	c2 := connect(t, env.Srv, sec, demo)
	if res := c2.push(t, m)[0]; res.Status != syncproto.StatusApplied && res.Status != syncproto.StatusDuplicate {
		t.Fatalf("resend: %+v", res)
	}
	if n := count(t, env.Pool, `SELECT count(*) FROM patients WHERE id = $1`, p); n != 1 {
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
	env := newTestServer(t)
	ward := env.addDevice(t, "Stolen laptop", workflow.Roles...)
	sec := loginOn(t, env.Srv, workflow.RoleSecretary, ward)
	c := connect(t, env.Srv, sec, ward)
	rep := newReplica()
	c.pullAll(t, rep, 0)
	if err := env.DB.RevokeDevice(context.Background(), ward); err != nil {
		t.Fatal(err)
	}
	// The socket may already be closing: a failed write is no failure here.
	muts := []syncproto.Mutation{c.mut("patient.register", registerArgs(uuid.NewString(), "Thief"), sec, ms(time.Now()))}
	chainMutations(t, c.chain, muts)
	b, _ := syncproto.Encode(&syncproto.Push{RequestID: c.nextID("push"), Mutations: muts})
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
	checkErrorFrame(t, c.next(t), workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.", true)
	if code := c.waitClosed(t); code != 4401 && code != 4403 {
		t.Fatalf("closed with %d, want 4401 (the push refused) or 4403 (the revocation seen first)", code)
	}
	// A pull over a connection opened just before the revocation is refused too.
	ward2 := env.addDevice(t, "Second laptop", workflow.Roles...)
	sec2 := loginOn(t, env.Srv, workflow.RoleSecretary, ward2)
	c2 := connect(t, env.Srv, sec2, ward2)
	if err := env.DB.RevokeDevice(context.Background(), ward2); err != nil {
		t.Fatal(err)
	}
	b, _ = syncproto.Encode(&syncproto.Pull{RequestID: c2.nextID("pull"), Cursor: ""})
	_ = c2.ws.WriteMessage(websocket.TextMessage, b)
	checkErrorFrame(t, c2.next(t), workflow.CodeUnauthenticated, "This workstation was revoked; it can no longer synchronise.", true)
	if code := c2.waitClosed(t); code != 4401 && code != 4403 {
		t.Fatalf("closed with %d, want 4401 (the pull refused) or 4403 (the revocation seen first)", code)
	}
	if _, resp, err := dialRaw(env.Srv, sec2); err == nil || resp.StatusCode != 401 {
		t.Fatal("a revoked workstation may reconnect")
	}
}
