package desktop_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/desktop/keyfile"
	"wardsync/desktop/sqlite"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
)

// appOn opens an App on the replica in dir, bound to the demo
// workstation, with the idle lock flag given (the app's -idle-lock).
func appOn(t *testing.T, w *wardtest.Server, dir string, flag time.Duration) (*app.App, func()) {
	t.Helper()
	return appWith(t, w, dir, flag, false)
}

// appWith is appOn, unencrypted (the way a version before encryption kept
// its replica) when plain is set.
func appWith(t *testing.T, w *wardtest.Server, dir string, flag time.Duration, plain bool) (*app.App, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{
		Engine: desktop.Config{DBPath: filepath.Join(dir, "ws.db"), ServerURL: w.URL(), DeviceID: postgres.DemoDeviceID,
			Logger: wardtest.Logger(), BackoffMin: 50 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
			SlotParams: &keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}, Unencrypted: plain},
		Logger:   wardtest.Logger(),
		IdleLock: flag,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a.Startup(ctx)
	var done bool
	stop := func() {
		if done {
			return
		}
		done = true
		c, end := context.WithTimeout(context.Background(), 10*time.Second)
		defer end()
		a.Shutdown(c)
		cancel()
	}
	t.Cleanup(stop)
	return a, stop
}

// TestDashboardIdleLockReachesApp: the idle lock an administrator sets for
// the workstation replaces the app's -idle-lock at its next contact (a
// login answer, a welcome), is kept in the replica for an offline start,
// and a reset brings the flag back.
func TestDashboardIdleLockReachesApp(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	// set writes the dashboard's setting with a pool of its own: the
	// server may be down meanwhile (the administrator's change then
	// reaches the app at its first contact after the restart).
	admin, err := postgres.Open(ctx, w.DatabaseURL, postgres.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	set := func(m *int) {
		t.Helper()
		if err := admin.SetDeviceIdleLock(ctx, postgres.DemoDeviceID, m); err != nil {
			t.Fatal(err)
		}
	}
	idle := func(a *app.App) int64 { return must(a.Status()).IdleLockSeconds }

	a, stop := appOn(t, w, dir, 3*time.Minute)
	must(a.Login("nurse@hospital.com", "nurse123"))
	waitFor(t, "online", 15*time.Second, func() bool { return must(a.Status()).Online })
	if s := idle(a); s != 180 {
		t.Fatalf("no idle lock on the dashboard: the app locks after %d s, want the flag's 180", s)
	}

	// Set on the dashboard: the next welcome (the server restarted, the
	// workstation reconnects) brings it.
	five := 5
	set(&five)
	w.Stop()
	w.Restart(t)
	waitFor(t, "the welcome's idle lock", 15*time.Second, func() bool { return idle(a) == 300 })
	if st := must(a.Status()); st.IdleLockMinutes == nil || *st.IdleLockMinutes != 5 {
		t.Fatalf("status: %+v", st.IdleLockMinutes)
	}

	// Off, by the next login answer.
	off := 0
	set(&off)
	must(a.Login("nurse@hospital.com", "nurse123"))
	if s := idle(a); s != 0 {
		t.Fatalf("idle lock off on the dashboard: the app locks after %d s", s)
	}

	// The app restarts offline: the replica kept the dashboard's word.
	stop()
	w.Stop()
	a, stop = appOn(t, w, dir, 3*time.Minute)
	if s := must(a.Login("nurse@hospital.com", "nurse123")); !s.Offline {
		t.Fatal("the login with the server down was not offline")
	}
	if s := idle(a); s != 0 {
		t.Fatalf("offline start: the app locks after %d s, want the dashboard's off", s)
	}

	// Reset on the dashboard: the flag again, at the next contact.
	set(nil)
	w.Restart(t)
	waitFor(t, "the flag's idle lock again", 15*time.Second, func() bool { return idle(a) == 180 })
	stop()
}

// TestRevokedAppReportsWiped: a workstation revoked from the dashboard
// learns it at its next contact, wipes its keys and says so; the
// dashboard's key state shows when it was told and when it reported the
// wipe.
func TestRevokedAppReportsWiped(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	ctx := context.Background()
	a, _ := appOn(t, w, t.TempDir(), time.Minute)
	must(a.Login("nurse@hospital.com", "nurse123"))
	waitFor(t, "online", 15*time.Second, func() bool { return must(a.Status()).Online })
	ks := func() postgres.KeyState {
		t.Helper()
		m, err := w.DB.KeyStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m[postgres.DemoDeviceID]
	}
	// The demo workstation was never claimed with a device key: it has
	// no proof to show, only the revocation's steps below.
	if k := ks(); k.ToldRevokedAt != nil || k.WipedAt != nil {
		t.Fatalf("before the revocation: %+v", k)
	}
	if err := w.DB.RevokeDevice(ctx, postgres.DemoDeviceID); err != nil {
		t.Fatal(err)
	}
	// The server's hub closes the socket only when revoked through the
	// API; a restart makes the next contact a refused one.
	w.Stop()
	w.Restart(t)
	waitFor(t, "the wipe", 20*time.Second, func() bool { return must(a.Status()).Wiped != "" })
	waitFor(t, "the wipe report", 10*time.Second, func() bool { return ks().WipedAt != nil })
	k := ks()
	if k.ToldRevokedAt == nil || k.WipedAt.Before(*k.ToldRevokedAt) {
		t.Fatalf("after the wipe: %+v", k)
	}
	_, err := a.Login("nurse@hospital.com", "nurse123")
	if p := app.Format(err); p.Code != "UNAUTHENTICATED" || len(p.Message) < 40 || p.Message[:40] != "This workstation was revoked by the serv" {
		t.Fatalf("login after the wipe: %+v", p)
	}
}

// TestPlaintextReplicaEncryptedAtLogin: a workstation whose replica was
// written unencrypted, by a version before encryption, with a queued act,
// is encrypted at the first login of the new version: the act is sent and
// applied, and no file of the folder still shows it.
func TestPlaintextReplicaEncryptedAtLogin(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	dir := t.TempDir()
	const marker = "MARKER-PLAINTEXT-VITALS-77"
	old, stop := appWith(t, w, dir, time.Minute, true)
	s := must(old.Login("nurse@hospital.com", "nurse123"))
	waitFor(t, "the first sync", 20*time.Second, func() bool { st := must(old.Status()); return st.Online && st.LastSyncAt != nil })
	w.Stop()
	must(act(old, s.User.ID, "appointment.recordVitals", obj{"id": postgres.SeedID("a:checkedin"), "vitals": goodVitals(), "medicalHistoryNotes": marker}))
	stop()
	db := filepath.Join(dir, "ws.db")
	if plain, err := sqlite.IsPlaintext(db); err != nil || !plain {
		t.Fatalf("the old version's replica is not plain: %v %v", plain, err)
	}
	if !folderHolds(t, dir, marker) {
		t.Fatal("the plaintext replica does not show the marker: the test would prove nothing")
	}

	w.Restart(t)
	a, _ := appOn(t, w, dir, time.Minute)
	must(a.Login("nurse@hospital.com", "nurse123"))
	waitFor(t, "the queued act sent", 30*time.Second, func() bool { st := must(a.Status()); return st.Online && st.Pending == 0 })
	if n := scalar(t, w, `SELECT count(*)::text FROM sync.mutations WHERE outcome = 'applied' AND args::text LIKE '%' || $1 || '%'`, marker); n != "1" {
		t.Fatalf("the act queued in the plaintext replica was applied %s times", n)
	}
	if plain, err := sqlite.IsPlaintext(db); err != nil || plain {
		t.Fatalf("the replica is still plain: %v %v", plain, err)
	}
	if folderHolds(t, dir, marker) || folderHolds(t, dir, "SQLite format 3") {
		t.Fatal("a file of the folder still holds plaintext")
	}
}

// folderHolds reports whether any file in dir holds s.
func folderHolds(t *testing.T, dir, s string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			t.Logf("%s holds %q", e.Name(), s)
			return true
		}
	}
	return false
}
