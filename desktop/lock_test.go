package desktop

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wardsync/desktop/keyfile"
	"wardsync/workflow"
)

const msgLocked = "This workstation is locked: log in to open its replica."

// reopen closes e and opens its replica again: a restart of the app.
func reopen(t *testing.T, e *Engine, cfg Config) *Engine {
	t.Helper()
	ctx := context.Background()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

func newEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// syncedEngine is a new engine on cfg (see newEngine) that synced once
// with the secretary logged in, then stopped: a replica with a key slot
// and the server's rows.
func syncedEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e := newEngine(t, cfg)
	login(t, e, "secretary@hospital.com", "secretary123")
	stop := run(t, e)
	waitFor(t, "synced", synced(e))
	stop()
	return e
}

// A restarted workstation shows nothing until someone logs in; offline,
// only the right password opens the replica.
func TestLockedUntilLogin(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(wardDevice, "")
	ctx := context.Background()
	e := syncedEngine(t, cfg)
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})

	e = reopen(t, e, cfg)
	if !e.Status().Locked || e.Unlocked() {
		t.Fatalf("a restarted workstation is not locked: %+v", e.Status())
	}
	_, err := e.Act(ctx, secretaryID, "appointment.checkIn", js(map[string]any{"id": appt2ID}))
	wantRejection(t, err, workflow.CodeUnauthenticated, msgLocked)
	_, err = e.Pending(ctx)
	wantRejection(t, err, workflow.CodeUnauthenticated, msgLocked)
	if s, err := e.Sessions(ctx); err != nil || len(s) != 0 {
		t.Fatalf("sessions of a locked workstation: %+v %v", s, err)
	}

	w.fs.setDown(true)
	_, err = e.Login(ctx, "secretary@hospital.com", "wrong")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgWrongPassword)
	if e.Unlocked() {
		t.Fatal("a wrong password opened the replica")
	}
	_, err = e.Login(ctx, "nurse@hospital.com", "nurse123")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgNeverOnline)
	s, err := e.Login(ctx, "secretary@hospital.com", "secretary123")
	if err != nil || !s.Offline {
		t.Fatalf("offline login: %+v %v", s, err)
	}
	if st := e.Status(); st.Locked || st.Pending != 1 {
		t.Fatalf("after the offline login: %+v", st)
	}
}

// A user without a slot on a locked workstation needs the server's
// escrowed key; without escrow, someone with a slot must open it first.
func TestSecondUserOnALockedWorkstation(t *testing.T) {
	ctx := context.Background()
	t.Run("no escrow", func(t *testing.T) {
		w := newWorld(t)
		cfg := w.config(wardDevice, "")
		e := newEngine(t, cfg)
		login(t, e, "secretary@hospital.com", "secretary123")
		e = reopen(t, e, cfg)
		_, err := e.Login(ctx, "nurse@hospital.com", "nurse123")
		wantRejection(t, err, workflow.CodeUnauthenticated, MsgNoKeyForUser)
		login(t, e, "secretary@hospital.com", "secretary123")
		login(t, e, "nurse@hospital.com", "nurse123") // the open replica's key, wrapped for her
		e = reopen(t, e, cfg)
		w.fs.setDown(true)
		if s, err := e.Login(ctx, "nurse@hospital.com", "nurse123"); err != nil || !s.Offline {
			t.Fatalf("the nurse's slot: %+v %v", s, err)
		}
	})
	t.Run("escrow", func(t *testing.T) {
		w := newWorld(t)
		w.fs.escrow = map[string][]byte{}
		cfg := w.config(wardDevice, "")
		e := newEngine(t, cfg)
		login(t, e, "secretary@hospital.com", "secretary123")
		if !bytes.Equal(e.key, w.fs.escrow[wardDevice]) {
			t.Fatal("a new workstation did not make its replica under the escrowed key")
		}
		e = reopen(t, e, cfg)
		s := login(t, e, "nurse@hospital.com", "nurse123")
		if s.Offline || e.Status().Locked {
			t.Fatalf("escrowed login: %+v %+v", s, e.Status())
		}
	})
}

// A password changed at the server replaces the user's slot at the next
// online login: the old password no longer opens the replica offline.
func TestPasswordChangeReplacesSlot(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(wardDevice, "")
	ctx := context.Background()
	e := newEngine(t, cfg)
	login(t, e, "nurse@hospital.com", "nurse123")
	w.fs.addUser("nurse@hospital.com", "changed-456", fakeUser{ID: nurseID, Name: "Infirmier Test", Role: workflow.RoleNurse})
	login(t, e, "nurse@hospital.com", "changed-456")
	e = reopen(t, e, cfg)
	w.fs.setDown(true)
	_, err := e.Login(ctx, "nurse@hospital.com", "nurse123")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgWrongPassword)
	if _, err := e.Login(ctx, "nurse@hospital.com", "changed-456"); err != nil {
		t.Fatalf("new password offline: %v", err)
	}
	kf, _ := keyfile.Load(e.cfg.KeyFile)
	if len(kf.Slots) != 1 {
		t.Fatalf("slots %+v", kf.Slots)
	}
}

// Revoked, a workstation destroys its keys at its next contact: the folder
// then holds no readable replica, only the queued acts, sealed; once it is
// registered again they are queued again.
func TestRevokedWorkstationWipes(t *testing.T) {
	w := newWorld(t)
	w.fs.escrow = map[string][]byte{}
	cfg := w.config(wardDevice, filepath.Join(t.TempDir(), "ward", "ward.db"))
	ctx := context.Background()
	e := syncedEngine(t, cfg)
	marker := "Zzyzx-7f3a9c"
	act(t, e, secretaryID, "patient.register", map[string]any{"id": "aaaaaaaa-1111-4000-8000-000000000001",
		"firstName": "Wipe", "lastName": marker, "birthDate": "1990-01-01T00:00:00Z"})
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	before, _ := e.Pending(ctx)

	w.fs.revoke(wardDevice, true)
	_, err := e.Login(ctx, "secretary@hospital.com", "secretary123")
	want := "This workstation was revoked by the server on 2026-01-05 09:00 and erased its keys: an administrator revoked it " +
		"(the PC may have been lost, stolen or retired). Ask an administrator to register it again; the acts it still had to send were kept and are sent once it is."
	wantRejection(t, err, workflow.CodeUnauthenticated, want)
	if st := e.Status(); !st.Locked || st.Wiped == "" || st.Pending != 0 {
		t.Fatalf("status after the wipe: %+v", st)
	}
	kf, err := keyfile.Load(e.cfg.KeyFile)
	if err != nil || len(kf.Slots) != 0 || kf.Wiped == nil {
		t.Fatalf("key file after the wipe: %+v %v", kf, err)
	}
	for _, p := range []string{cfg.DBPath, cfg.DBPath + "-wal", cfg.DBPath + "-shm"} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived the wipe: %v", p, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(cfg.DBPath))
	for _, ent := range ents {
		raw, _ := os.ReadFile(filepath.Join(filepath.Dir(cfg.DBPath), ent.Name()))
		if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, []byte("tok-1")) {
			t.Errorf("%s holds the marker or a token in clear", ent.Name())
		}
	}
	if _, err := os.Stat(e.keptPath()); err != nil {
		t.Fatalf("the queued acts were not kept: %v", err)
	}
	_, err = e.Act(ctx, secretaryID, "appointment.checkIn", js(map[string]any{"id": appt2ID}))
	wantRejection(t, err, workflow.CodeUnauthenticated, msgLocked)
	w.fs.setDown(true)
	_, err = e.Login(ctx, "secretary@hospital.com", "secretary123")
	wantRejection(t, err, workflow.CodeUnauthenticated, want)

	// Registered again: the escrowed key opens the kept acts, queued again.
	w.fs.setDown(false)
	w.fs.revoke(wardDevice, false)
	login(t, e, "secretary@hospital.com", "secretary123")
	after, err := e.Pending(ctx)
	if err != nil || len(after) != len(before) || len(after) != 2 || after[0].ID != before[0].ID || after[1].ID != before[1].ID {
		t.Fatalf("requeued %+v %v, want the %d acts kept", after, err, len(before))
	}
	if _, err := os.Stat(e.keptPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the kept file stayed after requeueing: %v", err)
	}
	if kf, _ := keyfile.Load(e.cfg.KeyFile); kf.Wiped != nil || len(kf.Slots) != 1 {
		t.Errorf("key file after re-registration: %+v", kf)
	}
}

// The sync loop learns of the revocation too: a refused reconnection asks
// the server, and wipes.
func TestRevokedWhileRunningWipes(t *testing.T) {
	w := newWorld(t)
	w.fs.escrow = map[string][]byte{}
	e := w.engine(wardDevice)
	login(t, e, "secretary@hospital.com", "secretary123")
	run(t, e)
	waitFor(t, "synced", synced(e))
	w.fs.revoke(wardDevice, true)
	w.fs.setDown(true) // drops the socket; the reconnection is refused
	w.fs.setDown(false)
	waitFor(t, "wiped", func() bool { return e.Status().Wiped != "" })
	if _, err := os.Stat(e.cfg.DBPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the replica survived: %v", err)
	}
}

// Revoked while locked, and refused with a password that opens no slot:
// the queued acts cannot be read out, so the whole sealed replica is kept
// in their place, and they are queued again after re-registration.
func TestRevokedWhileLockedKeepsQueuedActs(t *testing.T) {
	w := newWorld(t)
	w.fs.escrow = map[string][]byte{}
	cfg := w.config(wardDevice, "")
	ctx := context.Background()
	e := syncedEngine(t, cfg)
	queued := act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})
	e = reopen(t, e, cfg)

	w.fs.revoke(wardDevice, true)
	_, err := e.Login(ctx, "secretary@hospital.com", "not-her-password")
	r, ok := workflow.AsRejection(err)
	if !ok || r.Code != workflow.CodeUnauthenticated || !strings.HasPrefix(r.Message, "This workstation was revoked by the server on ") {
		t.Fatalf("login on a revoked, locked workstation: %v", err)
	}
	if _, err := os.Stat(e.cfg.DBPath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the replica stayed: %v", err)
	}
	if _, err := os.Stat(e.keptPath()); err != nil {
		t.Fatalf("nothing kept: %v", err)
	}
	w.fs.revoke(wardDevice, false)
	login(t, e, "secretary@hospital.com", "secretary123")
	p, err := e.Pending(ctx)
	if err != nil || len(p) != 1 || p[0].ID != queued.ID {
		t.Fatalf("requeued %+v %v, want act %s", p, err, queued.ID)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(e.keptPath() + suffix); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("kept file %s stayed: %v", suffix, err)
		}
	}
}

// The idle lock closes the replica; the same user unlocks with their
// password (offline too), and another user's login ends the locked
// session instead.
func TestIdleLock(t *testing.T) {
	w := newWorld(t)
	e := w.engine(wardDevice)
	ctx := context.Background()
	login(t, e, "nurse@hospital.com", "nurse123")
	login(t, e, "secretary@hospital.com", "secretary123")
	stop := run(t, e)
	waitFor(t, "synced", synced(e))
	stop()
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt1ID})

	if err := e.Lock(ctx, secretaryID); err != nil {
		t.Fatal(err)
	}
	if st := e.Status(); !st.Locked || st.LockedBy != "Secrétaire Test" || e.key != nil {
		t.Fatalf("locked: %+v", st)
	}
	_, err := e.Act(ctx, secretaryID, "appointment.checkIn", js(map[string]any{"id": appt2ID}))
	wantRejection(t, err, workflow.CodeUnauthenticated, msgLocked)
	_, err = e.Dashboard(ctx, secretaryID)
	wantRejection(t, err, workflow.CodeUnauthenticated, msgLocked)

	// The same user, offline: her session goes on.
	w.fs.setDown(true)
	_, err = e.Login(ctx, "secretary@hospital.com", "wrong")
	wantRejection(t, err, workflow.CodeUnauthenticated, MsgWrongPassword)
	if _, err := e.Login(ctx, "secretary@hospital.com", "secretary123"); err != nil {
		t.Fatal(err)
	}
	if st := e.Status(); st.Locked || st.LockedBy != "" {
		t.Fatalf("unlocked: %+v", st)
	}
	act(t, e, secretaryID, "appointment.checkIn", map[string]any{"id": appt2ID})

	// Locked again, another user logs in: the secretary's session ends.
	if err := e.Lock(ctx, secretaryID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Login(ctx, "nurse@hospital.com", "nurse123"); err != nil {
		t.Fatal(err)
	}
	_, err = e.Act(ctx, secretaryID, "appointment.cancel", js(map[string]any{"id": appt2ID}))
	wantRejection(t, err, workflow.CodeUnauthenticated, "Secrétaire Test has logged out; log in again.")
	if p, err := e.Pending(ctx); err != nil || len(p) != 2 {
		t.Fatalf("the queued acts after the lock: %+v %v", p, err)
	}
}

// NobodyLoggedIn answers while the replica is locked (the installer's
// registration code is redeemed on that answer at the first start): yes
// before the first login, no after it, also once restarted and locked.
func TestNobodyLoggedInWhileLocked(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(wardDevice, "")
	ctx := context.Background()
	e := newEngine(t, cfg)
	nobody := func(want bool) {
		t.Helper()
		got, err := e.NobodyLoggedIn(ctx)
		if err != nil || got != want {
			t.Fatalf("NobodyLoggedIn = %v, %v; want %v (locked %v)", got, err, want, !e.Unlocked())
		}
	}
	nobody(true)
	login(t, e, "secretary@hospital.com", "secretary123")
	nobody(false)
	e = reopen(t, e, cfg)
	if e.Unlocked() {
		t.Fatal("a restarted workstation is not locked")
	}
	nobody(false)
}
