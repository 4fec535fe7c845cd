// Package bench holds wardsync's speed benchmarks (DESIGN §5, §7): push
// throughput and poke latency of the real server on loopback with real
// websockets, each next to a baseline measured in the same run (pgbench on
// the same statements, a bare LISTEN/NOTIFY round trip), so that a figure
// always comes with what the database alone does on the same machine.
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
// WARDSYNC_BENCH_POKES and WARDSYNC_BENCH_PGBENCH_SECONDS override single
// figures; WARDSYNC_PGBENCH names the pgbench binary.
package bench
