package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"wardsync/desktop"
	"wardsync/internal/wardtest"
	"wardsync/workflow"
)

// BenchmarkReconnect: how soon queued work flows once the link returns.
// One workstation engine (package desktop, in process, the app's defaults
// for reconnection) reaches the server through a toxiproxy proxy. Each of
// WARDSYNC_BENCH_CUTS cuts (default 50): stop the proxy (open sockets die,
// new ones are refused), wait for the engine to see it, record one act
// (it queues), stay cut for a random 1–4 s (long enough for the back-off
// to reach its cap), start the proxy again, and time until the engine has
// the server's acknowledgement of the queued act (its queue is empty).
//
// Reports p50-ms, p90-ms and max-ms. Target: p50 ≤ 2 s, worst ≤ 6 s, so
// that a ward sees its queued work leave soon after the link returns. No baseline: the floor is one TCP connect, a websocket handshake
// and one push on loopback, a few milliseconds.
func BenchmarkReconnect(b *testing.B) {
	cfg := loadConfig()
	cuts, minOut, maxOut := 50, time.Second, 4*time.Second
	if cfg.Smoke {
		cuts, minOut, maxOut = 3, 300*time.Millisecond, 600*time.Millisecond
	}
	if v, err := strconv.Atoi(os.Getenv("WARDSYNC_BENCH_CUTS")); err == nil && v > 0 {
		cuts = v
	}
	for i := 0; i < b.N; i++ {
		took := reconnectRun(b, cfg, cuts, minOut, maxOut)
		slices.Sort(took)
		b.ReportMetric(percentileMS(took, .5), "p50-ms")
		b.ReportMetric(percentileMS(took, .9), "p90-ms")
		b.ReportMetric(percentileMS(took, 1), "max-ms")
		logf(b, "reconnect: %d cuts of %s–%s; first queued act acknowledged after the link returned: p50 %.0f ms, p90 %.0f ms, worst %.0f ms",
			len(took), minOut, maxOut, percentileMS(took, .5), percentileMS(took, .9), percentileMS(took, 1))
	}
}

func reconnectRun(b *testing.B, cfg config, cuts int, minOut, maxOut time.Duration) []time.Duration {
	b.Helper()
	ctx := context.Background()
	e := benchServer(b)
	deviceID := e.AddDevice(b, "Reconnect bench", clinicRole...)
	link := wardtest.NewLink(b, "reconnect-"+deviceID, e.HTTP.Addr())
	eng := openEngine(b, desktop.Config{DBPath: filepath.Join(b.TempDir(), "station.db"), ServerURL: link.URL(), DeviceID: deviceID})
	user := logIn(b, eng, workflow.RoleSecretary)[workflow.RoleSecretary]
	defer runEngine(b, eng)()
	wait := func(what string, d time.Duration, cond func(desktop.Status) bool) {
		deadline := time.Now().Add(d)
		for !cond(eng.Status()) {
			if time.Now().After(deadline) {
				fatalf(b, "waited %s for %s: %+v", d, what, eng.Status())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	wait("the first sync", 2*time.Minute, func(s desktop.Status) bool { return s.Online && s.LastSyncAt != nil && s.InitialSync == nil })

	took := make([]time.Duration, 0, cuts)
	for i := 0; i < cuts; i++ {
		link.Cut()
		wait("the engine to see the cut", 30*time.Second, func(s desktop.Status) bool { return !s.Online })
		id := uuid.NewString()
		args, _ := json.Marshal(registerPatient(id, i).args)
		if _, err := eng.Act(ctx, user, "patient.register", args); err != nil {
			fatalf(b, "act while cut: %v", err)
		}
		if s := eng.Status(); s.Pending != 1 {
			fatalf(b, "cut %d: %d acts queued, want 1", i, s.Pending)
		}
		time.Sleep(minOut + rand.N(maxOut-minOut))
		if err := link.Restore(); err != nil {
			fatalf(b, "%v", err)
		}
		back := time.Now()
		wait(fmt.Sprintf("cut %d: the queued act acknowledged", i), time.Minute, func(s desktop.Status) bool { return s.Pending == 0 })
		took = append(took, time.Since(back))
	}
	return took
}
