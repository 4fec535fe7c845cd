package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/internal/pgtest"
	httpserver "wardsync/server/http"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// wine is one Wine prefix, created for the test and removed after it.
type wine struct {
	t      *testing.T
	bin    string // wine64
	prefix string
	env    []string
}

// wineBinary finds Wine's 64-bit loader: Debian ships it as
// /usr/lib/wine/wine64, other systems put wine64 or wine on PATH.
func wineBinary() string {
	for _, p := range []string{"/usr/lib/wine/wine64"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"wine64", "wine"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func newWine(t *testing.T) *wine {
	t.Helper()
	bin := wineBinary()
	if bin == "" {
		t.Skip("wine64 is not installed (make deps installs it)")
	}
	prefix, err := os.MkdirTemp("", "wardsync-wine-")
	if err != nil {
		t.Fatal(err)
	}
	w := &wine{t: t, bin: bin, prefix: prefix}
	// No Mono or Gecko installers (they would ask, and need the network).
	w.env = append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
	t.Cleanup(func() {
		// wineserver lingers after the last process; end it before the
		// prefix goes.
		ws, err := exec.LookPath("wineserver")
		if err != nil {
			ws = filepath.Join(filepath.Dir(bin), "wineserver")
		}
		k := exec.Command(ws, "-k")
		k.Env = w.env
		k.Run()
		os.RemoveAll(prefix)
	})
	start := time.Now()
	boot := exec.Command(bin, "wineboot", "--init")
	boot.Env = w.env
	if out, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("wineboot --init: %v\n%s", err, out)
	}
	t.Logf("wine prefix created in %s (%s)", time.Since(start).Round(100*time.Millisecond), bin)
	w.provideBcryptPrimitives()
	return w
}

// provideBcryptPrimitives installs the stand-in of testdata/ when this
// Wine lacks the DLL (Wine 8); Go's runtime stops at start without it.
func (w *wine) provideBcryptPrimitives() {
	t := w.t
	sys32 := filepath.Join(w.prefix, "drive_c", "windows", "system32")
	if _, err := os.Stat(filepath.Join(sys32, "bcryptprimitives.dll")); err == nil {
		return
	}
	gcc, err := exec.LookPath("x86_64-w64-mingw32-gcc")
	if err != nil {
		t.Fatalf("this Wine lacks bcryptprimitives.dll, which Go's runtime needs, and mingw-w64 is not installed to build the stand-in: %v", err)
	}
	out, err := exec.Command(gcc, "-O2", "-shared", "-s", "-o", filepath.Join(sys32, "bcryptprimitives.dll"),
		filepath.Join("testdata", "bcryptprimitives.c"), "-ladvapi32").CombinedOutput()
	if err != nil {
		t.Fatalf("build the bcryptprimitives.dll stand-in: %v\n%s", err, out)
	}
	t.Logf("this Wine lacks bcryptprimitives.dll: installed the stand-in built from testdata/bcryptprimitives.c")
}

func (w *wine) command(exe string, args ...string) *exec.Cmd {
	cmd := exec.Command(w.bin, append([]string{exe}, args...)...)
	cmd.Env = w.env
	return cmd
}

// TestStationUnderWine: the Windows build of wardsync-station, under Wine,
// against the real server on loopback. It redeems its registration code,
// logs in, receives the ward's records, then — the server out of reach —
// queues acts, and drains them once the server is back. PostgreSQL then
// holds every act, applied once.
func TestStationUnderWine(t *testing.T) {
	r := needDist(t)
	exe := artefact(t, "wardsync-station-"+r.version+"-windows-amd64.exe")
	w := newWine(t)
	ctx := context.Background()

	pool, url := pgtest.MustOpenDB(t)
	cfg := postgres.DefaultConfig()
	cfg.MaxConns = 8
	db, err := postgres.Open(ctx, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	if _, err := db.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	var logw io.Writer = io.Discard
	if os.Getenv("WARDSYNC_TEST_LOG") != "" {
		logw = os.Stderr
	}
	startServer := func(addr string) *httpserver.Server {
		srv := httpserver.New(db, slog.New(slog.NewTextHandler(logw, nil)))
		if err := srv.Open(ctx, addr); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	stopServer := func(srv *httpserver.Server) {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Close(c)
	}
	srv := startServer("127.0.0.1:0")
	addr := srv.Addr()
	t.Cleanup(func() { stopServer(srv) })

	dev, code, _, err := db.RegisterDevice(ctx, "Wine ward", []workflow.Role{workflow.RoleSecretary})
	if err != nil {
		t.Fatal(err)
	}
	// A Windows path: C:\wardsync\ward.db lives in the prefix's drive_c.
	if err := os.MkdirAll(filepath.Join(w.prefix, "drive_c", "wardsync"), 0o700); err != nil {
		t.Fatal(err)
	}
	global := []string{"-db", `C:\wardsync\ward.db`, "-server", "http://" + addr, "-device", dev.ID}
	// The replica is encrypted: every command but login opens it with the
	// secretary's key slot, as the station's own docs say.
	unlockEnv := []string{"WARDSYNC_UNLOCK=secretary@hospital.com", "WARDSYNC_PASSWORD=secretary123"}
	station := func(args ...string) (string, error) {
		cmd := w.command(exe, append(append([]string{}, global...), args...)...)
		cmd.Env = append(cmd.Env, unlockEnv...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			return out.String(), fmt.Errorf("wardsync-station.exe %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String(), nil
	}
	mustStation := func(args ...string) string {
		t.Helper()
		out, err := station(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	status := func() map[string]any {
		t.Helper()
		var st map[string]any
		out := mustStation("status")
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status is not JSON: %v\n%s", err, out)
		}
		return st
	}
	count := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}

	v := mustStation("-version")
	if !strings.HasPrefix(v, "wardsync-station "+r.version) {
		t.Errorf("-version under wine: %q", v)
	}
	t.Logf("wine: %s", strings.TrimSpace(v))
	claim := mustStation("claim", "-code", code)
	mustContain(t, "claim", claim, `"name": "Wine ward"`, "SECRETARY")
	t.Logf("wine: claimed its registration as %q", "Wine ward")
	login := mustStation("login", "-email", "secretary@hospital.com")
	mustContain(t, "login", login, `"role": "SECRETARY"`)
	t.Logf("wine: logged in online as secretary@hospital.com")

	// The sync loop, in the background, until the ward's records are in.
	runSync := func() (stop func()) {
		cmd := w.command(exe, append(append([]string{}, global...), "run")...)
		cmd.Env = append(cmd.Env, unlockEnv...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		return func() {
			// Killed, not stopped: Wine does not pass SIGTERM on as a
			// console event. The engine is crash-safe (e2e/station
			// TestCrash), and the check below reads the file afresh.
			cmd.Process.Kill()
			<-done
			if t.Failed() {
				t.Logf("run's log:\n%s", errb.String())
			}
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	patients := count(`SELECT count(*) FROM patients`)
	stop := runSync()
	waitFor("the initial sync", func() bool {
		return count(`SELECT count(*) FROM sync.clients WHERE device_id = $1 AND cursor_xid IS NOT NULL`, dev.ID) == 1
	})
	stop()
	st := status()
	if st["lastSyncAt"] == nil {
		t.Fatalf("status after the initial sync: %v", st)
	}
	// The replica holds the ward's patients: below, patient.update of a
	// seeded one is accepted locally only because the row is there.
	var seeded string
	if err := pool.QueryRow(ctx, `SELECT id FROM patients ORDER BY id LIMIT 1`).Scan(&seeded); err != nil {
		t.Fatal(err)
	}
	t.Logf("wine: initial sync done (%d patients at the server), version %s sent in hello", patients, r.version)

	// The server goes away; the ward goes on.
	stopServer(srv)
	const acts = 5
	var ids []string
	for i := range acts {
		id := uuid.NewString()
		ids = append(ids, id)
		args := fmt.Sprintf(`{"id":%q,"firstName":"Wine","lastName":"Offline %d","birthDate":"1980-02-0%dT00:00:00Z"}`, id, i, i+1)
		mustStation("act", "-args", args, "patient.register")
	}
	mustStation("act", "-args", fmt.Sprintf(`{"id":%q,"phone":"+33 1 23 45 67 89"}`, seeded), "patient.update")
	replicaPatients := acts + 1
	st = status()
	if st["pending"] != float64(replicaPatients) {
		t.Fatalf("status while the server is away: pending %v, want %d", st["pending"], replicaPatients)
	}
	if n := count(`SELECT count(*) FROM sync.mutations WHERE device_id = $1`, dev.ID); n != 0 {
		t.Fatalf("the server has %d acts of the offline station", n)
	}
	t.Logf("wine: server away; %d acts queued in C:\\wardsync\\ward.db (5 patient.register, 1 patient.update of a synced patient; status: pending %v)", replicaPatients, st["pending"])

	// The server is back on the same address; the queue drains.
	srv = startServer(addr)
	stop = runSync()
	waitFor("the queue to drain into PostgreSQL", func() bool {
		return count(`SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND outcome = 'applied'`, dev.ID) == int64(replicaPatients)
	})
	waitFor("the station to see its queue empty", func() bool {
		return count(`SELECT count(*) FROM sync.clients WHERE device_id = $1 AND pending = 0`, dev.ID) == 1
	})
	stop()
	if st = status(); st["pending"] != float64(0) || st["rejected"] != float64(0) {
		t.Fatalf("status after the drain: %v", st)
	}
	if n := count(`SELECT count(*) FROM patients WHERE id = ANY($1) AND "firstName" = 'Wine'`, ids); n != acts {
		t.Fatalf("PostgreSQL holds %d of the %d registrations made under Wine", n, acts)
	}
	if n := count(`SELECT count(*) FROM patients WHERE id = $1 AND phone = '+33 1 23 45 67 89'`, seeded); n != 1 {
		t.Fatal("the offline update of a synced patient is not in PostgreSQL")
	}
	if n := count(`SELECT count(DISTINCT seq) FROM sync.mutations WHERE device_id = $1`, dev.ID); n != int64(replicaPatients) {
		t.Fatalf("the audit log has %d seqs of the station, want %d (each act once)", n, replicaPatients)
	}
	var version string
	pool.QueryRow(ctx, `SELECT client_version FROM sync.clients WHERE device_id = $1`, dev.ID).Scan(&version)
	if version != r.version {
		t.Errorf("the server recorded release %q for the station, want %q", version, r.version)
	}
	t.Logf("wine: server back; queue drained: PostgreSQL holds the %d registrations and the update, each applied once (seqs 1-%d); status pending 0", acts, replicaPatients)
}
