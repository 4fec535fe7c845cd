package desktop_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
)

// TestWindowErrors drives the production window (the binary `make desktop`
// builds, with Wails' native runtime) under Xvfb with xdotool, and reads
// what it shows by OCR of a screenshot (ImageMagick enlarges it, tesseract
// reads it). The browser test cannot see this: the dev IPC it uses passes
// an error object through, where the native runtime turns it into the text
// "[object Object]".
//
// One window, three refusals a ward meets:
//   - a first login while the server cannot be reached;
//   - then, the server up, a wrong password;
//   - then, in the workstation settings, a wrong registration code.
//
// Each must read as the engine's or the server's sentence. Screenshots go
// to $WARDSYNC_WINDOW_SHOTS/window-error-*.png. make test-desktop sets that
// folder (build/screenshots) right after building the binary; without it
// the test skips, so that `go test ./...` does not run the window twice.
func TestWindowErrors(t *testing.T) {
	shots := windowShots(t, "make test-desktop runs this test (or set it to build/screenshots after make desktop)")
	bin := windowTools(t)
	w := wardtest.StartServer(t, wardtest.Options{})
	w.Stop() // the first login happens with the server out of reach
	display := xvfb(t)

	_, exited := runApp(t, bin, display, w, nil, 4000)
	win := &window{t: t, display: display, exited: exited, dir: t.TempDir(), shots: shots}
	win.waitWindow()
	// The window opens in the workstation's default language, French; the
	// sentences the engine and the server write stay English.
	win.read("the login screen", "ce poste du service", 30*time.Second)

	// 1. A first login while offline: the e-mail field has the focus.
	win.logIn("nurse@hospital.com", "nurse123")
	win.read("the first login offline refused", desktop.MsgNeverOnline, 20*time.Second)
	win.save("window-error-offline-login.png")

	// 2. The server is back: a wrong password. The refused password is
	// selected, so typing replaces it.
	w.Restart(t)
	win.xdo("type", "--delay", "15", "wrong-password")
	win.xdo("key", "Return")
	win.read("the wrong password refused", "Wrong e-mail or password.", 20*time.Second)
	win.save("window-error-login.png")

	// 3. The workstation settings (Tab past "Log in" to the link), and a
	// registration code that is not this workstation's. The server
	// address has the focus; the id is fixed; then the code.
	win.xdo("key", "Tab", "Tab", "Return")
	win.read("the settings form", "enregistrement", 10*time.Second)
	win.xdo("key", "Tab", "Tab")
	win.xdo("type", "--delay", "15", "WRONG-CODE-1234")
	win.xdo("key", "Return")
	win.read("the wrong registration code refused", "This registration code is not valid for workstation", 20*time.Second)
	win.save("window-error-registration-code.png")
}

// window drives the app on an X display and reads its screen.
type window struct {
	t       *testing.T
	display string
	exited  <-chan struct{}
	dir     string
	shots   string // where save puts screenshots
	last    string // the last screenshot taken
	n       int
}

// logIn types email and password into the login form (the e-mail field
// has the focus) and submits it.
func (w *window) logIn(email, password string) {
	w.xdo("type", "--delay", "15", email)
	w.xdo("key", "Tab")
	w.xdo("type", "--delay", "15", password)
	w.xdo("key", "Return")
}

func (w *window) xdo(args ...string) {
	w.t.Helper()
	if b, err := w.command("xdotool", args...).CombinedOutput(); err != nil {
		w.t.Fatalf("xdotool %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// command is a program run on the window's display.
func (w *window) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+w.display)
	return cmd
}

// waitWindow waits for the app's window and gives it the keyboard.
func (w *window) waitWindow() {
	w.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case <-w.exited:
			w.t.Fatal("the app exited before its window appeared")
		default:
		}
		out, _ := w.command("xdotool", "search", "--onlyvisible", "--name", "^wardsync").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = w.command("xdotool", "windowfocus", ids[0]).Run() // no window manager: focus may be refused, and is not needed
			return
		}
	}
	w.t.Fatal("no wardsync window appeared within 60 s")
}

// ocr takes a screenshot and returns its text, lower case, spaces folded.
// The screen is enlarged twice in grey before tesseract reads it: at 1:1
// its 13 px UI font loses letters (three times reads no better and takes
// five times as long).
func (w *window) ocr() string {
	w.t.Helper()
	w.n++
	shot := filepath.Join(w.dir, fmt.Sprintf("shot-%02d.png", w.n))
	big := filepath.Join(w.dir, fmt.Sprintf("big-%02d.png", w.n))
	if b, err := w.command("import", "-window", "root", shot).CombinedOutput(); err != nil {
		w.t.Fatalf("import: %v\n%s", err, b)
	}
	w.last = shot
	if b, err := exec.Command("convert", shot, "-colorspace", "Gray", "-resize", "200%", big).CombinedOutput(); err != nil {
		w.t.Fatalf("convert: %v\n%s", err, b)
	}
	tess := exec.Command("tesseract", big, "stdout", "--psm", "3")
	tess.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1") // a shared machine: one core is enough
	out, err := tess.Output()
	if err != nil {
		w.t.Fatalf("tesseract: %v", err)
	}
	return fold(string(out))
}

var spaces = regexp.MustCompile(`\s+`)

// fold lower-cases text and folds runs of white space (OCR breaks lines
// where the page wraps them) and the typographic quotes tesseract may
// read for an apostrophe.
func fold(s string) string {
	s = strings.NewReplacer("’", "'", "‘", "'", "—", "-", "–", "-").Replace(strings.ToLower(s))
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

// read waits until the screen shows want (case-insensitively, a few
// distinctive words of it are enough: the first 40 characters), and never
// "[object Object]".
func (w *window) read(what, want string, d time.Duration) {
	w.t.Helper()
	key := fold(want)
	if len(key) > 40 {
		key = strings.TrimSpace(key[:40])
	}
	deadline := time.Now().Add(d)
	var text string
	for {
		select {
		case <-w.exited:
			w.t.Fatalf("%s: the app exited", what)
		default:
		}
		text = w.ocr()
		if strings.Contains(text, "[object object]") || strings.Contains(text, "object object]") {
			w.t.Fatalf("%s: the window shows \"[object Object]\" instead of %q; it reads:\n%s", what, want, text)
		}
		if strings.Contains(text, key) {
			w.t.Logf("%s: the window reads %q", what, key)
			return
		}
		if time.Now().After(deadline) {
			w.save("window-error-failed.png")
			w.t.Fatalf("%s: waited %s for %q; the window reads:\n%s", what, d, key, text)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// save copies the last screenshot to the screenshots folder.
func (w *window) save(name string) {
	w.t.Helper()
	if w.last == "" {
		return
	}
	b, err := os.ReadFile(w.last)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.MkdirAll(w.shots, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.shots, name), b, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// windowTools is the production desktop binary the real-window tests run
// ($WARDSYNC_DESKTOP_BIN, or build/wardsync-desktop) once it and the
// tools that drive and read the window are there; the test skips without
// them, saying how to get them.
func windowTools(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("WARDSYNC_DESKTOP_BIN")
	if bin == "" {
		bin = filepath.Join(wardtest.RepoRoot(t), "build", "wardsync-desktop")
	}
	need(t, "the production desktop binary", bin, "make desktop")
	for _, tool := range []string{"xdotool", "import", "convert", "tesseract"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			p = "/usr/bin/" + tool
		}
		need(t, tool, p, "apt-get install -y xdotool imagemagick tesseract-ocr")
	}
	return bin
}
