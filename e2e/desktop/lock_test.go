package desktop_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/desktop/keyfile"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
)

// TestIdleLockInApp: the App locks (as the UI does after idleLockSeconds
// without input): every read is refused until a login; the same user's
// password reopens it, offline too.
func TestIdleLockInApp(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, app.Config{
		Engine: desktop.Config{DBPath: filepath.Join(t.TempDir(), "ws.db"), ServerURL: w.URL(), DeviceID: postgres.DemoDeviceID,
			Logger: wardtest.Logger(), BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond,
			SlotParams: &keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}},
		Logger:   wardtest.Logger(),
		IdleLock: 3 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Startup(ctx)
	defer a.Shutdown(ctx)
	if st := must(a.Status()); !st.Locked || st.IdleLockSeconds != 180 {
		t.Fatalf("before any login: %+v", st)
	}
	s := must(a.Login("nurse@hospital.com", "nurse123"))
	waitFor(t, "online", 15*time.Second, func() bool { st, _ := a.Status(); return st.Online })
	must(a.Dashboard(s.User.ID))

	if err := a.Lock(s.User.ID); err != nil {
		t.Fatal(err)
	}
	st := must(a.Status())
	if !st.Locked || st.LockedBy != "Infirmier Test" {
		t.Fatalf("locked: %+v", st)
	}
	_, err = a.Dashboard(s.User.ID)
	if p := app.Format(err); p.Code != "UNAUTHENTICATED" || p.Message != "This workstation is locked: log in to open its replica." {
		t.Fatalf("dashboard while locked: %+v", p)
	}
	w.Stop()
	_, err = a.Login("nurse@hospital.com", "nurse124")
	if p := app.Format(err); p.Code != "UNAUTHENTICATED" || p.Message != desktop.MsgWrongPassword {
		t.Fatalf("wrong password: %+v", p)
	}
	if s2 := must(a.Login("nurse@hospital.com", "nurse123")); !s2.Offline {
		t.Fatal("the unlock with the server down was not offline")
	}
	must(a.Dashboard(s.User.ID))
	if st := must(a.Status()); st.Locked || st.LockedBy != "" {
		t.Fatalf("unlocked: %+v", st)
	}
}
