package admin_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"wardsync/desktop/remote"
	"wardsync/frontend"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/syncproto"
	"wardsync/workflow"
)

// TestWorkstationKeysAndIdleLockInBrowser reads the workstation table's key
// state (claimed, last proof, told revoked, wipe reported) and sets a
// workstation's idle lock through its form, in headless Chromium against a
// real server: every text shown is asserted, a refused value shows the
// server's sentence, and each change reaches the database and the security
// log.
func TestWorkstationKeysAndIdleLockInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s is missing (apt-get install chromium); the browser test runs whenever CI is set", chromiumPath)
		}
		t.Fatalf("%s is missing: the browser test must run in CI; install it with `apt-get install -y chromium`", chromiumPath)
	}
	if !frontend.HasAdmin() {
		t.Fatal("frontend/dist has no admin.html: the dashboard was not built into this test binary. Run `make frontend` and run the test again.")
	}
	env := wardtest.StartServer(t, wardtest.Options{})
	ctx := context.Background()

	// Ward K: registered, claimed with its code, then a login from it.
	k, code, _, err := env.DB.RegisterDevice(ctx, "Ward K keys", []workflow.Role{workflow.RoleNurse})
	if err != nil {
		t.Fatal(err)
	}
	devPub, devKey := syncproto.NewKey()
	if _, err := env.DB.RedeemRegistrationCode(ctx, k.ID, code, devPub); err != nil {
		t.Fatal(err)
	}
	// The login proves the device key over a fresh nonce, as the
	// workstation does: that proof is what the dashboard shows.
	signPub, _ := syncproto.NewKey()
	if _, err := remote.Login(ctx, nil, env.URL(), "nurse@hospital.com", "nurse123", k.ID, signPub, devKey); err != nil {
		t.Fatal(err)
	}
	// Ward R: revoked, asked its standing, reported its keys wiped.
	r := env.AddDevice(t, "Ward R revoked", workflow.RoleNurse)
	// Ward S: revoked, never heard of since.
	s := env.AddDevice(t, "Ward S silent", workflow.RoleNurse)
	for _, id := range []string{r, s} {
		if err := env.DB.RevokeDevice(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.DB.NoteToldRevoked(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := env.DB.NoteWiped(ctx, r); err != nil {
		t.Fatal(err)
	}

	tctx := keysBrowser(t)
	do, eval, waitJS := pageHelpers(t, tctx)
	row := func(id string) string { return `document.querySelector('#devices tr[data-device-id="` + id + `"]')` }
	cell := func(id, sel string) string {
		t.Helper()
		return eval(`(` + row(id) + `?.querySelector('` + sel + `')?.textContent ?? '<none>')`)
	}

	// Sign in, in English (the page opens in French).
	do("open the dashboard",
		chromedp.EmulateViewport(1600, 900),
		chromedp.Navigate(env.URL()+"/admin"),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
	)
	eval(`(localStorage.setItem('wardsync.locale', 'en-GB'), '')`)
	do("sign in",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#login-form input[name="email"]`), "admin@hospital.com"),
		chromedp.SendKeys(chromedp.CSS(`#login-form input[name="password"]`), "admin123"),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav [data-tab="devices"]`)),
		chromedp.Click(chromedp.CSS(`nav [data-tab="devices"]`)),
	)
	waitJS("the workstation table", row(k.ID)+` !== null && `+row(postgres.DemoDeviceID)+` !== null`, 10*time.Second)
	if got := eval(`[...document.querySelectorAll('#devices thead th')].map(th => th.textContent).join('|')`); !strings.Contains(got, "|Keys|Idle lock|") {
		t.Errorf("the table's headings: %q", got)
	}

	stamp := `\d{2}:\d{2}:\d{2}`
	matches := func(what, got, pattern string) {
		t.Helper()
		if !keysMatch(pattern, got) {
			t.Errorf("%s reads %q, want %s", what, got, pattern)
		}
	}
	matches("Ward K claimed", cell(k.ID, ".key-claimed"), `^claimed with its code `+stamp+`$`)
	matches("Ward K proof", cell(k.ID, ".key-proof"), `^last proof `+stamp+`$`)
	if got := cell(k.ID, ".key-told"); got != "<none>" {
		t.Errorf("Ward K, not revoked, shows a revocation line: %q", got)
	}
	if got := eval(row(k.ID) + `.querySelector('.key-proof').title`); got != "When it last proved it is this workstation: a login or a connection from it that the server accepted." {
		t.Errorf("the proof's hint: %q", got)
	}
	matches("demo claimed", cell(postgres.DemoDeviceID, ".key-claimed"), `^not claimed with a code$`)
	matches("demo proof", cell(postgres.DemoDeviceID, ".key-proof"), `^no proof yet$`)
	matches("Ward R told", cell(r, ".key-told"), `^told it is revoked `+stamp+`$`)
	matches("Ward R wiped", cell(r, ".key-wiped"), `^reports its keys wiped `+stamp+`$`)
	if got := eval(row(r) + `.querySelector('.key-wiped').title`); got != "The workstation's own report after destroying its keys: the server cannot see its disk." {
		t.Errorf("the wipe's hint: %q", got)
	}
	matches("Ward S told", cell(s, ".key-told"), `^not told yet: no contact since the revocation$`)
	matches("Ward S wiped", cell(s, ".key-wiped"), `^no wipe reported$`)
	if got := cell(s, ".idle-lock-form"); got != "<none>" {
		t.Errorf("a revoked workstation's idle lock can be set: %q", got)
	}
	matches("Ward K idle lock", cell(k.ID, ".idle-lock-value"), `^the workstation's own \(-idle-lock, 10 min by default\)$`)
	snap(t, tctx, "workstation-keys")

	toast := func(what, want string) {
		t.Helper()
		waitJS(what, `[...document.querySelectorAll('#toasts .toast')].some(t => t.textContent === `+keysJS(want)+`)`, 10*time.Second)
	}
	setIdle := func(value string) {
		t.Helper()
		input := `#devices tr[data-device-id="` + k.ID + `"] .idle-lock-form input`
		// Focus first: the table's refreshes (a devices event after each
		// change) skip a row whose idle lock is being typed, but would
		// replace an unfocused input between clearing and typing.
		do("type "+value,
			chromedp.Focus(chromedp.CSS(input)),
			chromedp.SetValue(chromedp.CSS(input), ""),
			chromedp.SendKeys(chromedp.CSS(input), value),
			chromedp.Click(chromedp.CSS(`#devices tr[data-device-id="`+k.ID+`"] .idle-lock-form button`)),
		)
	}
	idleIs := func(what string, want *int) {
		t.Helper()
		got, err := env.DB.DeviceIdleLock(ctx, k.ID)
		if err != nil || (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Fatalf("%s: the database holds %v (%v)", what, got, err)
		}
	}

	setIdle("5")
	toast("the idle lock set", "Idle lock of Ward K keys: 5 min (set here). The workstation takes it at its next contact.")
	waitJS("5 min shown", row(k.ID)+`.querySelector('.idle-lock-value').textContent === '5 min (set here)'`, 10*time.Second)
	five, zero := 5, 0
	idleIs("after 5", &five)

	setIdle("121")
	toast("out of bounds refused", "The idle lock must be between 1 and 120 minutes, or 0 to turn it off; 121 is not.")
	if got := cell(k.ID, ".idle-lock-value"); got != "5 min (set here)" {
		t.Errorf("after the refusal: %q", got)
	}
	idleIs("after 121", &five)

	setIdle("0")
	toast("the idle lock off", "Idle lock of Ward K keys: off (set here). The workstation takes it at its next contact.")
	waitJS("off shown", row(k.ID)+`.querySelector('.idle-lock-value').textContent === 'off (set here)'`, 10*time.Second)
	idleIs("after 0", &zero)

	// Clicked in the page, in one step: the table's refresh after the last
	// change may replace the row between finding the button and a
	// simulated mouse click on it.
	eval(`(` + row(k.ID) + `.querySelector('.idle-lock-reset').click(), '')`)
	toast("the idle lock reset", "Idle lock of Ward K keys: the workstation's own (-idle-lock, 10 min by default). The workstation takes it at its next contact.")
	waitJS("the workstation's own shown", row(k.ID)+`.querySelector('.idle-lock-value').textContent.startsWith("the workstation's own")`, 10*time.Second)
	idleIs("after the reset", nil)

	evs, _, err := env.DB.SecurityEvents(ctx, postgres.SecurityFilter{Kind: postgres.EventSettingChange})
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, ev := range evs {
		if ev.DeviceID == k.ID {
			targets = append(targets, ev.Target+" by "+ev.ActorName)
		}
	}
	if len(targets) != 3 || targets[0] != "idle lock of workstation Ward K keys by Admin Test" {
		t.Errorf("setting changes logged: %q", targets)
	}
}

// keysBrowser starts headless Chromium for one test and returns a context
// bounded to 90 s.
func keysBrowser(t *testing.T) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 900),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { tcancel(); cancel(); cancelAlloc() })
	return tctx
}

func keysMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// keysJS is s as a JavaScript string literal.
func keysJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
