package http_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/frontend"
	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// Every admin endpoint: 2xx for an ADMIN dashboard session, 403 FORBIDDEN
// for every other role and for an ADMIN's workstation session, 401
// UNAUTHENTICATED without a token or with a bad one.
func TestAdminEndpointsAuthorization(t *testing.T) {
	e := startDashboard(t)
	t.Setenv("WARDSYNC_MONITORING_TOKEN", "") // the server already read it
	e.HTTP.SetMonitoringToken("monitor-secret")

	// Targets for the admin's own calls.
	sec := e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, sec, e.device)
	res := ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": postgres.SeedID("a:checkedin")})
	if res[0].Status != syncproto.StatusRejected {
		t.Fatalf("check-in of a checked-in appointment: %+v", res[0])
	}
	newUser := func(role string) string {
		st, body := e.do("POST", "/api/v1/admin/users", e.admin, map[string]string{
			"name": "Target " + role, "email": uuid.NewString()[:8] + "@hospital.com", "password": "secret123", "role": role})
		if st != http.StatusCreated {
			t.Fatalf("create user: %d %v", st, body)
		}
		return body["id"].(string)
	}
	newDevice := func() string { return e.registerDevice("Target", workflow.RoleNurse)["id"].(string) }

	type endpoint struct {
		method, path string
		body         func() any
		admin        int
		// prepare returns the path to call as the admin, for endpoints
		// that consume their target.
		prepare func() string
	}
	uniq := func() string { return uuid.NewString()[:8] }
	endpoints := []endpoint{
		{method: "GET", path: "/api/v1/sync/status", admin: 200},
		{method: "GET", path: "/api/v1/admin/session", admin: 200},
		{method: "GET", path: "/api/v1/admin/users", admin: 200},
		{method: "POST", path: "/api/v1/admin/users", admin: 201, body: func() any {
			return map[string]string{"name": "New Nurse", "email": "n" + uniq() + "@hospital.com", "password": "secret123", "role": "NURSE"}
		}},
		{method: "PATCH", path: "/api/v1/admin/users/X", admin: 200, body: func() any { return map[string]string{"role": "DOCTOR"} },
			prepare: func() string { return "/api/v1/admin/users/" + newUser("NURSE") }},
		{method: "POST", path: "/api/v1/admin/users/X/password", admin: 200, body: func() any { return map[string]string{"password": "another123"} },
			prepare: func() string { return "/api/v1/admin/users/" + newUser("NURSE") + "/password" }},
		{method: "POST", path: "/api/v1/admin/users/X/disable", admin: 200,
			prepare: func() string { return "/api/v1/admin/users/" + newUser("NURSE") + "/disable" }},
		{method: "POST", path: "/api/v1/admin/users/X/enable", admin: 200,
			prepare: func() string { return "/api/v1/admin/users/" + newUser("NURSE") + "/enable" }},
		{method: "GET", path: "/api/v1/admin/devices", admin: 200},
		{method: "POST", path: "/api/v1/admin/devices", admin: 201, body: func() any {
			return map[string]any{"name": "Ward " + uniq(), "roles": []string{"NURSE", "DOCTOR"}}
		}},
		{method: "POST", path: "/api/v1/admin/devices/X/code", admin: 200,
			prepare: func() string { return "/api/v1/admin/devices/" + newDevice() + "/code" }},
		{method: "POST", path: "/api/v1/admin/devices/X/revoke", admin: 200,
			prepare: func() string { return "/api/v1/admin/devices/" + newDevice() + "/revoke" }},
		{method: "PUT", path: "/api/v1/admin/devices/X/idle-lock", admin: 200, body: func() any { return map[string]any{"minutes": 5} },
			prepare: func() string { return "/api/v1/admin/devices/" + newDevice() + "/idle-lock" }},
		{method: "GET", path: "/api/v1/admin/rejected?code=INVALID_TRANSITION", admin: 200},
		{method: "POST", path: "/api/v1/admin/rejected/" + e.device + "/1/resolve", admin: 200, body: func() any { return map[string]string{"note": "told the ward"} }},
		{method: "GET", path: "/api/v1/admin/audit?patient=" + postgres.SeedID("patient:2"), admin: 200},
		{method: "GET", path: "/api/v1/admin/patients?q=mart", admin: 200},
		{method: "GET", path: "/api/v1/admin/board?tz=UTC", admin: 200},
		{method: "GET", path: "/api/v1/admin/events", admin: 200},
	}

	others := map[string]string{}
	for _, r := range []workflow.Role{workflow.RoleDoctor, workflow.RoleBiologist, workflow.RoleNurse, workflow.RoleSecretary} {
		others[string(r)] = e.roleToken(r)
	}
	others["ADMIN on a workstation"] = e.roleToken(workflow.RoleAdmin)

	call := func(ep endpoint, path, token string) (int, map[string]any) {
		t.Helper()
		var body any
		if ep.body != nil {
			body = ep.body()
		}
		if strings.HasPrefix(path, "/api/v1/admin/events") {
			return e.openEvents(path, token)
		}
		return e.do(ep.method, path, token, body)
	}
	for _, ep := range endpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			for who, tok := range others {
				st, body := call(ep, ep.path, tok)
				if st != http.StatusForbidden || body["code"] != "FORBIDDEN" || body["message"] == "" {
					t.Errorf("%s: %d %v, want 403 FORBIDDEN with a message", who, st, body)
				}
			}
			for who, tok := range map[string]string{"no token": "", "bad token": "not-a-token", "monitoring token": "monitor-secret"} {
				if who == "monitoring token" && ep.path == "/api/v1/sync/status" {
					continue
				}
				st, body := call(ep, ep.path, tok)
				if st != http.StatusUnauthorized || body["code"] != "UNAUTHENTICATED" {
					t.Errorf("%s: %d %v, want 401 UNAUTHENTICATED", who, st, body)
				}
			}
			path := ep.path
			if ep.prepare != nil {
				path = ep.prepare()
			}
			if st, body := call(ep, path, e.admin); st != ep.admin {
				t.Errorf("ADMIN: %d %v, want %d", st, body, ep.admin)
			}
		})
	}

	t.Run("the monitoring token reads the status", func(t *testing.T) {
		if st, body := e.do("GET", "/api/v1/sync/status", "monitor-secret", nil); st != 200 || body["devices"] == nil {
			t.Fatalf("%d %v", st, body)
		}
	})
	t.Run("a token in the URL is never accepted, not even by the events stream", func(t *testing.T) {
		for _, path := range []string{"/api/v1/admin/users", "/api/v1/admin/events"} {
			st, body := e.openEvents(path+"?token="+url.QueryEscape(e.admin), "")
			if st != http.StatusUnauthorized || body["code"] != "UNAUTHENTICATED" {
				t.Fatalf("%s with ?token=: %d %v, want 401 UNAUTHENTICATED", path, st, body)
			}
		}
	})
}

// openEvents opens the events stream, reads its first event and closes it.
// A refusal is returned like any JSON reply.
func (e *dashboard) openEvents(path, token string) (int, map[string]any) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		e.t.Fatalf("events content type %q", ct)
	}
	ev := admReadEvent(e.t, bufio.NewReader(resp.Body))
	return resp.StatusCode, map[string]any{"event": ev.name, "data": ev.data}
}

type admEvent struct{ name, data string }

func admReadEvent(t testing.TB, rd *bufio.Reader) admEvent {
	t.Helper()
	var ev admEvent
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("events stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		case line == "" && ev.name != "":
			return ev
		}
	}
}

// A revoked workstation's websocket is closed (4403) within a second, and
// it can neither reconnect nor log in.
func TestAdminRevokeClosesWebsocket(t *testing.T) {
	e := startDashboard(t)
	reg := e.registerDevice("Ward 7", workflow.RoleNurse)
	dev := reg["id"].(string)
	// The workstation claims its registration with the code first.
	if st, out := e.do("POST", "/api/v1/devices/claim", "", map[string]any{"deviceId": dev, "code": reg["registrationCode"]}); st != http.StatusOK {
		t.Fatalf("claim: %d %v", st, out)
	}
	nurse := e.login(wardtest.Email(workflow.RoleNurse), "nurse123", dev)
	ws := e.Connect(e.t, nurse, dev)
	if d := e.status().device(dev); d == nil || !d.Connected || !d.Online || d.Status != httpserver.HealthOK {
		t.Fatalf("before revoking: %+v", d)
	}

	if st, body := e.do("POST", "/api/v1/admin/devices/"+dev+"/revoke", e.admin, nil); st != 200 {
		t.Fatalf("revoke: %d %v", st, body)
	}
	start := time.Now()
	code, took := ws.WaitClosed(t), time.Since(start)
	if code != httpserver.DeviceRevokedCloseCode || took > time.Second {
		t.Fatalf("socket closed with %d after %s, want %d within 1s", code, took, httpserver.DeviceRevokedCloseCode)
	}
	if _, err := e.TryDial(e.t, nurse, dev); err == nil || err.(*wardtest.DialError).Status != http.StatusUnauthorized {
		t.Fatalf("reconnect after revoke: %v, want HTTP 401", err)
	}
	if st, _ := e.do("POST", "/api/v1/auth/login", "", wardtest.LoginBody(wardtest.Email(workflow.RoleNurse), "nurse123", dev)); st != http.StatusForbidden {
		t.Fatalf("login on a revoked workstation: %d", st)
	}
	d := e.status().device(dev)
	if d == nil || !d.Revoked || d.Status != httpserver.HealthRevoked || d.Online {
		t.Fatalf("after revoking: %+v", d)
	}
	if st, body := e.do("POST", "/api/v1/admin/devices/"+dev+"/revoke", e.admin, nil); st != http.StatusNotFound {
		t.Fatalf("revoking twice: %d %v", st, body)
	}
}

// Disabling a user ends their sessions at once: workstation and dashboard
// tokens stop working and the account cannot log in.
func TestAdminDisableUserEndsSessions(t *testing.T) {
	e := startDashboard(t)
	nurseID := postgres.SeedID("user:nurse@hospital.com")
	nurse := e.roleToken(workflow.RoleNurse)
	sec := e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, nurse, e.device)
	_ = ws

	// A second administrator, so the first may disable them.
	st, body := e.do("POST", "/api/v1/admin/users", e.admin, map[string]string{"name": "Second Admin", "email": "admin2@hospital.com", "password": "admin2pass", "role": "ADMIN"})
	if st != http.StatusCreated {
		t.Fatalf("%d %v", st, body)
	}
	admin2ID := body["id"].(string)
	admin2 := e.login("admin2@hospital.com", "admin2pass", "")
	if st, _ := e.do("GET", "/api/v1/admin/users", admin2, nil); st != 200 {
		t.Fatalf("second admin before disabling: %d", st)
	}

	for _, id := range []string{nurseID, admin2ID} {
		if st, body := e.do("POST", "/api/v1/admin/users/"+id+"/disable", e.admin, nil); st != 200 || body["disabled"] != true || body["activeSessions"] != 0.0 {
			t.Fatalf("disable %s: %d %v", id, st, body)
		}
	}
	if st, body := e.do("GET", "/api/v1/admin/users", admin2, nil); st != http.StatusUnauthorized || body["code"] != "UNAUTHENTICATED" {
		t.Fatalf("disabled admin's dashboard token: %d %v", st, body)
	}
	if _, err := e.TryDial(e.t, nurse, e.device); err == nil || err.(*wardtest.DialError).Status != http.StatusUnauthorized {
		t.Fatalf("disabled nurse's workstation token dialled /sync: %v", err)
	}
	if st, _ := e.do("POST", "/api/v1/auth/login", "", wardtest.LoginBody("nurse@hospital.com", "nurse123", e.device)); st != http.StatusForbidden {
		t.Fatalf("disabled nurse logged in: %d", st)
	}
	// An act the disabled nurse authors now is refused, on a connection of
	// another user.
	ws2 := e.Connect(e.t, sec, e.device)
	res := ws2.PushEach(t, nurse, "prescription.collectSample", map[string]any{"id": postgres.SeedID("rx:sent")})
	if res[0].Status != syncproto.StatusRejected || res[0].Code != workflow.CodeUnauthenticated {
		t.Fatalf("act of a disabled user: %+v", res[0])
	}

	// Enabling lets them log in again; old tokens stay dead.
	if st, body := e.do("POST", "/api/v1/admin/users/"+nurseID+"/enable", e.admin, nil); st != 200 || body["disabled"] != false {
		t.Fatalf("enable: %d %v", st, body)
	}
	e.login("nurse@hospital.com", "nurse123", e.device)
	if _, err := e.TryDial(e.t, nurse, e.device); err == nil {
		t.Fatal("a token ended by disabling works again after enabling")
	}
}

func TestAdminUsers(t *testing.T) {
	e := startDashboard(t)
	adminID := postgres.SeedID("user:admin@hospital.com")

	t.Run("list never shows password hashes", func(t *testing.T) {
		st, raw := e.raw("GET", "/api/v1/admin/users", e.admin, nil)
		if st != 200 || strings.Contains(strings.ToLower(string(raw)), "password") || strings.Contains(string(raw), "$2a$") {
			t.Fatalf("%d %s", st, raw)
		}
		var body struct{ Users []httpserver.AdminUserJSON }
		_ = json.Unmarshal(raw, &body)
		if len(body.Users) != len(postgres.SeedUsers) || body.Users[0].Role != workflow.RoleAdmin {
			t.Fatalf("users: %+v", body.Users)
		}
	})

	var id string
	t.Run("create", func(t *testing.T) {
		st, body := e.do("POST", "/api/v1/admin/users", e.admin, map[string]string{"name": "Infirmière Nuit", "email": "Nuit@Hospital.com", "password": "nuit1234", "role": "NURSE"})
		if st != http.StatusCreated || body["email"] != "nuit@hospital.com" || body["role"] != "NURSE" || body["disabled"] != false {
			t.Fatalf("%d %v", st, body)
		}
		id = body["id"].(string)
		e.login("nuit@hospital.com", "nuit1234", e.device)
		if st, body := e.do("POST", "/api/v1/admin/users", e.admin, map[string]string{"name": "Dup", "email": "nuit@hospital.com", "password": "nuit1234", "role": "NURSE"}); st != http.StatusConflict || body["field"] != "email" {
			t.Fatalf("duplicate e-mail: %d %v", st, body)
		}
		for _, bad := range []map[string]string{
			{"name": "", "email": "x@h.com", "password": "secret123", "role": "NURSE"},
			{"name": "X", "email": "nope", "password": "secret123", "role": "NURSE"},
			{"name": "X", "email": "x@h.com", "password": "123", "role": "NURSE"},
			{"name": "X", "email": "x@h.com", "password": "secret123", "role": "JANITOR"},
		} {
			if st, body := e.do("POST", "/api/v1/admin/users", e.admin, bad); st != http.StatusBadRequest || body["code"] != "VALIDATION_FAILED" {
				t.Errorf("%v: %d %v", bad, st, body)
			}
		}
		if st, body := e.do("POST", "/api/v1/admin/users", e.admin, map[string]any{"name": "X", "email": "x@h.com", "password": "secret123", "role": "NURSE", "admin": true}); st != http.StatusBadRequest {
			t.Errorf("unknown field: %d %v", st, body)
		}
	})

	t.Run("change role ends sessions", func(t *testing.T) {
		tok := e.login("nuit@hospital.com", "nuit1234", e.device)
		if st, body := e.do("PATCH", "/api/v1/admin/users/"+id, e.admin, map[string]string{"role": "DOCTOR"}); st != 200 || body["role"] != "DOCTOR" {
			t.Fatalf("%d %v", st, body)
		}
		if _, err := e.TryDial(e.t, tok, e.device); err == nil {
			t.Fatal("a session from before the role change still dials")
		}
		if st, _ := e.do("PATCH", "/api/v1/admin/users/"+id, e.admin, map[string]string{"role": "CHIEF"}); st != http.StatusBadRequest {
			t.Fatalf("bad role: %d", st)
		}
		if st, _ := e.do("PATCH", "/api/v1/admin/users/"+uuid.NewString(), e.admin, map[string]string{"role": "NURSE"}); st != http.StatusNotFound {
			t.Fatalf("unknown user: %d", st)
		}
	})

	t.Run("reset password", func(t *testing.T) {
		tok := e.login("nuit@hospital.com", "nuit1234", e.device)
		if st, body := e.do("POST", "/api/v1/admin/users/"+id+"/password", e.admin, map[string]string{"password": "jour5678"}); st != 200 {
			t.Fatalf("%d %v", st, body)
		}
		if st, _ := e.do("POST", "/api/v1/auth/login", "", wardtest.LoginBody("nuit@hospital.com", "nuit1234", e.device)); st != http.StatusUnauthorized {
			t.Fatalf("old password: %d", st)
		}
		e.login("nuit@hospital.com", "jour5678", e.device)
		if _, err := e.TryDial(e.t, tok, e.device); err == nil {
			t.Fatal("a session from before the reset still dials")
		}
		if st, _ := e.do("POST", "/api/v1/admin/users/"+id+"/password", e.admin, map[string]string{"password": "abc"}); st != http.StatusBadRequest {
			t.Fatalf("short password: %d", st)
		}
	})

	t.Run("an administrator cannot lock everyone out", func(t *testing.T) {
		if st, body := e.do("POST", "/api/v1/admin/users/"+adminID+"/disable", e.admin, nil); st != http.StatusForbidden {
			t.Fatalf("disable self: %d %v", st, body)
		}
		if st, body := e.do("PATCH", "/api/v1/admin/users/"+adminID, e.admin, map[string]string{"role": "NURSE"}); st != http.StatusForbidden {
			t.Fatalf("demote self: %d %v", st, body)
		}
		// Promote the nurse, log in as them, and try to remove the seed admin
		// once the seed admin is the only other one: allowed (one remains),
		// then the last one cannot be removed.
		if st, _ := e.do("PATCH", "/api/v1/admin/users/"+id, e.admin, map[string]string{"role": "ADMIN"}); st != 200 {
			t.Fatal(st)
		}
		other := e.login("nuit@hospital.com", "jour5678", "")
		if st, body := e.do("POST", "/api/v1/admin/users/"+adminID+"/disable", other, nil); st != 200 {
			t.Fatalf("disable the other admin: %d %v", st, body)
		}
		if err := e.DB.CheckCanDisable(context.Background(), id); err == nil {
			t.Fatal("the last enabled admin may be disabled")
		}
		if err := e.DB.SetUserRole(context.Background(), id, workflow.RoleNurse); err == nil {
			t.Fatal("the last enabled admin may be demoted")
		}
	})
}

func TestAdminDeviceRegistration(t *testing.T) {
	e := startDashboard(t)
	st, body := e.do("POST", "/api/v1/admin/devices", e.admin, map[string]any{"name": "  Lab bench 2 ", "roles": []string{"BIOLOGIST"}})
	if st != http.StatusCreated || body["name"] != "Lab bench 2" {
		t.Fatalf("%d %v", st, body)
	}
	id, code := body["id"].(string), body["registrationCode"].(string)
	if len(code) != 14 || body["registrationExpiresAt"] == nil {
		t.Fatalf("code %q", code)
	}
	var stored []byte
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT registration_hash FROM sync.devices WHERE id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != 32 || strings.Contains(string(stored), code) {
		t.Fatalf("the registration code is not stored hashed: %x", stored)
	}
	var list struct{ Devices []httpserver.AdminDeviceJSON }
	e.getInto("/api/v1/admin/devices", e.admin, &list)
	found := false
	for _, d := range list.Devices {
		if d.ID == id {
			found = d.RegistrationPending && d.RegistrationExpiresAt != nil
		}
	}
	if !found {
		t.Fatalf("registration not pending in %+v", list.Devices)
	}

	claim := func(code string) (int, map[string]any) {
		return e.do("POST", "/api/v1/devices/claim", "", map[string]string{"deviceId": id, "code": code})
	}
	if st, body := claim("AAAA-BBBB-CCCC"); st != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d %v", st, body)
	}
	if st, body := claim(strings.ToLower(strings.ReplaceAll(code, "-", ""))); st != 200 || body["name"] != "Lab bench 2" {
		t.Fatalf("right code (lower case, no dashes): %d %v", st, body)
	}
	if st, _ := claim(code); st != http.StatusUnauthorized {
		t.Fatalf("code used twice: %d", st)
	}
	// A new code, then expiry.
	st, body = e.do("POST", "/api/v1/admin/devices/"+id+"/code", e.admin, nil)
	if st != 200 || body["registrationCode"] == code {
		t.Fatalf("new code: %d %v", st, body)
	}
	e.Clock.Set(postgres.RegistrationTTL + time.Minute)
	if st, _ := claim(body["registrationCode"].(string)); st != http.StatusUnauthorized {
		t.Fatalf("expired code: %d", st)
	}
	e.Clock.Set(0)

	for _, bad := range []map[string]any{{"name": "", "roles": []string{"NURSE"}}, {"name": "X", "roles": []string{}}, {"name": "X", "roles": []string{"PILOT"}}} {
		if st, body := e.do("POST", "/api/v1/admin/devices", e.admin, bad); st != http.StatusBadRequest || body["code"] != "VALIDATION_FAILED" {
			t.Errorf("%v: %d %v", bad, st, body)
		}
	}
}

type admPage struct {
	Items []httpserver.AuditEntryJSON `json:"items"`
	Next  string                      `json:"next"`
}

func TestAdminRejectedAndAudit(t *testing.T) {
	e := startDashboard(t)
	sec := e.roleToken(workflow.RoleSecretary)
	nurse := e.roleToken(workflow.RoleNurse)
	ws := e.Connect(e.t, sec, e.device)
	start := time.Now().UTC().Add(-time.Second)

	ws.PushEach(t, sec, "patient.register", admPatient("Un"), admPatient("Deux"))
	checkedIn := postgres.SeedID("a:checkedin") // patient 2's
	r := ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": checkedIn})[0]
	if r.Code != workflow.CodeInvalidTransition {
		t.Fatalf("%+v", r)
	}
	r = ws.PushEach(t, nurse, "appointment.recordVitals", map[string]any{"id": checkedIn, "vitals": map[string]any{"temperature": 51.5}})[0]
	if r.Code != workflow.CodeValidationFailed {
		t.Fatalf("%+v", r)
	}
	ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": uuid.NewString()})

	var page admPage
	e.getInto("/api/v1/admin/rejected", e.admin, &page)
	if len(page.Items) != 3 {
		t.Fatalf("rejected: %+v", page.Items)
	}
	newest := page.Items[0]
	if newest.Code != "NOT_FOUND" || newest.DeviceName != "Every role" || newest.Author == nil || newest.Author.Role != "SECRETARY" {
		t.Fatalf("newest rejected: %+v", newest)
	}
	vit := page.Items[1]
	if vit.Field == "" || vit.Message == "" || vit.Name != "appointment.recordVitals" {
		t.Fatalf("vitals rejection: %+v", vit)
	}
	// Vitals are clinical: ADMIN reads that they were refused, not what
	// they were (TestAuditShowsOnlyReadableArgs checks every act).
	args, _ := json.Marshal(vit.Args)
	if !strings.Contains(string(args), `"vitals":"hidden (role ADMIN may not read appointments.vitals)"`) || strings.Contains(string(args), "51.5") {
		t.Fatalf("vitals shown to ADMIN: %s", args)
	}

	get := func(q string) admPage {
		var p admPage
		e.getInto("/api/v1/admin/"+q, e.admin, &p)
		return p
	}
	if p := get("rejected?code=invalid_transition"); len(p.Items) != 1 || p.Items[0].Target.ID != checkedIn {
		t.Fatalf("by code: %+v", p.Items)
	}
	nurseID := postgres.SeedID("user:nurse@hospital.com")
	if p := get("rejected?user=" + nurseID); len(p.Items) != 1 || p.Items[0].Name != "appointment.recordVitals" {
		t.Fatalf("by user: %+v", p.Items)
	}
	if p := get("rejected?device=" + e.device + "&since=" + start.Format(time.RFC3339Nano)); len(p.Items) != 3 {
		t.Fatalf("by device and since: %+v", p.Items)
	}
	if p := get("rejected?until=" + start.Format(time.RFC3339Nano)); len(p.Items) != 0 {
		t.Fatalf("until before: %+v", p.Items)
	}
	if p := get("rejected?device=" + uuid.NewString()); len(p.Items) != 0 {
		t.Fatalf("other device: %+v", p.Items)
	}

	// The audit log, by patient: patient 2's checked-in appointment took
	// two refused acts; a newly registered patient one applied act.
	if p := get("audit?patient=" + postgres.SeedID("patient:2")); len(p.Items) != 2 {
		t.Fatalf("patient 2: %+v", p.Items)
	}
	all := get("audit")
	if len(all.Items) != 5 {
		t.Fatalf("audit: %d entries", len(all.Items))
	}
	regID := all.Items[len(all.Items)-1].Target.ID
	if p := get("audit?patient=" + regID); len(p.Items) != 1 || p.Items[0].Outcome != "applied" {
		t.Fatalf("new patient: %+v", p.Items)
	}
	if p := get("audit?outcome=applied&user=" + postgres.SeedID("user:secretary@hospital.com")); len(p.Items) != 2 {
		t.Fatalf("applied by the secretary: %+v", p.Items)
	}

	// Paging: one at a time, newest first, no entry twice.
	seen := map[int64]bool{}
	q := "audit?limit=2"
	for i := 0; ; i++ {
		p := get(q)
		for _, it := range p.Items {
			if seen[it.Seq] {
				t.Fatalf("seq %d twice", it.Seq)
			}
			seen[it.Seq] = true
		}
		if p.Next == "" {
			break
		}
		q = "audit?limit=2&after=" + p.Next
		if i > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d entries", len(seen))
	}
	for _, bad := range []string{"audit?since=yesterday", "audit?limit=0", "audit?after=zz", "audit?outcome=maybe", "rejected?unresolved=perhaps"} {
		if st, body := e.do("GET", "/api/v1/admin/"+bad, e.admin, nil); st != http.StatusBadRequest || body["code"] != "VALIDATION_FAILED" {
			t.Errorf("%s: %d %v", bad, st, body)
		}
	}

	// Resolving.
	if d := e.status().device(e.device); d.Mutations.UnresolvedRejected != 3 || d.Mutations.RejectedTotal != 3 || d.Mutations.AppliedTotal != 2 {
		t.Fatalf("status counts: %+v", d.Mutations)
	}
	if st, body := e.do("POST", "/api/v1/admin/rejected/"+e.device+"/"+itoa(newest.Seq)+"/resolve", e.admin, map[string]string{"note": "re-entered"}); st != 200 {
		t.Fatalf("resolve: %d %v", st, body)
	}
	if p := get("rejected?unresolved=true"); len(p.Items) != 2 {
		t.Fatalf("unresolved: %+v", p.Items)
	}
	if p := get("rejected?code=NOT_FOUND"); p.Items[0].Resolution == nil || p.Items[0].Resolution.Note != "re-entered" || p.Items[0].Resolution.By != "Admin Test" {
		t.Fatalf("resolution: %+v", p.Items[0].Resolution)
	}
	if d := e.status().device(e.device); d.Mutations.UnresolvedRejected != 2 {
		t.Fatalf("unresolved after resolving: %+v", d.Mutations)
	}
	// A resolution needs a reason, and only a rejected act takes one
	// (review_test.go covers every refusal).
	if st, body := e.do("POST", "/api/v1/admin/rejected/"+e.device+"/1/resolve", e.admin, nil); st != http.StatusBadRequest ||
		body["code"] != "VALIDATION_FAILED" || body["field"] != "note" {
		t.Fatalf("resolving without a reason: %d %v", st, body)
	}
	if st, body := e.do("POST", "/api/v1/admin/rejected/"+e.device+"/1/resolve", e.admin, map[string]string{"note": "x"}); st != http.StatusConflict ||
		body["code"] != "INVALID_TRANSITION" {
		t.Fatalf("resolving an applied act: %d %v", st, body)
	}

	var pats struct {
		Patients []struct{ ID, Name string }
	}
	e.getInto("/api/v1/admin/patients?q=martin", e.admin, &pats)
	if len(pats.Patients) != 1 || pats.Patients[0].ID != postgres.SeedID("patient:2") {
		t.Fatalf("patient search: %+v", pats)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The shared cases: the dashboard's TypeScript rule reads the same file.
func TestClassifySharedCases(t *testing.T) {
	raw, err := os.ReadFile("../../frontend/src/admin/status-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	type thresholds struct{ LateUnseenSeconds, LatePendingSeconds, StalledSeconds int }
	var f struct {
		Now        time.Time
		Zone       string
		Thresholds thresholds
		Cases      []struct {
			Name                                      string
			Connected, Revoked                        bool
			LastSeen, DisconnectedAt, OldestPendingAt *time.Time
			ConnectedAt, QueueReportedAt              *time.Time
			Pending                                   int64
			Class, Reason                             string
			Online                                    bool
			Thresholds                                *thresholds
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 10 {
		t.Fatalf("%d cases", len(f.Cases))
	}
	loc, err := time.LoadLocation(f.Zone)
	if err != nil {
		t.Fatal(err)
	}
	of := func(t thresholds) httpserver.Thresholds {
		return httpserver.Thresholds{LateUnseen: time.Duration(t.LateUnseenSeconds) * time.Second, LatePending: time.Duration(t.LatePendingSeconds) * time.Second,
			Stalled: time.Duration(t.StalledSeconds) * time.Second}
	}
	if of(f.Thresholds) != httpserver.DefaultThresholds() {
		t.Errorf("the cases' thresholds %+v are not the defaults %+v", f.Thresholds, httpserver.DefaultThresholds())
	}
	for _, c := range f.Cases {
		th := of(f.Thresholds)
		if c.Thresholds != nil {
			th = of(*c.Thresholds)
		}
		h := httpserver.Classify(f.Now, httpserver.HealthInput{Revoked: c.Revoked, Connected: c.Connected, LastSeen: c.LastSeen, DisconnectedAt: c.DisconnectedAt,
			Pending: c.Pending, OldestPendingAt: c.OldestPendingAt, ConnectedAt: c.ConnectedAt, QueueReportedAt: c.QueueReportedAt}, th, loc)
		if h.Class != c.Class || h.Online != c.Online || h.Reason == "" || (c.Reason != "" && h.Reason != c.Reason) {
			t.Errorf("%s: got %s online=%v (%s), want %s online=%v (%s)", c.Name, h.Class, h.Online, h.Reason, c.Class, c.Online, c.Reason)
		}
		if !h.Online && h.Class != httpserver.HealthRevoked && h.Class != httpserver.HealthNew && !strings.HasPrefix(h.Reason, "Offline since ") {
			t.Errorf("%s: offline but reads %q", c.Name, h.Reason)
		}
	}
}

// The status endpoint classifies real workstations: one connected, one that
// reported a queue 40 minutes ago and went away 20 minutes ago (amber), one
// away for three hours (red), one never connected, one revoked.
func TestSyncStatusHealth(t *testing.T) {
	e := startDashboard(t)
	ctx := context.Background()
	add := func(name string) string {
		d, err := e.DB.AddDevice(ctx, "", name, []workflow.Role{workflow.RoleNurse, workflow.RoleSecretary})
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	online, amber, red, fresh, revoked := add("Online"), add("Amber"), add("Red"), add("Fresh"), add("Revoked")

	// Earlier visits, with the clock moved back.
	visit := func(dev string, ago time.Duration, pending int64, oldestAgo time.Duration) {
		e.Clock.Set(-ago)
		tok := e.login("nurse@hospital.com", "nurse123", dev)
		var oldest *time.Time
		if pending > 0 {
			t := time.Now().Add(-oldestAgo)
			oldest = &t
		}
		w := e.Dial(e.t, tok, dev)
		w.Say(e.t, syncproto.Hello{Pending: pending, OldestPendingAt: oldest})
		w.WS.Close()
		// Keep the clock back until the server has dropped the connection:
		// until then it may still mark the device seen (at the clock's time).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			gone := true
			for _, id := range e.HTTP.ConnectedDeviceIDs() {
				gone = gone && id != dev
			}
			if gone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the server kept a closed connection")
			}
		}
		e.Clock.Set(0)
	}
	visit(amber, 20*time.Minute, 4, 40*time.Minute)
	visit(red, 3*time.Hour, 0, 0)
	visit(revoked, time.Minute, 0, 0)
	if err := e.DB.RevokeDevice(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	sec := e.login("secretary@hospital.com", "secretary123", online)
	w := e.Connect(e.t, sec, online)
	w.PushEach(t, sec, "patient.register", admPatient("Status"))

	st := e.status()
	want := map[string]struct {
		class  string
		online bool
	}{online: {httpserver.HealthOK, true}, amber: {httpserver.HealthAmber, false}, red: {httpserver.HealthRed, false}, fresh: {httpserver.HealthNew, false}, revoked: {httpserver.HealthRevoked, false}}
	for id, w := range want {
		d := st.device(id)
		if d == nil || d.Status != w.class || d.Online != w.online || d.StatusReason == "" {
			t.Errorf("%s: %+v, want %s online=%v", id, d, w.class, w.online)
		}
	}
	a := st.device(amber)
	// Away 20 minutes: Late, and saying it cannot know what was done since.
	wantReason := httpserver.OfflineReason(*a.OfflineSince, time.Now(), 4, time.Local)
	if a.Pending != 4 || a.OldestPendingAgeSeconds == nil || *a.OldestPendingAgeSeconds < 39*60 || a.StatusReason != wantReason ||
		a.OfflineSince == nil || time.Since(*a.OfflineSince) < 19*time.Minute {
		t.Errorf("amber device: %+v", a)
	}
	o := st.device(online)
	if !o.Connected || o.Mutations.AppliedLastHour != 1 || o.Mutations.AppliedTotal != 1 || !o.InitialSync || o.CursorLag < 1 {
		t.Errorf("online device: %+v", o)
	}
	if st.Feed.Head < 1 || st.Instance.ConnectedDevices != 1 || st.Totals.Amber != 1 || st.Totals.Red != 1 || st.Totals.PendingUploads != 4 {
		t.Errorf("status: feed %+v instance %+v totals %+v", st.Feed, st.Instance, st.Totals)
	}
	// Sorted: unrevoked first.
	if st.Devices[len(st.Devices)-1].ID != revoked {
		t.Errorf("revoked device not last")
	}

	// The online device pulls to the head: its lag drops to zero. Changes
	// are handed out only below the cluster-wide snapshot horizon, which
	// other databases' transactions (parallel test packages) can hold back
	// for a while: keep pulling until it passes.
	before := o.CursorLag
	w.SendFrame(t, &syncproto.Pull{RequestID: "pull0"})
	deadline := time.Now().Add(60 * time.Second)
	for i := 1; ; i++ {
		cursor := admLastCursor(t, w)
		d := e.status().device(online)
		if !d.InitialSync && d.CursorLag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag after pulling everything for a minute: %d (before pulling: %d)", d.CursorLag, before)
		}
		time.Sleep(50 * time.Millisecond)
		w.SendFrame(t, &syncproto.Pull{RequestID: "pull" + itoa(int64(i)), Cursor: cursor})
	}
}

// A workstation whose socket drops is offline at once, in the status and in
// /metrics alike: never "in sync", since the server cannot know what was
// done there after the link dropped. It says when, and what it last
// reported. Thresholds an administrator sets on the dashboard apply to both
// at once; bad ones are refused with the reason.
func TestStationOfflineAtOnce(t *testing.T) {
	e := startDashboard(t)
	dev, tok := e.nurseStation("Ward 3")
	oldest := time.Now().Add(-10 * time.Second)
	w := e.Dial(e.t, tok, dev)
	w.Say(e.t, syncproto.Hello{Pending: 2, OldestPendingAt: &oldest})
	if got := e.status().device(dev); got.Status != httpserver.HealthOK || !got.Online || got.StatusReason != "2 waiting to be sent" {
		t.Fatalf("connected: %s online=%v %q", got.Status, got.Online, got.StatusReason)
	}
	w.WS.Close()
	var got *httpserver.DeviceStatusJSON
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got = e.status().device(dev); got.Status != httpserver.HealthOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after its socket closed the workstation still reads %s %q", got.Status, got.StatusReason)
		}
	}
	if got.DisconnectedAt == nil || got.OfflineSince == nil {
		t.Fatalf("offline without a time: %+v", got)
	}
	want := "Offline since " + got.DisconnectedAt.In(time.Local).Format("15:04") + " — unsent work unknown (last reported: 2 waiting)"
	if got.Status != httpserver.HealthOffline || got.Online || got.StatusReason != want {
		t.Errorf("after the drop: %s online=%v %q, want offline %q", got.Status, got.Online, got.StatusReason, want)
	}
	st := e.status()
	if st.Totals.Offline != 1 || st.Totals.OK != 0 {
		t.Errorf("totals: %+v", st.Totals)
	}
	mf := e.scrape()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wardsync_devices_by_health", map[string]string{"health": "offline"}, 1},
		{"wardsync_devices_by_health", map[string]string{"health": "ok"}, 0},
		{"wardsync_device_online", map[string]string{"device": dev}, 0},
	} {
		if v, ok := admValue(mf, c.name, c.labels); !ok || v != c.want {
			t.Errorf("/metrics %s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}

	// The dashboard's thresholds: refused when they cannot order the
	// colours, else in force for the status and /metrics at once.
	for _, c := range []struct {
		body        map[string]int
		field, text string
	}{
		{map[string]int{"lateUnseenMinutes": 0, "latePendingMinutes": 15, "stalledMinutes": 60}, "lateUnseenMinutes", `"Late when offline for" must be between 1 min and 30 days; got 0 s.`},
		{map[string]int{"lateUnseenMinutes": 10, "latePendingMinutes": 15, "stalledMinutes": 12}, "stalledMinutes", "Stalled after 12 min must come later than both Late thresholds (10 min offline, 15 min waiting)."},
	} {
		code, body := e.do("PUT", "/api/v1/admin/settings/health", e.admin, c.body)
		if code != 422 && code != 400 || body["code"] != "VALIDATION_FAILED" || body["field"] != c.field || body["message"] != c.text {
			t.Errorf("PUT %v: %d %v, want VALIDATION_FAILED %s %q", c.body, code, body, c.field, c.text)
		}
	}
	if code, body := e.do("PUT", "/api/v1/admin/settings/health", e.admin, map[string]int{"lateUnseenMinutes": 1, "latePendingMinutes": 1, "stalledMinutes": 2}); code != 200 || body["source"] != "dashboard" {
		t.Fatalf("PUT: %d %v", code, body)
	}
	e.Clock.Set(90 * time.Second) // 1.5 min after the drop: Late with the 1-minute threshold
	if got := e.status(); got.device(dev).Status != httpserver.HealthAmber || got.Thresholds.AmberUnseenSeconds != 60 || got.Thresholds.Source != "dashboard" {
		t.Errorf("with the dashboard's thresholds: %s, thresholds %+v", got.device(dev).Status, got.Thresholds)
	}
	if v, _ := admValue(e.scrape(), "wardsync_devices_by_health", map[string]string{"health": "amber"}); v != 1 {
		t.Errorf("/metrics amber = %v, want 1 like the status", v)
	}
	if code, body := e.do("DELETE", "/api/v1/admin/settings/health", e.admin, nil); code != 200 || body["source"] != "flags" || body["lateUnseenMinutes"] != float64(5) {
		t.Fatalf("DELETE: %d %v", code, body)
	}
	if got := e.status().device(dev); got.Status != httpserver.HealthOffline {
		t.Errorf("back to the flags' thresholds: %s", got.Status)
	}
}

// A workstation that reconnects is counted connected the moment its socket
// opens, before its hello says what it queued while the link was down: its
// row says the queue is being checked, with what it last reported, never
// "in sync" nor that old count as current; the hello's report then
// replaces it. A first socket has nothing reported yet, and one that ends
// before its hello is offline at once.
func TestStationCheckingQueueUntilHello(t *testing.T) {
	e := startDashboard(t)
	dev, tok := e.nurseStation("Ward 5")
	// until waits for the row to leave the state it was in, and returns it.
	until := func(what string, done func(*httpserver.DeviceStatusJSON) bool) *httpserver.DeviceStatusJSON {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got := e.status().device(dev)
			if done(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 5 s the row reads %s online=%v %q", what, got.Status, got.Online, got.StatusReason)
			}
		}
	}
	connected := func(d *httpserver.DeviceStatusJSON) bool { return d.Connected }
	offline := func(d *httpserver.DeviceStatusJSON) bool { return !d.Online }

	first := e.Dial(e.t, tok, dev)
	got := until("the first socket counted", connected)
	if got.Status != httpserver.HealthOK || got.StatusReason != "connected — checking its queue (none reported yet)" {
		t.Errorf("first socket before its hello: %s %q", got.Status, got.StatusReason)
	}
	first.WS.Close()
	got = until("the unwelcomed socket's end", offline)
	if got.Status != httpserver.HealthOffline || got.DisconnectedAt == nil || !strings.HasPrefix(got.StatusReason, "Offline since ") {
		t.Errorf("a socket ended before its hello: %s %q disconnectedAt=%v", got.Status, got.StatusReason, got.DisconnectedAt)
	}

	oldest := time.Now().Add(-10 * time.Second)
	w := e.Dial(e.t, tok, dev)
	w.Say(e.t, syncproto.Hello{Pending: 2, OldestPendingAt: &oldest})
	if got := e.status().device(dev); got.StatusReason != "2 waiting to be sent" {
		t.Fatalf("welcomed with 2 queued: %s %q", got.Status, got.StatusReason)
	}
	w.WS.Close()
	until("the drop", offline)

	// Back, its hello held: the socket counts here, and the row says what
	// it knows, on this instance and on another that sees it only in the
	// database. Read twice, a refresh apart: it stays so while the hello is
	// not read.
	other := &dashboard{Server: e.Again(t, wardtest.Options{}), t: t, client: e.client, admin: e.admin}
	w = e.Dial(e.t, tok, dev)
	until("the reconnect counted", connected)
	for range 2 {
		for _, on := range []*dashboard{e, other} {
			got := on.status().device(dev)
			if got.Connected != (on == e) || !got.Online || got.Status != httpserver.HealthOK || got.StatusReason != "connected — checking its queue (last reported: 2 waiting)" ||
				got.QueueReportedAt == nil || got.ConnectedAt == nil || !got.QueueReportedAt.Before(*got.ConnectedAt) {
				t.Fatalf("reconnected, hello not read (holding instance %v): %s connected=%v online=%v %q (queue reported %v, socket %v)",
					on == e, got.Status, got.Connected, got.Online, got.StatusReason, got.QueueReportedAt, got.ConnectedAt)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	oldest = time.Now().Add(-5 * time.Second)
	w.Say(e.t, syncproto.Hello{Pending: 3, OldestPendingAt: &oldest})
	if got := e.status().device(dev); got.Status != httpserver.HealthOK || got.StatusReason != "3 waiting to be sent" {
		t.Errorf("after the hello: %s %q", got.Status, got.StatusReason)
	}
	w.SendFrame(t, &syncproto.Report{Pending: 0})
	until("the report of an empty queue", func(d *httpserver.DeviceStatusJSON) bool { return d.StatusReason == "in sync" })
}

// nurseStation registers a nurse's workstation called name and logs the
// seed's nurse in on it: its id and the session's token.
func (e *dashboard) nurseStation(name string) (string, string) {
	e.t.Helper()
	d, err := e.DB.AddDevice(context.Background(), "", name, []workflow.Role{workflow.RoleNurse})
	if err != nil {
		e.t.Fatal(err)
	}
	return d.ID, e.login("nurse@hospital.com", "nurse123", d.ID)
}

// admLastCursor waits for the newest changes frame and returns its cursor.
func admLastCursor(t testing.TB, w *wardtest.Client) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-w.Frames:
			if ch, ok := r.F.(*syncproto.Changes); ok {
				return ch.Cursor
			}
		case <-deadline:
			t.Fatal("no changes frame")
		}
	}
}

func TestAdminBoard(t *testing.T) {
	e := startDashboard(t)
	sec := e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, sec, e.device)
	ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": postgres.SeedID("a:scheduled")})

	var b httpserver.BoardJSON
	e.getInto("/api/v1/admin/board?tz=UTC", e.admin, &b)
	if b.Hours != 24 || b.TimeZone != "UTC" || len(b.Appointments) != len(workflow.AppointmentStatuses) || len(b.Prescriptions) != len(workflow.PrescriptionStatuses) {
		t.Fatalf("board: %+v", b)
	}
	counts := map[string]httpserver.BoardStatusJSON{}
	for _, s := range b.Appointments {
		counts[s.Status] = s
	}
	if counts["CHECKED_IN"].Total != 2 || counts["CHECKED_IN"].Today != 2 || counts["SCHEDULED"].Total != 0 {
		t.Fatalf("appointment counts: %+v", b.Appointments)
	}
	hour := time.Now().UTC().Hour()
	if got := counts["CHECKED_IN"].EnteredByHour[hour]; got != 1 {
		t.Fatalf("check-ins this hour: %v", counts["CHECKED_IN"].EnteredByHour)
	}
	queues := map[string]httpserver.BoardQueueJSON{}
	for _, q := range b.Queues {
		queues[q.Key] = q
	}
	ci := queues["appointments/CHECKED_IN"]
	if ci.Count != 2 || ci.Oldest == nil || len(ci.WaitingFor) != 1 || ci.WaitingFor[0] != workflow.RoleNurse {
		t.Fatalf("vitals queue: %+v", ci)
	}
	// The oldest waiting is the earlier check-in: the seed's (10 minutes
	// before the seed time) or the one just made.
	var first string
	if err := e.DB.Pool.QueryRow(context.Background(), `SELECT p."firstName" || ' ' || p."lastName" FROM appointments a
		JOIN patients p ON p.id = a."patientId" WHERE a.status = 'CHECKED_IN' ORDER BY a."checkedInAt" LIMIT 1`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if ci.Oldest.Patient != first || ci.Oldest.Since == nil {
		t.Fatalf("oldest in the vitals queue: %+v, want %s", ci.Oldest, first)
	}
	if q := queues["appointments/COMPLETED"]; q.Count != 1 || q.Label != "Awaiting payment" {
		t.Fatalf("payment queue: %+v", q)
	}
	if q := queues["prescriptions/SENT_TO_LAB"]; q.Count != 1 || q.Oldest.Patient != "Amélie Dupont" {
		t.Fatalf("sample queue: %+v", q)
	}
	if q := queues["appointments/SCHEDULED"]; q.Count != 0 || q.Oldest != nil {
		t.Fatalf("check-in queue: %+v", q)
	}
	if len(b.Queues) != len(workflow.BoardQueues()) {
		t.Fatalf("%d queues", len(b.Queues))
	}
	// Another day has no appointments; a zone with DST has a 23-hour day.
	var other httpserver.BoardJSON
	e.getInto("/api/v1/admin/board?tz=Europe/Paris&date=2025-03-30", e.admin, &other)
	if other.Hours != 23 || other.Day != "2025-03-30" {
		t.Fatalf("DST day: %d hours, day %s", other.Hours, other.Day)
	}
	for _, bad := range []string{"board?tz=Mars/Olympus", "board?date=tomorrow"} {
		if st, _ := e.do("GET", "/api/v1/admin/"+bad, e.admin, nil); st != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, st)
		}
	}
}

// The stream sends a "changed" event as soon as a rejected act is
// recorded (well before the 5 s tick), and "logout" once the session ends.
func TestAdminEventsStream(t *testing.T) {
	e := startDashboard(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.HTTP.URL()+"/api/v1/admin/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if ev := admReadEvent(t, rd); ev.name != "changed" || !strings.Contains(ev.data, `"all"`) {
		t.Fatalf("first event: %+v", ev)
	}
	sec := e.roleToken(workflow.RoleSecretary)
	ws := e.Connect(e.t, sec, e.device)
	time.Sleep(300 * time.Millisecond) // let the coalescing gap after hello pass
	pushed := time.Now()
	ws.PushEach(t, sec, "appointment.checkIn", map[string]any{"id": uuid.NewString()})
	// Only the database notification names "mutations" (the 5 s tick says
	// "tick"), so seeing it proves the push itself woke the stream.
	for {
		ev := admReadEvent(t, rd)
		if strings.Contains(ev.data, `"mutations"`) {
			t.Logf("changed event %s after the push", time.Since(pushed).Round(time.Millisecond))
			break
		}
		if time.Since(pushed) > 15*time.Second {
			t.Fatalf("no mutations event; last %+v", ev)
		}
	}
	// Ending the session ends the stream at the next tick.
	if st, _ := e.do("POST", "/api/v1/auth/logout", e.admin, nil); st != 200 {
		t.Fatal(st)
	}
	for {
		ev := admReadEvent(t, rd)
		if ev.name == "logout" {
			break
		}
	}
}

func TestDashboardPage(t *testing.T) {
	e := startDashboard(t)
	st, raw := e.raw("GET", "/admin", "", nil)
	if frontend.HasAdmin() {
		if st != 200 || !strings.Contains(string(raw), "<html") {
			t.Fatalf("/admin: %d", st)
		}
		req, _ := http.NewRequest("GET", e.HTTP.URL()+"/admin", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("headers: %v", resp.Header)
		}
	} else if st != http.StatusServiceUnavailable || !strings.Contains(string(raw), "make frontend") {
		t.Fatalf("/admin without a build: %d %s", st, raw)
	}
	if st, _ := e.raw("GET", "/assets/", "", nil); st != http.StatusNotFound {
		t.Fatalf("/assets/ listing: %d", st)
	}
	if st, _ := e.raw("GET", "/assets/nothing.js", "", nil); st != http.StatusNotFound {
		t.Fatalf("missing asset: %d", st)
	}
}

// An open events stream does not hold up a graceful shutdown.
func TestEventsStreamDoesNotHoldShutdown(t *testing.T) {
	e := startDashboard(t)
	req, _ := http.NewRequest("GET", e.HTTP.URL()+"/api/v1/admin/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	admReadEvent(t, bufio.NewReader(resp.Body))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.HTTP.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %s with a dashboard open", d)
	}
}

// dashboard is the dashboard tests' server: an ADMIN dashboard session, a
// workstation serving every role, and the client of the HTTP calls (one
// trusting the test CA with TLS).
type dashboard struct {
	*wardtest.Server
	t      testing.TB
	admin  string
	device string
	client *http.Client
}

func startDashboard(t testing.TB) *dashboard { return startDashboardWith(t, nil, nil) }

// startDashboardWith is startDashboard with a change to the server before it opens
// (TLS, limits) and the client of the HTTP calls.
func startDashboardWith(t testing.TB, setup func(*httpserver.Server), client *http.Client) *dashboard {
	t.Helper()
	s := wardtest.StartServer(t, wardtest.Options{Config: func(c *postgres.Config) { c.MaxConns = postgres.DefaultConfig().MaxConns }, Configure: func(srv *httpserver.Server) {
		srv.SetMetricsToken(admMetricsToken)
		if setup != nil {
			setup(srv)
		}
	}})
	e := &dashboard{Server: s, t: t, client: client, device: s.AddDevice(t, "Every role", workflow.Roles...)}
	e.admin = e.login(wardtest.Email(workflow.RoleAdmin), wardtest.Password(workflow.RoleAdmin), "")
	return e
}

func (e *dashboard) login(email, password, device string) string {
	e.t.Helper()
	tok, err := wardtest.TryLogin(cmp.Or(e.client, http.DefaultClient), e.URL(), email, password, device)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// roleToken is a workstation session of the seed's user of role.
func (e *dashboard) roleToken(role workflow.Role) string { return e.Login(e.t, role, e.device) }

func (e *dashboard) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	return wardtest.CallJSON(e.t, e.client, method, e.URL()+path, token, body)
}

func (e *dashboard) raw(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	return wardtest.Call(e.t, e.client, method, e.URL()+path, token, body)
}

// registerDevice registers a workstation serving role through the
// dashboard's API and returns the answer (id, registrationCode, …).
func (e *dashboard) registerDevice(name string, role workflow.Role) map[string]any {
	e.t.Helper()
	st, body := e.do("POST", "/api/v1/admin/devices", e.admin, map[string]any{"name": name, "roles": []workflow.Role{role}})
	if st != http.StatusCreated {
		e.t.Fatalf("register %q: %d %v", name, st, body)
	}
	return body
}

// getInto decodes a 200 answer into v.
func (e *dashboard) getInto(path, token string, v any) {
	e.t.Helper()
	st, raw := e.raw("GET", path, token, nil)
	if err := json.Unmarshal(raw, v); st != http.StatusOK || err != nil {
		e.t.Fatalf("GET %s: %d %v: %s", path, st, err, raw)
	}
}

// status is /api/v1/sync/status as the admin reads it.
func (e *dashboard) status() admStatus {
	e.t.Helper()
	var st admStatus
	e.getInto("/api/v1/sync/status", e.admin, &st.SyncStatusJSON)
	return st
}

type admStatus struct{ httpserver.SyncStatusJSON }

func (st admStatus) device(id string) *httpserver.DeviceStatusJSON {
	for i := range st.Devices {
		if st.Devices[i].ID == id {
			return &st.Devices[i]
		}
	}
	return nil
}

func admPatient(last string) map[string]any {
	return map[string]any{"id": uuid.NewString(), "firstName": "Admin", "lastName": last, "birthDate": "1980-01-02T00:00:00Z"}
}
