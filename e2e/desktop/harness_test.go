// Package desktop_test tests the desktop app end to end: the bound App
// (desktop/app) with a real engine on a temporary SQLite replica against a
// real server on loopback and a fresh seeded PostgreSQL database; the UI in
// headless Chromium driving the app built with Wails' dev tags under Xvfb;
// and the production window's screenshots (scripts/shot.sh).
//
// It lives outside desktop/ because desktop packages may not import the
// server (internal/archtest).
package desktop_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"wardsync/desktop"
	"wardsync/desktop/app"
	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// Seed ids the tests act on.
var (
	doctorID    = postgres.SeedID("user:doctor@hospital.com")
	nurseID     = postgres.SeedID("user:nurse@hospital.com")
	secretaryID = postgres.SeedID("user:secretary@hospital.com")
	biologistID = postgres.SeedID("user:biologist@hospital.com")
	apptChecked = postgres.SeedID("a:checkedin")
	apptSched   = postgres.SeedID("a:scheduled")
	apptFever   = postgres.SeedID("a:inconsult") // 38.4 °C, waiting for the doctor
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// world is a wardtest server that can be cut off (stop: it closes its
// websockets and stops listening) and brought back (restart: a new
// instance on the same database and port).
type world struct {
	*wardtest.Server
	t testing.TB
}

func newWorld(t testing.TB) *world {
	t.Helper()
	return &world{wardtest.StartServer(t, wardtest.Options{LoginPerEmail: 1000, LoginPerIP: 1000}), t}
}

func (w *world) stop()    { w.Stop() }
func (w *world) restart() { w.Restart(w.t) }

func (w *world) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.Pool.Exec(context.Background(), sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

func (w *world) scalar(sql string, args ...any) string {
	w.t.Helper()
	var s string
	if err := w.Pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// events records what the App emitted.
type events struct {
	mu   sync.Mutex
	last app.Status
	n    int
	ch   chan struct{}
}

func (e *events) emit(_ context.Context, name string, data any) {
	if name != app.EventStatus {
		return
	}
	e.mu.Lock()
	e.last, e.n = data.(app.Status), e.n+1
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// openApp opens an App on a fresh replica bound to the demo workstation,
// started as Wails would start it.
func openApp(t testing.TB, w *world, dir string) (*app.App, *events) {
	t.Helper()
	ev := &events{ch: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Config{
		Engine: desktop.Config{DBPath: filepath.Join(dir, "workstation.db"), ServerURL: w.URL(), DeviceID: postgres.DemoDeviceID,
			Logger: quiet(), BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, PollInterval: 200 * time.Millisecond},
		Emit:   ev.emit,
		Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Startup(ctx)
	t.Cleanup(func() {
		c, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		a.Shutdown(c)
		cancel()
	})
	return a, ev
}

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// must returns v, or stops the test on err: a test that uses it defers
// caught(t), which turns the stop into t.Fatal with the error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(failure{err})
	}
	return v
}

type failure struct{ err error }

func caught(t testing.TB) {
	if r := recover(); r != nil {
		if f, ok := r.(failure); ok {
			t.Fatalf("unexpected error: %v (%+v)", f.err, f.err)
		}
		panic(r)
	}
}

func rejection(t testing.TB, err error) app.Problem {
	t.Helper()
	if err == nil {
		t.Fatal("expected a refusal, got none")
	}
	return app.Format(err)
}

var _ = workflow.RoleNurse

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
		dir = filepath.Join(repoRoot(t), dir)
	}
	return dir
}

// runApp starts the desktop binary bin on a fresh replica against w's
// server, shown on display, with env added after DISPLAY and extra flags
// after the common ones. It runs in its own process group, so that the
// cleanup can end all of it; the cleanup logs the last logTail bytes of
// its output when the test failed. exited closes when the app exits.
func runApp(t *testing.T, bin, display string, w *world, env []string, logTail int, extra ...string) (appLog *logWriter, exited chan struct{}) {
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
	dist := filepath.Join(repoRoot(t), "frontend", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatal("frontend/dist/index.html is missing: build the UI first (make frontend, or cd frontend && npm ci && npm run build)")
	}
	return dist
}

// runDevApp starts the dev build bin (see devBinary) serving the built UI
// in dist (see builtUI) on its dev server, and waits until that answers.
// It returns the dev server's address, for a browser to open.
func runDevApp(t *testing.T, bin, dist, display string, w *world, extra ...string) string {
	t.Helper()
	devAddr := freePort(t)
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
