package bench

import (
	"flag"
	"os"
	"strconv"
	"sync"
	"testing"

	"wardsync/internal/wardtest"
)

// The station-side benchmarks run the real binaries as child processes
// (wardsync-server serve, wardsync-station login/run), so that each side's
// peak RSS is its own (VmHWM of the child in /proc). TestMain builds them
// into a temporary folder removed when the package's benchmarks end.
var serverBin, stationBin string

func TestMain(m *testing.M) {
	if os.Getenv(bareServerEnv) == "1" {
		os.Exit(bareServer())
	}
	var binDir string
	code := wardtest.BuildAndRun(m, &binDir, map[string]*string{
		"server/cmd/wardsync-server": &serverBin, "desktop/cmd/wardsync-station": &stationBin})
	if dataDir != "" {
		os.RemoveAll(dataDir)
	}
	os.Exit(code)
}

// TestBenchSmoke runs every benchmark once with the smoke settings, so that
// `make test` keeps them working; it checks only that each reports its
// figures. It runs only with WARDSYNC_BENCH_SMOKE=1.
func TestBenchSmoke(t *testing.T) {
	if os.Getenv("WARDSYNC_BENCH_SMOKE") != "1" {
		t.Skip("benchmarks run with `make bench` (scripts/bench.sh); set WARDSYNC_BENCH_SMOKE=1 to run them here in smoke mode")
	}
	// One iteration each: testing.Benchmark otherwise grows b.N until a
	// second has passed, repeating the set-up.
	old := flag.Lookup("test.benchtime").Value.String()
	if err := flag.Set("test.benchtime", "1x"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flag.Set("test.benchtime", old) })
	smokeMu.Lock()
	smokeT = t
	smokeMu.Unlock()
	t.Cleanup(func() {
		smokeMu.Lock()
		smokeT = nil
		smokeMu.Unlock()
	})
	_, pgbenchErr := pgbenchPath()
	cases := []struct {
		name    string
		fn      func(*testing.B)
		metrics []string
	}{
		{"PushThroughput", BenchmarkPushThroughput, []string{"mutations/s", "single-mutations/s", "baseline-tps", "baseline-batched-mutations/s", "baseline-notify-tps", "baseline-announce-tps", "ratio-batched", "ratio-single"}},
		{"PokeLatency", BenchmarkPokeLatency, []string{"p50-ms", "p99-ms", "p99-all-ms", "baseline-p50-ms", "baseline-p99-ms"}},
		{"InitialSync100k", BenchmarkInitialSync100k, []string{"s", "rows", "server-peak-MB", "station-peak-MB", "baseline-s"}},
		{"Drain", BenchmarkDrain, []string{"s", "baseline-s"}},
		{"LocalAct", BenchmarkLocalAct, []string{"p50-ms", "p99-ms", "baseline-p50-ms", "baseline-p99-ms"}},
		{"Dashboards", BenchmarkDashboards, []string{"p50-ms", "p99-ms", "baseline-p50-ms", "baseline-p99-ms"}},
		{"Connections", BenchmarkConnections, []string{"server-peak-MB", "poke-all-ms", "baseline-ms"}},
		{"RegistrationBurst", BenchmarkRegistrationBurst, []string{"acts/s", "p50-ms", "p99-ms", "same-acts/s", "same-p99-ms"}},
		{"Reconnect", BenchmarkReconnect, []string{"p50-ms", "max-ms"}},
	}
	for _, c := range cases {
		r := testing.Benchmark(c.fn)
		if r.N == 0 {
			t.Errorf("%s failed (see the log above)", c.name)
			continue
		}
		t.Logf("%s: %v", c.name, r.Extra)
		for _, m := range c.metrics {
			if pgbenchErr != nil && (m == "baseline-tps" || m == "ratio" || (c.name == "Drain" && m == "baseline-s")) {
				t.Logf("%s: %s not measured: %v", c.name, m, pgbenchErr)
				continue
			}
			if r.Extra[m] <= 0 {
				t.Errorf("%s reported %s = %v, want > 0", c.name, m, r.Extra[m])
			}
		}
	}
}

// config sizes a run. The full figures are the brief's; smoke shrinks them
// so that `make test` keeps the benchmarks working in a few seconds.
type config struct {
	Smoke bool
	// Push throughput: devices pushing at once, batches each per round,
	// appointments per batch (5 acts each: 10 appointments = 50 mutations).
	Devices       int
	Batches       int
	ApptsPerBatch int
	// The pgbench baseline: seconds; its clients equal Devices.
	PgbenchSeconds int
	// Poke latency: devices connected, acts pushed per round; PokePull
	// makes the devices pull on every poke instead of taking pushed pages
	// (WARDSYNC_BENCH_POKE_PULL=1: the path of a workstation that does not
	// ask for them, and of every workstation before pushed pages).
	PokeDevices int
	Pokes       int
	PokePull    bool
	// Station side: appointments of the initial-sync database (whose
	// replica LocalAct and Dashboards reuse), acts timed locally, dashboard
	// rounds, acts queued offline then drained, idle connections.
	SyncAppointments int
	LocalActs        int
	DashboardRounds  int
	DrainActs        int
	Conns            int
}

func loadConfig() config {
	c := config{Devices: 20, Batches: 30, ApptsPerBatch: 10, PgbenchSeconds: 10, PokeDevices: 50, Pokes: 500,
		SyncAppointments: 100_000, LocalActs: 10_000, DashboardRounds: 250, DrainActs: 10_000, Conns: 10_000}
	if os.Getenv("WARDSYNC_BENCH_SMOKE") == "1" {
		c = config{Smoke: true, Devices: 2, Batches: 2, ApptsPerBatch: 10, PgbenchSeconds: 2, PokeDevices: 5, Pokes: 20,
			SyncAppointments: 1_000, LocalActs: 40, DashboardRounds: 3, DrainActs: 60, Conns: 20}
	}
	for name, p := range map[string]*int{
		"WARDSYNC_BENCH_DEVICES":         &c.Devices,
		"WARDSYNC_BENCH_BATCHES":         &c.Batches,
		"WARDSYNC_BENCH_POKE_DEVICES":    &c.PokeDevices,
		"WARDSYNC_BENCH_POKES":           &c.Pokes,
		"WARDSYNC_BENCH_PGBENCH_SECONDS": &c.PgbenchSeconds,
		"WARDSYNC_BENCH_APPOINTMENTS":    &c.SyncAppointments,
		"WARDSYNC_BENCH_LOCAL_ACTS":      &c.LocalActs,
		"WARDSYNC_BENCH_DRAIN_ACTS":      &c.DrainActs,
		"WARDSYNC_BENCH_CONNS":           &c.Conns,
	} {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			*p = v
		}
	}
	c.PokePull = os.Getenv("WARDSYNC_BENCH_POKE_PULL") == "1"
	if c.PokeDevices < 2 {
		c.PokeDevices = 2 // an author and an observer
	}
	return c
}

// smokeT, when set (by TestBenchSmoke), also receives failure messages:
// testing.Benchmark discards a benchmark's own output.
var (
	smokeMu sync.Mutex
	smokeT  *testing.T
)

func smokeLog(format string, args ...any) {
	smokeMu.Lock()
	defer smokeMu.Unlock()
	if smokeT != nil {
		smokeT.Logf(format, args...)
	}
}

func fatalf(b testing.TB, format string, args ...any) {
	b.Helper()
	smokeLog(format, args...)
	b.Fatalf(format, args...)
}

func logf(b testing.TB, format string, args ...any) {
	b.Helper()
	smokeLog(format, args...)
	b.Logf(format, args...)
}
