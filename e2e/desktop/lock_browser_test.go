package desktop_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"wardsync/internal/wardtest"
)

// TestIdleLockInBrowser: the app (dev build, -idle-lock 10s) in headless
// Chromium. Left without input after a login, the screen locks: no queue,
// no patient, a note naming whose session it hides, the e-mail filled in.
// The nurse's password brings her queues back; locked again, the
// secretary (who has a key slot here) logs in instead.
func TestIdleLockInBrowser(t *testing.T) {
	need(t, "Chromium", chromiumPath, "apt-get install -y chromium")
	dist := builtUI(t)
	bin := devBinary(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	display := xvfb(t)
	// Not shorter than the 10 s a login waits for its queues: on a loaded
	// machine a shorter lock fired before the queues came, and the login's
	// wait found the lock screen instead.
	devAddr := runDevApp(t, bin, dist, display, w, "-idle-lock", "10s")

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()
	u := &ui{t: t, ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			u.snap("idle-lock-failure")
		}
	})
	u.do("open the app", chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://"+devAddr+"/"))
	u.wait("the login screen", `document.body.dataset.ready === 'true' && !!document.querySelector('#login-form')`, 20*time.Second)
	// The workstation's locale is French unless set otherwise; this test
	// chooses English and reads the English catalog's lock note whole.
	u.set(`#locale`, "en-GB")
	u.wait("English once chosen", `document.querySelector('#login-form [type="submit"]')?.textContent === 'Log in'`, 5*time.Second)

	// The secretary has worked here before (her key slot opens a locked
	// replica; the test's server escrows no keys).
	u.login("secretary@hospital.com", "secretary123", "Secrétaire Test")
	u.logout()
	u.login("nurse@hospital.com", "nurse123", "Infirmier Test")
	locked := `!!document.querySelector('#lock-note') && !document.querySelector('#queues') && !document.querySelector('#content')`
	u.wait("locked after 10 s without input", locked, 25*time.Second)
	if got := u.eval(`document.querySelector('#lock-note').textContent`); got !=
		"Locked after 10 s without input. Infirmier Test, enter your password to go on; someone else may log in instead, which ends Infirmier Test's session." {
		t.Fatalf("lock note: %q", got)
	}
	if got := u.eval(`document.querySelector('#login-email').value`); got != "nurse@hospital.com" {
		t.Fatalf("the e-mail is not filled in: %q", got)
	}
	u.snap("idle-lock")
	u.typeIn(`#login-password`, "nurse123"+kb.Enter)
	u.wait("the nurse's queues back", `(document.querySelector('#current-user')?.textContent ?? '').startsWith('Infirmier Test') && !!document.querySelector('#queues')`, 15*time.Second)

	u.wait("locked again", locked, 25*time.Second)
	u.login("secretary@hospital.com", "secretary123", "Secrétaire Test")
}
