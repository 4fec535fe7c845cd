// Package bench holds wardsync's speed benchmarks, each with its target
// and baseline in docs/bench.md: push throughput, propagation, initial sync (the real
// wardsync-server and wardsync-station binaries as child processes, for
// each side's peak RSS), backlog drain, local act, dashboards and 10,000
// idle connections, each next to a baseline measured in the same run
// (pgbench on the same statements, a bare LISTEN/NOTIFY round trip, COPY
// into a bare SQLite table, a bare SQLite INSERT, the same dashboard SQL
// through bare database/sql, a bare websocket broadcast), so that a figure
// always comes with what the machine does without our code.
//
// Nothing here is a timed assertion: the benchmarks report figures
// (b.ReportMetric) and fail only when the server answers wrongly.
//
//	go test -run '^$' -bench . -benchtime 1x -count 1 ./bench/   # the real run
//	scripts/bench.sh                                            # the same, as a table and build/bench/results.json
//	WARDSYNC_BENCH_SMOKE=1 go test -run TestBenchSmoke ./bench/ # a few seconds, to keep them working
//
// Settings (environment): WARDSYNC_BENCH_SMOKE=1 shrinks everything;
// WARDSYNC_BENCH_DEVICES, WARDSYNC_BENCH_BATCHES, WARDSYNC_BENCH_POKE_DEVICES,
// WARDSYNC_BENCH_POKES, WARDSYNC_BENCH_PGBENCH_SECONDS,
// WARDSYNC_BENCH_APPOINTMENTS, WARDSYNC_BENCH_LOCAL_ACTS,
// WARDSYNC_BENCH_DRAIN_ACTS, WARDSYNC_BENCH_CONNS and WARDSYNC_BENCH_CUTS (the
// reconnection benchmark's link cuts) override single
// figures; BENCH_LARGE=1 adds the 1,000,000-appointment initial sync;
// WARDSYNC_PGBENCH names the pgbench binary.
package bench
