package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// listedDevice is one row of GET /api/v1/admin/devices, as the dashboard
// reads it.
type listedDevice struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	KeyState struct {
		ClaimedAt     *time.Time `json:"claimedAt"`
		LastProofAt   *time.Time `json:"lastProofAt"`
		ToldRevokedAt *time.Time `json:"toldRevokedAt"`
		WipedAt       *time.Time `json:"wipedAt"`
	} `json:"keyState"`
	IdleLockMinutes *int `json:"idleLockMinutes"`
}

func (e *dashboard) listed(id string) listedDevice {
	e.t.Helper()
	var out struct {
		Devices []listedDevice `json:"devices"`
	}
	e.getInto("/api/v1/admin/devices", e.admin, &out)
	for _, d := range out.Devices {
		if d.ID == id {
			return d
		}
	}
	e.t.Fatalf("device %s is not listed", id)
	return listedDevice{}
}

// keyRefused checks a refusal's status, code and sentence.
func keyRefused(t *testing.T, what string, st int, body map[string]any, wantSt int, code workflow.Code, msg string) {
	t.Helper()
	if st != wantSt || body["code"] != string(code) || body["message"] != msg {
		t.Fatalf("%s: got %d %v, want %d %s %q", what, st, body, wantSt, code, msg)
	}
}

// deviceEvents reads the newest events of kind about device.
func (e *dashboard) deviceEvents(kind, device string) []postgres.SecurityEvent {
	e.t.Helper()
	evs, _, err := e.DB.SecurityEvents(context.Background(), postgres.SecurityFilter{Kind: kind, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []postgres.SecurityEvent
	for _, ev := range evs {
		if ev.DeviceID == device {
			out = append(out, ev)
		}
	}
	return out
}

// TestKeyStateOnDashboard follows one workstation's keys as the dashboard
// lists them: registered, claimed with its code, proving itself at login
// and at each websocket hello, revoked, told so by its standing check, and
// reporting its keys wiped.
func TestKeyStateOnDashboard(t *testing.T) {
	e := startDashboard(t)
	reg := e.registerDevice("Ward 9", workflow.RoleNurse)
	id, code := reg["id"].(string), reg["registrationCode"].(string)
	// later moves the clock; the dashboard's session would end idle, so
	// the administrator signs in again.
	later := func(d time.Duration) {
		e.Clock.Set(d)
		e.admin = e.login("admin@hospital.com", "admin123", "")
	}
	d := e.listed(id)
	if d.KeyState.ClaimedAt != nil || d.KeyState.LastProofAt != nil || d.KeyState.ToldRevokedAt != nil || d.KeyState.WipedAt != nil {
		t.Fatalf("a new workstation has a key state: %+v", d.KeyState)
	}

	// A refused code claims nothing.
	st, body := e.do("POST", "/api/v1/devices/claim", "", map[string]string{"deviceId": id, "code": "WRONG-CODE"})
	keyRefused(t, "wrong code", st, body, http.StatusUnauthorized, workflow.CodeUnauthenticated,
		"This registration code is not valid for workstation "+id+": it is wrong, was already used, or has expired; ask an administrator for a new one.")
	if d := e.listed(id); d.KeyState.ClaimedAt != nil {
		t.Fatalf("claimed by a wrong code: %+v", d.KeyState)
	}
	before := time.Now().Add(-time.Second)
	devPub, devKey := syncproto.NewKey()
	if st, body := e.do("POST", "/api/v1/devices/claim", "", map[string]any{"deviceId": id, "code": code, "publicKey": []byte(devPub)}); st != http.StatusOK {
		t.Fatalf("claim: %d %v", st, body)
	}
	d = e.listed(id)
	if d.KeyState.ClaimedAt == nil || d.KeyState.ClaimedAt.Before(before) || d.KeyState.LastProofAt != nil {
		t.Fatalf("after the claim: %+v", d.KeyState)
	}

	// A login from it proves its key over a nonce; the upgrade of its
	// socket an hour later is a newer proof.
	signPub, signKey := syncproto.NewKey()
	n := nonce(t, e.Server)
	login := wardtest.LoginBody("nurse@hospital.com", "nurse123", id)
	login["signKey"], login["nonce"], login["deviceProof"] = []byte(signPub), n, syncproto.ProveDevice(devKey, id, syncproto.PurposeLogin, n)
	st, body = e.do("POST", "/api/v1/auth/login", "", login)
	if st != http.StatusOK {
		t.Fatalf("login with the device's proof: %d %v", st, body)
	}
	sk := syncproto.SessionKey{SessionID: body["sessionId"].(string), Priv: signKey}
	d = e.listed(id)
	if d.KeyState.LastProofAt == nil || d.KeyState.LastProofAt.Before(before) {
		t.Fatalf("after the login: %+v", d.KeyState)
	}
	loginProof := *d.KeyState.LastProofAt
	later(time.Hour)
	n = nonce(t, e.Server)
	if st, out := upgrade(t, e.HTTP, syncproto.UpgradeHeaders(id, devKey, sk, n)); st != http.StatusSwitchingProtocols {
		t.Fatalf("socket with both proofs: %d %v", st, out)
	}
	d = e.listed(id)
	if d.KeyState.LastProofAt == nil || d.KeyState.LastProofAt.Sub(loginProof) < 59*time.Minute {
		t.Fatalf("after the socket an hour later: proof %v, login's %v", d.KeyState.LastProofAt, loginProof)
	}
	// The dashboard's own logins prove no workstation.
	helloProof := *d.KeyState.LastProofAt
	later(90 * time.Minute)
	if d := e.listed(id); !d.KeyState.LastProofAt.Equal(helloProof) {
		t.Fatalf("the dashboard's login moved the proof: %v, was %v", d.KeyState.LastProofAt, helloProof)
	}

	// A workstation in good standing has nothing to report wiped.
	st, body = e.do("POST", "/api/v1/devices/"+id+"/wiped", "", map[string]any{})
	keyRefused(t, "wiped before revocation", st, body, http.StatusConflict, workflow.CodeInvalidTransition,
		"Workstation "+id+" is not revoked: it has no keys to report wiped.")
	st, body = e.do("POST", "/api/v1/devices/no-such-device/wiped", "", map[string]any{})
	keyRefused(t, "wiped, unknown device", st, body, http.StatusNotFound, workflow.CodeNotFound,
		"Workstation no-such-device is not registered with this server.")
	if _, body := e.do("GET", "/api/v1/devices/"+id+"/standing", "", nil); body["revoked"] != false {
		t.Fatalf("standing: %v", body)
	}
	if d := e.listed(id); d.KeyState.ToldRevokedAt != nil || d.KeyState.WipedAt != nil {
		t.Fatalf("told or wiped while in good standing: %+v", d.KeyState)
	}

	if st, body := e.do("POST", "/api/v1/admin/devices/"+id+"/revoke", e.admin, nil); st != http.StatusOK {
		t.Fatalf("revoke: %d %v", st, body)
	}
	if d := e.listed(id); d.KeyState.ToldRevokedAt != nil || d.KeyState.WipedAt != nil {
		t.Fatalf("told before asking: %+v", d.KeyState)
	}
	later(2 * time.Hour)
	if _, body := e.do("GET", "/api/v1/devices/"+id+"/standing", "", nil); body["revoked"] != true {
		t.Fatalf("standing after revoke: %v", body)
	}
	d = e.listed(id)
	if d.KeyState.ToldRevokedAt == nil || d.KeyState.WipedAt != nil {
		t.Fatalf("after the standing check: %+v", d.KeyState)
	}
	told := *d.KeyState.ToldRevokedAt
	// Asking again keeps the first time it was told.
	later(3 * time.Hour)
	e.do("GET", "/api/v1/devices/"+id+"/standing", "", nil)
	if d := e.listed(id); !d.KeyState.ToldRevokedAt.Equal(told) {
		t.Fatalf("told again moved the time: %v, was %v", d.KeyState.ToldRevokedAt, told)
	}

	st, body = e.do("POST", "/api/v1/devices/"+id+"/wiped", "", map[string]any{})
	if st != http.StatusOK {
		t.Fatalf("wiped: %d %v", st, body)
	}
	d = e.listed(id)
	if d.KeyState.WipedAt == nil || d.KeyState.WipedAt.Sub(told) < 59*time.Minute || !d.KeyState.ToldRevokedAt.Equal(told) {
		t.Fatalf("after the wipe report: %+v (told %v)", d.KeyState, told)
	}
	wiped := *d.KeyState.WipedAt
	// The workstation repeats its report; the first stays, logged once.
	later(4 * time.Hour)
	e.do("POST", "/api/v1/devices/"+id+"/wiped", "", map[string]any{})
	if d := e.listed(id); !d.KeyState.WipedAt.Equal(wiped) {
		t.Fatalf("a repeated report moved the time: %v, was %v", d.KeyState.WipedAt, wiped)
	}
	var reports int
	for _, ev := range e.deviceEvents(postgres.EventDeviceRevoke, id) {
		if ev.Reason == "the workstation reported its keys wiped" {
			reports++
			if ev.Target != "workstation Ward 9" {
				t.Fatalf("wipe report's target: %q", ev.Target)
			}
		}
	}
	if reports != 1 {
		t.Fatalf("%d wipe reports logged, want 1", reports)
	}
}

// TestIdleLockPerWorkstation sets a workstation's idle lock on the
// dashboard: it is checked, logged as a setting change, and reaches the
// workstation in its login answer and its welcome.
func TestIdleLockPerWorkstation(t *testing.T) {
	e := startDashboard(t)
	path := "/api/v1/admin/devices/" + e.device + "/idle-lock"
	loginLock := func() *float64 {
		t.Helper()
		st, body := e.do("POST", "/api/v1/auth/login", "", wardtest.LoginBody("nurse@hospital.com", "nurse123", e.device))
		if st != http.StatusOK {
			t.Fatalf("login: %d %v", st, body)
		}
		if body["idleLockSet"] != true {
			if _, has := body["idleLockMinutes"]; has {
				t.Fatalf("idle lock minutes without idleLockSet: %v", body)
			}
			return nil
		}
		m, _ := body["idleLockMinutes"].(float64)
		return &m
	}
	welcomeLock := func(tok string) *int {
		t.Helper()
		w := e.Dial(t, tok, e.device)
		wel := w.Hello(t, "")
		w.WS.Close()
		return wel.IdleLock()
	}

	if l := loginLock(); l != nil {
		t.Fatalf("no idle lock set, yet the login answer has %v", l)
	}
	tok := e.roleToken(workflow.RoleNurse)
	if l := welcomeLock(tok); l != nil {
		t.Fatalf("no idle lock set, yet the welcome has %+v", l)
	}
	if d := e.listed(e.device); d.IdleLockMinutes != nil {
		t.Fatalf("listed idle lock before any: %v", *d.IdleLockMinutes)
	}

	if st, body := e.do("PUT", path, e.admin, map[string]any{"minutes": 5}); st != http.StatusOK {
		t.Fatalf("set 5: %d %v", st, body)
	}
	if d := e.listed(e.device); d.IdleLockMinutes == nil || *d.IdleLockMinutes != 5 {
		t.Fatalf("listed idle lock: %v", d.IdleLockMinutes)
	}
	if l := loginLock(); l == nil || *l != 5 {
		t.Fatalf("login answer's idle lock: %v", l)
	}
	if l := welcomeLock(tok); l == nil || *l != 5 {
		t.Fatalf("welcome's idle lock: %+v", l)
	}

	// Off is 0, and says so on the wire (idleLockSet: not absent, which
	// would leave the workstation's flag).
	if st, body := e.do("PUT", path, e.admin, map[string]any{"minutes": 0}); st != http.StatusOK {
		t.Fatalf("set off: %d %v", st, body)
	}
	if l := welcomeLock(tok); l == nil || *l != 0 {
		t.Fatalf("welcome's idle lock when off: %+v", l)
	}

	for _, m := range []int{121, -1} {
		st, body := e.do("PUT", path, e.admin, map[string]any{"minutes": m})
		keyRefused(t, "out of bounds", st, body, http.StatusBadRequest, workflow.CodeValidationFailed,
			"The idle lock must be between 1 and 120 minutes, or 0 to turn it off; "+map[int]string{121: "121", -1: "-1"}[m]+" is not.")
		if body["field"] != "minutes" {
			t.Fatalf("refusal's field: %v", body)
		}
	}
	st, body := e.do("PUT", "/api/v1/admin/devices/no-such-device/idle-lock", e.admin, map[string]any{"minutes": 5})
	keyRefused(t, "unknown device", st, body, http.StatusNotFound, workflow.CodeNotFound, "Workstation no-such-device is not registered.")
	st, body = e.do("PUT", path, e.roleToken(workflow.RoleDoctor), map[string]any{"minutes": 5})
	keyRefused(t, "a doctor", st, body, http.StatusForbidden, workflow.CodeForbidden, "The admin API is for ADMIN accounts; Dr Médecin Test is a DOCTOR.")

	// Back to the workstation's own flag: absent again.
	if st, body := e.do("PUT", path, e.admin, map[string]any{"minutes": nil}); st != http.StatusOK {
		t.Fatalf("reset: %d %v", st, body)
	}
	if l := loginLock(); l != nil {
		t.Fatalf("after reset the login answer has %v", l)
	}
	if d := e.listed(e.device); d.IdleLockMinutes != nil {
		t.Fatalf("listed after reset: %v", *d.IdleLockMinutes)
	}

	// Each change is in the security log, oldest last.
	evs := e.deviceEvents(postgres.EventSettingChange, e.device)
	if len(evs) != 3 {
		t.Fatalf("%d setting changes logged, want 3: %+v", len(evs), evs)
	}
	type change struct{ before, after, reason string }
	want := []change{
		{`{"idleLockMinutes": 0, "text": "off"}`, ``, "reset to the workstation's -idle-lock flag"},
		{`{"idleLockMinutes": 5, "text": "5 min"}`, `{"idleLockMinutes": 0, "text": "off"}`, ""},
		{``, `{"idleLockMinutes": 5, "text": "5 min"}`, ""},
	}
	for i, ev := range evs {
		got := change{string(ev.Before), string(ev.After), ev.Reason}
		if compactJSON(got.before) != compactJSON(want[i].before) || compactJSON(got.after) != compactJSON(want[i].after) || got.reason != want[i].reason ||
			ev.Target != "idle lock of workstation Every role" || ev.ActorName == "" {
			t.Fatalf("setting change %d: %+v (target %q, actor %q), want %+v", i, got, ev.Target, ev.ActorName, want[i])
		}
	}

	// A revoked workstation's idle lock no longer matters.
	if st, body := e.do("POST", "/api/v1/admin/devices/"+e.device+"/revoke", e.admin, nil); st != http.StatusOK {
		t.Fatalf("revoke: %d %v", st, body)
	}
	st, body = e.do("PUT", path, e.admin, map[string]any{"minutes": 5})
	keyRefused(t, "revoked", st, body, http.StatusConflict, workflow.CodeInvalidTransition,
		"Workstation Every role is revoked: its idle lock can no longer be set.")
}

// compactJSON compacts a JSON text ("" stays "").
func compactJSON(s string) string {
	if s == "" || s == "null" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
