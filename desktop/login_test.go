package desktop

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"wardsync/desktop/keyfile"
	"wardsync/workflow"
)

func wantRejection(t *testing.T, err error, code workflow.Code, msg string) {
	t.Helper()
	r, ok := workflow.AsRejection(err)
	if !ok {
		t.Fatalf("err %v, want a %s rejection", err, code)
	}
	if r.Code != code || (msg != "" && r.Message != msg) {
		t.Fatalf("got %s %q\nwant %s %q", r.Code, r.Message, code, msg)
	}
}

// An online login stores the session in the replica and a key slot for
// the user in the key file; no password verifier is kept anywhere.
func TestOnlineLoginStoresKeySlot(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	s := login(t, e, " Nurse@Hospital.com ", "nurse123")
	if s.Offline || s.User.ID != nurseID || s.User.Role != workflow.RoleNurse || s.User.Name != "Infirmier Test" ||
		!s.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) {
		t.Errorf("session %+v", s)
	}
	c, err := e.DB().CredentialByUser(ctx, nurseID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token != "tok-1" {
		t.Errorf("credential %+v", c)
	}
	kf, err := keyfile.Load(e.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	slot := kf.Slot("nurse@hospital.com")
	if slot == nil || slot.UserID != nurseID || slot.Params != cheapSlots || kf.DeviceID != wardDevice {
		t.Fatalf("key file %+v", kf)
	}
	key, err := slot.Unwrap("nurse123")
	if err != nil || !bytes.Equal(key, e.key) {
		t.Fatalf("the slot does not open to the replica's key: %v", err)
	}
	// The replica has no verifier column, and neither file holds the
	// password.
	var n int
	if err := e.DB().SQL().QueryRow(`SELECT COUNT(*) FROM pragma_table_info('local_credentials') WHERE name = 'verifier'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("verifier column: %d %v", n, err)
	}
	for _, p := range []string{e.cfg.KeyFile, e.cfg.DBPath, e.cfg.DBPath + "-wal"} {
		raw, _ := os.ReadFile(p)
		if bytes.Contains(raw, []byte("nurse123")) || bytes.Contains(raw, []byte("Infirmier")) {
			t.Errorf("%s holds the password or the user's name in clear", p)
		}
	}
}

func TestOfflineLogin(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "nurse@hospital.com", "nurse123")
	w.fs.setDown(true)

	s, err := e.Login(ctx, "nurse@hospital.com", "nurse123")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Offline || s.User.ID != nurseID {
		t.Errorf("offline session %+v", s)
	}
	_, err = e.Login(ctx, "nurse@hospital.com", "nurse124")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgWrongPassword)
	_, err = e.Login(ctx, "secretary@hospital.com", "secretary123")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgNeverOnline)
	_, err = e.Login(ctx, "", "x")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgMissingLogin)

	// The offline window ends with the session the server issued.
	w.clock.Advance(7*24*time.Hour - time.Second)
	if _, err := e.Login(ctx, "nurse@hospital.com", "nurse123"); err != nil {
		t.Errorf("within the window: %v", err)
	}
	w.clock.Advance(time.Second)
	_, err = e.Login(ctx, "nurse@hospital.com", "nurse123")
	wantRejection(t, err, workflow.CodeUnauthenticated,
		"Your last online login on this workstation was on 2026-01-05 09:00; offline work was allowed until 2026-01-12 09:00. Connect to the network to log in again.")
	_, err = e.Act(ctx, nurseID, "appointment.checkIn", js(map[string]any{"id": appt1ID}))
	wantRejection(t, err, workflow.CodeUnauthenticated, "The session of Infirmier Test ended at 2026-01-12 09:00; log in again online to go on working.")

	// Back online, a new login opens a new window.
	w.fs.setDown(false)
	s = login(t, e, "nurse@hospital.com", "nurse123")
	if s.Offline || !s.ExpiresAt.Equal(w.clock.Now().Add(7*24*time.Hour)) {
		t.Errorf("session %+v", s)
	}
}

// A refusal by the server is final: it never falls back to the key slot,
// and a refusal that means "this user may no longer work here"
// also ends offline login.
func TestServerRefusalIsFinal(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "nurse@hospital.com", "nurse123")
	login(t, e, "secretary@hospital.com", "secretary123")

	_, err := e.Login(ctx, "nurse@hospital.com", "typo")
	wantRejection(t, err, workflow.CodeUnauthenticated, "Wrong email or password.")
	_, err = e.Login(ctx, "doctor@hospital.com", "doctor123")
	wantRejection(t, err, workflow.CodeForbidden, "This workstation does not serve DOCTOR.")

	// A typo leaves the key slot; the password changed at the server
	// (the old one, which still opens the slot, now refused) removes it.
	if _, err := e.DB().CredentialByEmail(ctx, "nurse@hospital.com"); err != nil {
		t.Fatalf("a typo removed the credential: %v", err)
	}
	w.fs.addUser("nurse@hospital.com", "new-password", fakeUser{ID: nurseID, Name: "Infirmier Test", Role: workflow.RoleNurse})
	_, err = e.Login(ctx, "nurse@hospital.com", "nurse123")
	wantRejection(t, err, workflow.CodeUnauthenticated, "")
	w.fs.setDown(true)
	_, err = e.Login(ctx, "nurse@hospital.com", "nurse123")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgNeverOnline)

	// A disabled user is refused with 403, and loses offline login too.
	w.fs.setDown(false)
	w.fs.addUser("secretary@hospital.com", "secretary123", fakeUser{ID: secretaryID, Name: "Secrétaire Test", Role: workflow.RoleSecretary, Disabled: true})
	_, err = e.Login(ctx, "secretary@hospital.com", "secretary123")
	wantRejection(t, err, workflow.CodeForbidden, "")
	w.fs.setDown(true)
	_, err = e.Login(ctx, "secretary@hospital.com", "secretary123")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgNeverOnline)
}

func TestSeveralUsersActInTurn(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "secretary@hospital.com", "secretary123")
	w.clock.Advance(time.Minute)
	login(t, e, "nurse@hospital.com", "nurse123")
	sessions, err := e.Sessions(ctx)
	if err != nil || len(sessions) != 2 || sessions[0].User.ID != nurseID {
		t.Fatalf("sessions %+v %v", sessions, err)
	}
	stop := run(t, e)
	waitFor(t, "first sync", synced(e))
	stop()
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	act(t, e, nurseID, "appointment.recordVitals", map[string]any{"id": appt1ID, "vitals": map[string]any{"weight": 70, "height": 170,
		"temperature": 37.2, "bloodPressure": map[string]any{"systolic": 120, "diastolic": 80}, "heartRate": 72}})
	entries, _ := e.DB().Outbox(ctx, 0, 0)
	if len(entries) != 2 || entries[0].Author.SessionID != "ses-1" || entries[1].Author.SessionID != "ses-2" || entries[1].Author.ID != nurseID ||
		entries[0].Signature == "" || entries[1].Signature == "" {
		t.Errorf("each act must carry its author's own session and signature: %+v", entries)
	}
	// The nurse may not do reception's act, on this workstation as at the server.
	_, err = e.Act(ctx, nurseID, "appointment.checkIn", js(map[string]any{"id": appt2ID}))
	wantRejection(t, err, workflow.CodeForbidden, "A NURSE cannot check in an appointment; reception (SECRETARY) does that.")
	_, err = e.Act(ctx, doctorID, "appointment.checkIn", js(map[string]any{"id": appt2ID}))
	wantRejection(t, err, workflow.CodeUnauthenticated, "")

	// Logging out with acts still queued keeps the server session (the
	// acts need it) but stops acting here.
	if err := e.Logout(ctx, nurseID); err != nil {
		t.Fatal(err)
	}
	_, err = e.Act(ctx, nurseID, "appointment.cancel", js(map[string]any{"id": appt2ID}))
	wantRejection(t, err, workflow.CodeUnauthenticated, "Infirmier Test has logged out; log in again.")
	w.fs.mu.Lock()
	tok := w.fs.tokens["tok-2"]
	w.fs.mu.Unlock()
	if tok.revoked {
		t.Error("a token carrying queued acts was revoked")
	}
	if s, _ := e.Sessions(ctx); len(s) != 1 || s[0].User.ID != secretaryID {
		t.Errorf("sessions after logout %+v", s)
	}
}

func TestLogoutRevokesWhenNothingIsQueued(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "nurse@hospital.com", "nurse123")
	if err := e.Logout(ctx, nurseID); err != nil {
		t.Fatal(err)
	}
	w.fs.mu.Lock()
	revoked := w.fs.tokens["tok-1"].revoked
	w.fs.mu.Unlock()
	if !revoked {
		t.Error("server session not revoked")
	}
	w.fs.setDown(true)
	_, err := e.Login(ctx, "nurse@hospital.com", "nurse123")
	wantRejection(t, err, workflow.CodeUnauthenticated,
		"Your session on this workstation was closed at the server; connect to the network to log in again.")
}

// TestRateLimitedFallsBackToOffline: a server that holds logins back for its
// limits (429 RATE_LIMITED) did not judge the password: a user who logged
// in here before logs in offline, a wrong password is refused by the local
// check with its own sentence, and a user never seen here hears the
// server's sentence. The credential is kept.
func TestRateLimitedFallsBackToOffline(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "nurse@hospital.com", "nurse123")
	w.fs.mu.Lock()
	w.fs.limited = true
	w.fs.mu.Unlock()

	s, err := e.Login(ctx, " Nurse@hospital.com", "nurse123")
	if err != nil {
		t.Fatalf("rate-limited login did not fall back to offline: %v", err)
	}
	if !s.Offline || s.User.ID != nurseID {
		t.Errorf("session %+v", s)
	}
	_, err = e.Login(ctx, "nurse@hospital.com", "guess")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgWrongPasswordLimited)
	_, err = e.Login(ctx, "secretary@hospital.com", "secretary123")
	wantRejection(t, err, "RATE_LIMITED", "Too many failed logins for this account or from this address; try again in 30 seconds.")
	if _, err := e.DB().CredentialByEmail(ctx, "nurse@hospital.com"); err != nil {
		t.Fatalf("the refusal removed the credential: %v", err)
	}
}
