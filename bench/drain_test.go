package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/bench/fixture"
	"wardsync/desktop"
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
		e := startEnv(b, cfg)
		dev := uuid.NewString()
		if _, err := e.db.AddDevice(ctx, dev, "Drain bench", workflow.Roles); err != nil {
			fatalf(b, "add device: %v", err)
		}
		eng, err := desktop.Open(ctx, desktop.Config{
			DBPath: filepath.Join(b.TempDir(), "drain.db"), ServerURL: e.srv.URL(), DeviceID: dev,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Location: time.UTC,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		})
		if err != nil {
			fatalf(b, "open engine: %v", err)
		}
		b.Cleanup(func() { eng.Close(context.Background()) })
		users := map[workflow.Role]string{}
		for _, role := range wardRoles {
			u := seedLogin[role]
			s, err := eng.Login(ctx, u.Email, u.Password)
			if err != nil {
				fatalf(b, "login %s: %v", u.Email, err)
			}
			users[role] = s.User.ID
		}
		// First sync (the seed), then offline.
		stop := runEngine(b, eng)
		waitDrained(b, eng, 2*time.Minute)
		stop()
		for k, st := range fixture.WardScript("drain", cfg.DrainActs, time.Now()) {
			if _, err := eng.Act(ctx, users[st.Role], st.Name, mustJSON(st.Args)); err != nil {
				fatalf(b, "queue act %d (%s): %v", k, st.Name, err)
			}
		}
		e.checkpoint()
		b.ResetTimer()
		start := time.Now()
		stop = runEngine(b, eng)
		acked := waitDrained(b, eng, 30*time.Minute)
		took = time.Since(start)
		pushed = acked.Sub(start)
		b.StopTimer()
		stop()
		var applied int
		if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM sync.mutations WHERE device_id = $1 AND outcome = 'applied'`, dev).Scan(&applied); err != nil {
			fatalf(b, "%v", err)
		}
		if applied != cfg.DrainActs {
			fatalf(b, "%d acts applied, want %d", applied, cfg.DrainActs)
		}
		logf(b, "drain: %d acts queued offline pushed, applied and pulled back in %.2f s (%.0f acts/s)", cfg.DrainActs, took.Seconds(), float64(cfg.DrainActs)/took.Seconds())
		logf(b, "  -> every outcome known after %.2f s (pushes), reflected by pulls %.2f s later", pushed.Seconds(), (took - pushed).Seconds())

		const batch = 200 // desktop.Config.PushBatch's default
		e.checkpoint()
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
