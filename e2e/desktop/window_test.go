package desktop_test

import (
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
)

// windowShots is the folder $WARDSYNC_WINDOW_SHOTS names, under the
// repository when it is relative. Without it the test skips, saying how
// to run it (the window tests run after the binary or screenshots exist).
func windowShots(t *testing.T, how string) string {
	t.Helper()
	dir := os.Getenv("WARDSYNC_WINDOW_SHOTS")
	if dir == "" {
		t.Skip("WARDSYNC_WINDOW_SHOTS is not set: " + how)
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(wardtest.RepoRoot(t), dir)
	}
	return dir
}

// runApp starts the desktop binary bin on a fresh replica against w's
// server, shown on display, with env added after DISPLAY and extra flags
// after the common ones. It runs in its own process group, so that the
// cleanup can end all of it; the cleanup logs the last logTail bytes of
// its output when the test failed. exited closes when the app exits.
func runApp(t *testing.T, bin, display string, w *wardtest.Server, env []string, logTail int, extra ...string) (appLog *logWriter, exited chan struct{}) {
	t.Helper()
	appLog = &logWriter{}
	args := append([]string{"-db", filepath.Join(t.TempDir(), "workstation.db"), "-server", w.URL(),
		"-device", postgres.DemoDeviceID, "-retry-max", "1s"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(append(os.Environ(), "DISPLAY="+display), env...),
		"NO_AT_BRIDGE=1", "WEBKIT_DISABLE_COMPOSITING_MODE=1", "GDK_BACKEND=x11")
	cmd.Stdout, cmd.Stderr = appLog, appLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("app output:\n%s", appLog.tail(logTail))
		}
	})
	return appLog, exited
}

// builtUI is the built UI's folder, frontend/dist; without its index.html
// the test fails at once, before anything is built or started.
func builtUI(t *testing.T) string {
	t.Helper()
	dist := filepath.Join(wardtest.RepoRoot(t), "frontend", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatal("frontend/dist/index.html is missing: build the UI first (make frontend, or cd frontend && npm ci && npm run build)")
	}
	return dist
}

// runDevApp starts the dev build bin (see devBinary) serving the built UI
// in dist (see builtUI) on its dev server, and waits until that answers.
// It returns the dev server's address, for a browser to open.
func runDevApp(t *testing.T, bin, dist, display string, w *wardtest.Server, extra ...string) string {
	t.Helper()
	devAddr := wardtest.FreeAddr(t)
	appLog, exited := runApp(t, bin, display, w,
		[]string{"assetdir=" + dist, "devserver=" + devAddr, "loglevel=Warning"}, 6000, extra...)
	waitFor(t, "the app's dev server", 60*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("the app exited:\n%s", appLog.tail(4000))
		default:
		}
		c, err := net.DialTimeout("tcp", devAddr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		resp, err := http.Get("http://" + devAddr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return devAddr
}

// TestWindowScreenshots checks the real window's screenshots that
// scripts/shot.sh (make shot) took of the production binary under Xvfb:
// the login screen and a nurse's dashboard, each a full 1280x800 screen
// with enough distinct colours to be a drawn page (a blank or black window
// has one or two), and different from each other. make sets
// $WARDSYNC_WINDOW_SHOTS to the folder right after taking them; without it
// the test skips.
func TestWindowScreenshots(t *testing.T) {
	dir := windowShots(t, "run `make shot` then this test with WARDSYNC_WINDOW_SHOTS=build/screenshots (make test does)")
	var prints []map[uint32]int
	for _, name := range []string{"window-login.png", "window-nurse.png"} {
		path := filepath.Join(dir, name)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v (make shot takes it)", name, err)
		}
		if age := time.Since(st.ModTime()); age > 30*time.Minute {
			t.Errorf("%s is %s old: not from this run", name, age.Round(time.Second))
		}
		img := decode(t, path)
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
			t.Errorf("%s is %dx%d, want the whole 1280x800 screen", name, b.Dx(), b.Dy())
		}
		hist := histogram(img)
		top := 0
		for _, n := range hist {
			top = max(top, n)
		}
		share := float64(top) / float64(img.Bounds().Dx()*img.Bounds().Dy())
		t.Logf("%s: %d distinct colours, the commonest covers %.0f%%", name, len(hist), 100*share)
		if len(hist) < 32 {
			t.Errorf("%s has %d distinct colours: a blank window, not a page", name, len(hist))
		}
		if share > 0.97 {
			t.Errorf("%s is %.0f%% one colour: nothing drawn", name, 100*share)
		}
		prints = append(prints, hist)
	}
	if len(prints) == 2 && sameHistogram(prints[0], prints[1]) {
		t.Error("the nurse's dashboard looks exactly like the login screen: the login did not happen")
	}
}

func decode(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func histogram(img image.Image) map[uint32]int {
	h := map[uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			h[(r>>8)<<16|(g>>8)<<8|bl>>8]++
		}
	}
	return h
}

func sameHistogram(a, b map[uint32]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// make run opens the desktop app on the seed's demo workstation, whose id
// mk/desktop.mk spells out: it must be the seed's.
func TestDemoDeviceInMakefile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(wardtest.RepoRoot(t), "mk", "desktop.mk"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^DEMO_DEVICE \?= (\S+)`).FindSubmatch(b)
	if m == nil || string(m[1]) != postgres.DemoDeviceID {
		t.Fatalf("mk/desktop.mk DEMO_DEVICE = %q, the seed's demo workstation is %s", m, postgres.DemoDeviceID)
	}
}
