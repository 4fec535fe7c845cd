package bench

import (
	"flag"
	"os"
	"testing"
)

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
