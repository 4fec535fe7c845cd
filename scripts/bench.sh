#!/usr/bin/env bash
# The speed benchmarks (package bench/) with their same-run baselines:
# runs them once, prints a table (metric, ours, baseline, ratio) and writes
# build/bench/results.json and build/bench/bench.txt (go test's output).
#
#   scripts/bench.sh                      every row but the 1M initial sync (~6 min on 2 quiet cores)
#   BENCH_LARGE=1 scripts/bench.sh        adds the 1,000,000-appointment initial sync (make bench sets it)
#   WARDSYNC_BENCH_SMOKE=1 scripts/bench.sh   under a minute, tiny figures
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

cmd=(go test -run '^$' -bench . -benchtime 1x -count 1 -timeout 3h "$@" ./bench/)
shown="go test -run '^\$' -bench . -benchtime 1x -count 1 -timeout 3h${*:+ $*} ./bench/"
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
grep -E '^\s+[a-z_]+_test\.go:[0-9]+:|^\s+->|^Benchmark' "$outdir/bench.txt" || true

# "BenchmarkX-2  1  12.3 unit  4.5 unit2 ..." -> "X unit value" per metric.
declare -A m
while read -r bench unit value; do
  m["$bench $unit"]=$value
done < <(awk '/^Benchmark[A-Za-z0-9]+(-[0-9]+)?[ \t]/ {
  name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
  for (i = 3; i + 1 <= NF; i += 2) print name, $(i + 1), $i
}' "$outdir/bench.txt")

get() { echo "${m["$1 $2"]:-}"; }
num() { if [ -n "$1" ]; then printf '%.2f' "$1"; else printf 'n/a'; fi; }
jnum() { if [ -n "$1" ]; then printf '%s' "$1"; else printf 'null'; fi; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; else printf 'n/a'; fi; }

# metric label | benchmark | our unit | baseline unit | better | target
# The pgbench baselines run the same SQL with no notification (honest);
# the two "pgbench 1/tx +" rows show what notifying costs (bench/push_test.go).
# The target (docs/bench.md) is checked against ours ("<=15", ">=5000") and, for
# "ratio>=1", against the ratio; several are joined by commas; "" = none.
# Initial sync 100k's seconds target is the 1M one pro rata (60 s / 10).
rows=(
  "push 50 acts/push, 20 devices, mutations/s (vs pgbench 50/tx)|PushThroughput|mutations/s|baseline-batched-mutations/s|higher|>=5000,ratio>=1"
  "push 1 act/push, 20 devices, mutations/s (vs pgbench 1/tx)|PushThroughput|single-mutations/s|baseline-tps|higher|ratio>=1"
  "pgbench 1/tx + NOTIFY inside the tx (vs pgbench 1/tx)|PushThroughput|baseline-notify-tps|baseline-tps|higher|"
  "pgbench 1/tx + announcement after commit (vs pgbench 1/tx)|PushThroughput|baseline-announce-tps|baseline-tps|higher|"
  "propagation to device B p50, ms (vs bare NOTIFY)|PokeLatency|p50-ms|baseline-p50-ms|lower|<=10"
  "propagation to device B p99, ms (vs bare NOTIFY)|PokeLatency|p99-ms|baseline-p99-ms|lower|<=40"
  "propagation to all 49 devices p50, ms|PokeLatency|p50-all-ms||lower|"
  "propagation to all 49 devices p99, ms|PokeLatency|p99-all-ms||lower|<=60"
  "initial sync 100k appts, s (vs COPY -> SQLite)|InitialSync100k|s|baseline-s|lower|<=6"
  "initial sync 100k appts, server peak RSS, MB|InitialSync100k|server-peak-MB||lower|<=400"
  "initial sync 100k appts, station peak RSS, MB|InitialSync100k|station-peak-MB||lower|<=400"
  "initial sync 100k appts, s: encrypted (vs unencrypted replica)|InitialSync100k|s|unencrypted-s|lower|ratio<=1.3"
  "initial sync 100k appts, station CPU s: encrypted (vs unencrypted)|InitialSync100k|station-cpu-s|unencrypted-station-cpu-s|lower|"
  "initial sync 1M appts, s (vs COPY -> SQLite; BENCH_LARGE=1)|InitialSync1M|s|baseline-s|lower|<=60,ratio<=1.5"
  "initial sync 1M appts, server peak RSS, MB|InitialSync1M|server-peak-MB||lower|<=400"
  "initial sync 1M appts, station peak RSS, MB|InitialSync1M|station-peak-MB||lower|<=400"
  "backlog drain 10k acts, s (vs pgbench same SQL 200/tx)|Drain|s|baseline-s|lower|<=10,ratio<=1"
  "local act p50, ms (vs bare SQLite INSERT+commit)|LocalAct|p50-ms|baseline-p50-ms|lower|"
  "local act p99, ms (vs bare SQLite INSERT+commit)|LocalAct|p99-ms|baseline-p99-ms|lower|<=5"
  "local act p50, ms: encrypted (vs unencrypted replica)|LocalAct|p50-ms|unencrypted-p50-ms|lower|"
  "local act p99, ms: encrypted (vs unencrypted replica)|LocalAct|p99-ms|unencrypted-p99-ms|lower|ratio<=1.3"
  "dashboards p50, ms (vs same SQL, raw database/sql)|Dashboards|p50-ms|baseline-p50-ms|lower|"
  "dashboards p99, ms (vs same SQL, raw database/sql)|Dashboards|p99-ms|baseline-p99-ms|lower|<=10"
  "dashboards p50, ms: encrypted (vs unencrypted replica)|Dashboards|p50-ms|unencrypted-p50-ms|lower|"
  "dashboards p99, ms: encrypted (vs unencrypted replica)|Dashboards|p99-ms|unencrypted-p99-ms|lower|ratio<=1.3"
  "10k idle connections, server peak RSS, MB|Connections|server-peak-MB||lower|<=1024"
  "10k idle connections, poke to all, ms (vs bare broadcast)|Connections|poke-all-ms|baseline-ms|lower|<=1000"
  "registration burst 50 desks x 100 people, acts/s|RegistrationBurst|acts/s||higher|"
  "registration burst 50 desks x 100 people, push p99, ms|RegistrationBurst|p99-ms||lower|<=2000"
  "registration burst: INTERNAL + dropped sockets + deadlocks|RegistrationBurst|failures||lower|<=0"
  "registration burst, same 100 people on 50 desks, acts/s|RegistrationBurst|same-acts/s||higher|"
  "registration burst, same 100 people on 50 desks, push p99, ms|RegistrationBurst|same-p99-ms||lower|"
  "reconnect: link back -> first queued act acknowledged p50, ms (50 cuts)|Reconnect|p50-ms||lower|<=2000"
  "reconnect: link back -> first queued act acknowledged worst, ms (50 cuts)|Reconnect|max-ms||lower|<=6000"
)

# met VALUE RATIO TARGETS -> yes / NO / - (no target or no figure)
met() {
  local ours=$1 rt=$2 targets=$3 verdict=yes t what op lim
  [ -z "$targets" ] && { printf -- '-'; return; }
  IFS=',' read -ra ts <<<"$targets"
  for t in "${ts[@]}"; do
    what=$ours
    if [[ $t == ratio* ]]; then what=$rt; t=${t#ratio}; fi
    op=${t:0:2}; lim=${t:2}
    if [ -z "$what" ] || [ "$what" = n/a ]; then verdict=-; continue; fi
    if ! awk -v a="$what" -v b="$lim" -v op="$op" 'BEGIN { exit !((op == "<=" && a <= b) || (op == ">=" && a >= b)) }'; then
      printf 'NO'; return
    fi
  done
  printf '%s' "$verdict"
}

printf '\n%-60s %10s %10s %7s %13s %4s\n' "metric" "ours" "baseline" "ratio" "target" "met"
printf '%-60s %10s %10s %7s %13s %4s\n' "$(printf '%.0s-' {1..60})" "----------" "----------" "-------" "-------------" "----"
json_rows=()
for r in "${rows[@]}"; do
  IFS='|' read -r label bench ours_u base_u better target <<<"$r"
  ours=$(get "$bench" "$ours_u")
  base=""
  [ -n "$base_u" ] && base=$(get "$bench" "$base_u")
  rt=$(ratio "$ours" "$base")
  ok=$(met "$ours" "$rt" "$target")
  printf '%-60s %10s %10s %7s %13s %4s\n' "$label" "$(num "$ours")" "$(num "$base")" "$rt" "${target:--}" "$ok"
  [ "$rt" = "n/a" ] && rt=""
  json_rows+=("$(printf '    {"metric": "%s", "benchmark": "Benchmark%s", "unit": "%s", "baselineUnit": "%s", "better": "%s", "ours": %s, "baseline": %s, "ratio": %s, "target": "%s", "met": "%s"}' \
    "$label" "$bench" "$ours_u" "$base_u" "$better" "$(jnum "$ours")" "$(jnum "$base")" "$(jnum "$rt")" "$target" "$ok")")
done
echo "ratio = ours / baseline (throughput: higher is better; latency, time, memory: lower is better); met: yes / NO / - (no target, or not measured)"
# The benchmarks themselves keep the cores busy, so only the load before
# says whether something else was running; the load after is for the record.
echo "load average: $load_before before, $load_after after, on $cpus CPUs"
if awk -v l="$load_before" -v c="$cpus" 'BEGIN { exit !(l > c / 2) }'; then
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
