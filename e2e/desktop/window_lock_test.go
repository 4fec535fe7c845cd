package desktop_test

import (
	"strings"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
)

// windowIdleLock is the idle lock the real-window test starts the app with:
// long enough for the steps before it (each typed key resets it; reading
// the screen between two steps takes a few seconds on a loaded machine),
// short enough to wait for.
const windowIdleLock = 40 * time.Second

// TestWindowIdleLock drives the production window (as TestWindowErrors
// does, under Xvfb, read back by OCR) through the idle lock: a nurse logs
// in and opens a patient's record; nobody touches the PC; the lock screen
// comes, shows its sentence and no patient datum; with the server gone, a
// wrong password is refused with its sentence and the right one reopens
// the app. Screenshots go to $WARDSYNC_WINDOW_SHOTS/window-lock-*.png; the
// test skips without that folder, like TestWindowErrors.
func TestWindowIdleLock(t *testing.T) {
	shots := windowShots(t, "make test-desktop runs this test (or set it to build/screenshots after make desktop)")
	bin := windowTools(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	display := xvfb(t)
	_, exited := runApp(t, bin, display, w, nil, 4000, "-idle-lock", windowIdleLock.String())
	win := &window{t: t, display: display, exited: exited, dir: t.TempDir(), shots: shots}
	win.waitWindow()
	win.read("the login screen", "ce poste du service", 30*time.Second)

	// The nurse logs in online and opens Jean Martin's record: search
	// (Alt+2, the name field has the focus), then Tab past the birth date
	// and the search button to the first result, and Return.
	win.logIn("nurse@hospital.com", "nurse123")
	win.read("the nurse's dashboard", "trouver un patient", 30*time.Second)
	win.xdo("key", "alt+2")
	win.read("the patient search", "date de naissance", 10*time.Second)
	win.xdo("type", "--delay", "15", "Martin")
	win.xdo("key", "Return")
	win.read("the search result", "martin jean", 15*time.Second)
	win.xdo("key", "Tab", "Tab", "Tab", "Return")
	lastInput := time.Now()
	win.read("the patient's record", "14/07/1975", 15*time.Second)
	win.save("window-lock-patient.png")
	if text := win.ocr(); !strings.Contains(text, "martin") {
		t.Fatalf("the record does not show the patient's name; the window reads:\n%s", text)
	}

	// Nobody touches the PC: the lock screen, with its sentence, and
	// nothing of the patient.
	lockNote := "Infirmier Test, saisissez votre mot de passe pour continuer"
	win.read("the lock screen", lockNote, windowIdleLock+30*time.Second)
	if waited := time.Since(lastInput); waited < windowIdleLock {
		t.Fatalf("the app locked %s after the last input, before its idle lock of %s", waited.Round(time.Second), windowIdleLock)
	}
	text := win.ocr()
	win.save("window-lock-locked.png")
	for _, datum := range []string{"martin", "jean", "14/07/1975", "1975", "lipid panel", "ionogramme", "70 kg", "120/80"} {
		if strings.Contains(text, datum) {
			t.Fatalf("the lock screen shows %q of the patient; it reads:\n%s", datum, text)
		}
	}
	if !strings.Contains(text, "verrouill") {
		t.Fatalf("the lock screen has no title; it reads:\n%s", text)
	}

	// The server goes away: the unlock is offline. A wrong password (the
	// password field has the focus) is refused with its sentence; the
	// refused password is selected, so typing replaces it.
	w.Stop()
	win.xdo("type", "--delay", "15", "nurse124")
	win.xdo("key", "Return")
	win.read("the wrong password refused", desktop.MsgWrongPassword, 90*time.Second)
	win.save("window-lock-wrong-password.png")
	if text := win.ocr(); strings.Contains(text, "martin") {
		t.Fatalf("the refused unlock shows the patient; it reads:\n%s", text)
	}
	win.xdo("type", "--delay", "15", "nurse123")
	win.xdo("key", "Return")
	// An offline unlock is an Argon2id guess (64 MiB, 6 passes) and the
	// replica's opening: seconds on a machine shared by many jobs.
	win.read("the app again", "trouver un patient", 90*time.Second)
	if text := win.ocr(); strings.Contains(text, "saisissez votre mot de passe") {
		t.Fatalf("unlocked, the window still shows the lock sentence; it reads:\n%s", text)
	}
	win.save("window-lock-unlocked.png")
}
