package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/bench/fixture"
	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// BenchmarkDrain: a workstation (the desktop engine, in this process, on
// its own SQLite file) whose users logged in online queues cfg.DrainActs
// acts of the whole workflow offline (fixture.WardScript: patients
// registered, seen, sampled, billed), then reconnects to the real server on
// loopback. Timed: from starting the sync loop until every act is pushed,
// has its outcome recorded, and is reflected by a pull (the replica's
// reflectedSeq has reached its last seq). Every act must be applied.
//
// Baseline in the same run, on the same database: pgbench running the SQL
// of cfg.DrainActs mutations from one client, grouped as the engine's
// pushes group them (200 to a transaction, a savepoint each); baseline-s
// is the time it takes.
func BenchmarkDrain(b *testing.B) {
	cfg := loadConfig()
	ctx := context.Background()
	var took, pushed time.Duration
	for i := 0; i < b.N; i++ {
		e := benchServer(b)
		dev := uuid.NewString()
		if _, err := e.DB.AddDevice(ctx, dev, "Drain bench", workflow.Roles); err != nil {
			fatalf(b, "add device: %v", err)
		}
		eng := openEngine(b, desktop.Config{DBPath: filepath.Join(b.TempDir(), "drain.db"), ServerURL: e.URL(), DeviceID: dev,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond})
		users := logIn(b, eng, wardRoles...)
		// First sync (the seed), then offline.
		stop := runEngine(b, eng)
		waitDrained(b, eng, 2*time.Minute)
		stop()
		for k, st := range fixture.WardScript("drain", cfg.DrainActs, time.Now()) {
			if _, err := eng.Act(ctx, users[st.Role], st.Name, wardtest.MustJSON(st.Args)); err != nil {
				fatalf(b, "queue act %d (%s): %v", k, st.Name, err)
			}
		}
		checkpoint(e)
		// Where the drain's wall time goes: CPU of this process (the engine
		// and the server, both in it; $WARDSYNC_CPUPROFILE=P writes P-drain
		// to tell them apart) and of the PostgreSQL cluster's processes.
		stopProfile := startProfile(b, "drain")
		pg0 := postgresCPU(ctx, e)
		self0 := selfCPU()
		b.ResetTimer()
		start := time.Now()
		stop = runEngine(b, eng)
		acked := waitDrained(b, eng, 30*time.Minute)
		took = time.Since(start)
		pushed = acked.Sub(start)
		b.StopTimer()
		selfCPUs, pgCPUs := selfCPU()-self0, postgresCPU(ctx, e)-pg0
		stopProfile()
		stop()
		var applied int
		if err := e.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND outcome = 'applied'`, dev).Scan(&applied); err != nil {
			fatalf(b, "%v", err)
		}
		if applied != cfg.DrainActs {
			fatalf(b, "%d acts applied, want %d", applied, cfg.DrainActs)
		}
		logf(b, "drain: %d acts queued offline pushed, applied and pulled back in %.2f s (%.0f acts/s)", cfg.DrainActs, took.Seconds(), float64(cfg.DrainActs)/took.Seconds())
		logf(b, "  -> every outcome known after %.2f s (pushes), reflected by pulls %.2f s later", pushed.Seconds(), (took - pushed).Seconds())
		logf(b, "  -> CPU meanwhile: engine + server (this process) %.2f s, PostgreSQL %.2f s", selfCPUs, pgCPUs)
		b.ReportMetric(selfCPUs, "engine-server-cpu-s")
		b.ReportMetric(pgCPUs, "postgres-cpu-s")

		const batch = 200 // desktop.Config.PushBatch's default
		checkpoint(e)
		base, err := runPgbenchTx(b, e, 1, max(1, cfg.DrainActs/batch), batch)
		switch {
		case err == errNoPgbench:
			logf(b, "baseline skipped: %v", err)
		case err != nil:
			fatalf(b, "pgbench baseline: %v", err)
		default:
			secs := float64(cfg.DrainActs) / base.mutations
			logf(b, "baseline: %s\n  -> %.0f mutations/s: %d mutations in %.2f s", base.command, base.mutations, cfg.DrainActs, secs)
			b.ReportMetric(secs, "baseline-s")
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(took.Seconds(), "s")
	b.ReportMetric(float64(cfg.DrainActs)/took.Seconds(), "acts/s")
	b.ReportMetric(pushed.Seconds(), "push-s")
	b.ReportMetric((took - pushed).Seconds(), "pullback-s")
}

// openEngine opens a workstation's engine in this process on cfg, quiet
// and in UTC, closed when the benchmark ends.
func openEngine(b *testing.B, cfg desktop.Config) *desktop.Engine {
	b.Helper()
	cfg.Logger, cfg.Location = slog.New(slog.NewTextHandler(io.Discard, nil)), time.UTC
	eng, err := desktop.Open(context.Background(), cfg)
	if err != nil {
		fatalf(b, "open %s: %v", cfg.DBPath, err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
	})
	return eng
}

// logIn logs the seed's users of roles in on eng (offline when it has no
// server) and returns their ids by role.
func logIn(b *testing.B, eng *desktop.Engine, roles ...workflow.Role) map[workflow.Role]string {
	b.Helper()
	users := map[workflow.Role]string{}
	for _, role := range roles {
		s, err := eng.Login(context.Background(), wardtest.Email(role), wardtest.Password(role))
		if err != nil {
			fatalf(b, "login %s: %v", wardtest.Email(role), err)
		}
		users[role] = s.User.ID
	}
	return users
}

// runEngine starts the engine's sync loop; the returned func stops it.
func runEngine(b *testing.B, eng *desktop.Engine) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				logf(b, "engine run: %v", err)
			}
		case <-time.After(30 * time.Second):
			logf(b, "engine run did not stop")
		}
	}
	b.Cleanup(stop)
	return stop
}

// waitDrained waits until the engine has synced, its outbox is settled and
// every act it made is reflected by a pull. It returns when it first saw
// every act's outcome known (the pushes done; the pull-back may still run).
func waitDrained(b *testing.B, eng *desktop.Engine, timeout time.Duration) (acked time.Time) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		st, err := eng.DB().State(ctx)
		if err != nil {
			fatalf(b, "%v", err)
		}
		s := eng.Status()
		if acked.IsZero() && st.AckedSeq >= st.LastSeq {
			acked = time.Now()
		}
		why := ""
		switch {
		case !s.Online:
			why = "offline: " + s.LastError
		case st.LastSyncAt == nil:
			why = "never synced"
		case st.AckedSeq < st.LastSeq || st.ReflectedSeq < st.LastSeq:
			why = fmt.Sprintf("acked %d, reflected %d of %d", st.AckedSeq, st.ReflectedSeq, st.LastSeq)
		}
		if why == "" {
			return acked
		}
		if time.Now().After(deadline) {
			fatalf(b, "not drained after %s: %s", timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// selfCPU is the CPU time (user + system) this process has used, in
// seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// postgresCPU is the CPU time used so far by e's PostgreSQL cluster: the
// postmaster (with the children it has reaped) and every live child
// (backends, WAL writer, checkpointer), from /proc; 0 where /proc cannot
// tell (another OS, another machine's server).
func postgresCPU(ctx context.Context, e *wardtest.Server) float64 {
	var backend int
	if err := e.DB.Pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	// /proc/PID/stat: "pid (comm) state ppid …"; utime, stime, cutime and
	// cstime are fields 14–17, in clock ticks (100 a second on Linux).
	stat := func(pid int) (ppid int, ticks [4]float64, ok bool) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, ticks, false
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return 0, ticks, false
		}
		f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
		if len(f) < 15 {
			return 0, ticks, false
		}
		ppid, _ = strconv.Atoi(f[1])
		for k := range ticks {
			ticks[k], _ = strconv.ParseFloat(f[11+k], 64)
		}
		return ppid, ticks, true
	}
	postmaster, _, ok := stat(backend)
	if !ok {
		return 0
	}
	_, pm, ok := stat(postmaster)
	if !ok {
		return 0
	}
	total := pm[0] + pm[1] + pm[2] + pm[3]
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if ppid, t, ok := stat(pid); ok && ppid == postmaster {
			total += t[0] + t[1]
		}
	}
	return total / 100
}

// startProfile writes this process's CPU profile to $WARDSYNC_CPUPROFILE-name
// until the returned func is called; without the variable it does nothing.
func startProfile(b *testing.B, name string) (stop func()) {
	prof := os.Getenv("WARDSYNC_CPUPROFILE")
	if prof == "" {
		return func() {}
	}
	f, err := os.Create(prof + "-" + name)
	if err != nil {
		fatalf(b, "%v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		logf(b, "no %s profile: %v", name, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
