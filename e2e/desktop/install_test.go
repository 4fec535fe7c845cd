package desktop_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/internal/wardtest"
	"wardsync/version"
	"wardsync/workflow"
)

// TestInstalledClaimCode: a workstation installed with the MSI's
// DEVICE_ID, SERVER_URL and CLAIM_CODE (app.Config.ClaimCode, from the
// registry in main.go) redeems the code at its first start, with nobody
// logged in, so that its users can log in without IT typing the code; the
// status names the release and commit for the About box.
func TestInstalledClaimCode(t *testing.T) {
	defer caught(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	ctx := context.Background()
	dev, code, _, err := w.DB.RegisterDevice(ctx, "Ward 9 nurses", []workflow.Role{workflow.RoleNurse})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{Engine: desktop.Config{DBPath: filepath.Join(t.TempDir(), "ws.db"), ServerURL: w.URL(),
		DeviceID: dev.ID, Logger: wardtest.Logger(), BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond},
		ClaimCode: code, Logger: wardtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	a.Startup(ctx)
	defer a.Shutdown(ctx)
	waitFor(t, "the installer's code redeemed", 15*time.Second, func() bool {
		return scalar(t, w, `SELECT (registration_hash IS NULL)::text FROM sync.devices WHERE id = $1`, dev.ID) == "true"
	})
	must(a.Login("nurse@hospital.com", "nurse123"))
	st := must(a.Status())
	if st.Version != version.Version || st.Commit != version.CommitOrVCS() || st.Commit == "" {
		t.Errorf("About box: version %q commit %q", st.Version, st.Commit)
	}
}
