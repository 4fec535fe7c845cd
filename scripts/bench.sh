#!/usr/bin/env bash
# The speed benchmarks (package bench/) with their same-run baselines:
# runs them once, prints a table (metric, ours, baseline, ratio) and writes
# build/bench/results.json and build/bench/bench.txt (go test's output).
#
#   scripts/bench.sh                      the full run (about two minutes)
#   WARDSYNC_BENCH_SMOKE=1 scripts/bench.sh   a few seconds, tiny figures
#
# DATABASE_URL names the PostgreSQL to use; unset, the project-local one
# (scripts/pg.sh start). Each benchmark gets a fresh database of its own.
# Extra arguments go to `go test` (e.g. -cpuprofile build/bench/cpu.out).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="/usr/local/go/bin:$PATH"
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(bash scripts/pg.sh start)
  export DATABASE_URL
fi
outdir=build/bench
mkdir -p "$outdir"

cmd=(go test -run '^$' -bench . -benchtime 1x -count 1 "$@" ./bench/)
shown="go test -run '^\$' -bench . -benchtime 1x -count 1${*:+ $*} ./bench/"
load_before=$(cut -d' ' -f1 /proc/loadavg)
cpus=$(nproc)
echo "+ $shown"
echo "  (load average before: $load_before on $cpus CPUs${WARDSYNC_BENCH_SMOKE:+; smoke mode})"
set +e
"${cmd[@]}" >"$outdir/bench.txt" 2>&1
status=$?
set -e
load_after=$(cut -d' ' -f1 /proc/loadavg)
if [ $status -ne 0 ]; then
  cat "$outdir/bench.txt" >&2
  echo "bench.sh: go test failed (exit $status); no results written" >&2
  exit $status
fi
# The benchmarks' own log lines (commands, breakdowns) are worth reading.
grep -E '^\s+(push|poke)_test\.go:[0-9]+:|^\s+->|^Benchmark' "$outdir/bench.txt" || true

# "BenchmarkX-2  1  12.3 unit  4.5 unit2 ..." -> "X unit value" per metric.
declare -A m
while read -r bench unit value; do
  m["$bench $unit"]=$value
done < <(awk '/^Benchmark[A-Za-z]+(-[0-9]+)?[ \t]/ {
  name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
  for (i = 3; i + 1 <= NF; i += 2) print name, $(i + 1), $i
}' "$outdir/bench.txt")

get() { echo "${m["$1 $2"]:-}"; }
num() { if [ -n "$1" ]; then printf '%.2f' "$1"; else printf 'n/a'; fi; }
jnum() { if [ -n "$1" ]; then printf '%s' "$1"; else printf 'null'; fi; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; else printf 'n/a'; fi; }

# metric label | benchmark | our unit | baseline unit | better
rows=(
  "push throughput, mutations/s (vs pgbench, 1 mutation/tx)|PushThroughput|mutations/s|baseline-tps|higher"
  "push throughput, mutations/s (vs pgbench, same SQL 50/tx)|PushThroughput|mutations/s|baseline-batched-mutations/s|higher"
  "poke latency to device B p50, ms (vs bare NOTIFY)|PokeLatency|p50-ms|baseline-p50-ms|lower"
  "poke latency to device B p99, ms (vs bare NOTIFY)|PokeLatency|p99-ms|baseline-p99-ms|lower"
  "poke latency to all devices p50, ms|PokeLatency|p50-all-ms||lower"
  "poke latency to all devices p99, ms|PokeLatency|p99-all-ms||lower"
)

printf '\n%-58s %12s %12s %8s\n' "metric" "ours" "baseline" "ratio"
printf '%-58s %12s %12s %8s\n' "$(printf '%.0s-' {1..58})" "------------" "------------" "--------"
json_rows=()
for r in "${rows[@]}"; do
  IFS='|' read -r label bench ours_u base_u better <<<"$r"
  ours=$(get "$bench" "$ours_u")
  base=""
  [ -n "$base_u" ] && base=$(get "$bench" "$base_u")
  rt=$(ratio "$ours" "$base")
  printf '%-58s %12s %12s %8s\n' "$label" "$(num "$ours")" "$(num "$base")" "$rt"
  [ "$rt" = "n/a" ] && rt=""
  json_rows+=("$(printf '    {"metric": "%s", "benchmark": "Benchmark%s", "unit": "%s", "baselineUnit": "%s", "better": "%s", "ours": %s, "baseline": %s, "ratio": %s}' \
    "$label" "$bench" "$ours_u" "$base_u" "$better" "$(jnum "$ours")" "$(jnum "$base")" "$(jnum "$rt")")")
done
echo "ratio = ours / baseline (throughput: higher is better; latency: lower is better)"
if awk -v l="$load_before" -v c="$cpus" 'BEGIN { exit !(l > c / 4) }'; then
  echo "note: the machine was busy before the run (load $load_before on $cpus CPUs); the figures are noisy"
fi

raw=()
for k in "${!m[@]}"; do
  raw+=("$(printf '    "Benchmark%s %s": %s' "${k%% *}" "${k#* }" "${m[$k]}")")
done
{
  echo "{"
  printf '  "command": "%s",\n' "$shown"
  printf '  "date": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "commit": "%s",\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  printf '  "go": "%s",\n' "$(go env GOVERSION)"
  printf '  "cpus": %s,\n' "$cpus"
  printf '  "loadBefore": %s,\n  "loadAfter": %s,\n' "$load_before" "$load_after"
  printf '  "smoke": %s,\n' "$([ "${WARDSYNC_BENCH_SMOKE:-}" = 1 ] && echo true || echo false)"
  echo '  "rows": ['
  (IFS=$'\n'; echo "${json_rows[*]}" | sed '$!s/$/,/')
  echo '  ],'
  echo '  "metrics": {'
  (IFS=$'\n'; echo "${raw[*]}" | sort | sed '$!s/$/,/')
  echo '  }'
  echo "}"
} >"$outdir/results.json"
echo "wrote $outdir/results.json and $outdir/bench.txt"
