#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_api_hostile.sh — does a hostile client slow the engine down? One daemon (procfs every
# 100 ms into a jsonl sink, the API on loopback) measured over WINDOW seconds quiet, then over
# WINDOW seconds while hostile_clients.py holds 1000 slow connections and sends garbage HTTP and
# 10 MiB bodies, RUNS times. Per window: events the sink took in per second (read over the
# control socket, which the attack does not reach), the daemon's CPU, and /healthz latency.
# Prints the medians and the ratio attacked / quiet (goal, issue 11: the event rate unchanged).
# Usage (the binary or the build folder): tests/bench/api/bench_api_hostile.sh [path/to/phantomguard] [window seconds] [runs]
set -euo pipefail
bin=${1:-build/bin/phantomguard}
[[ -d $bin ]] && bin=$bin/bin/phantomguard # scripts/run-benchmarks passes the build folder
window=${2:-10}
runs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
[[ -x $bin ]] || { echo "bench_api_hostile.sh: $bin not found (run make build first)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench_api_hostile.sh: curl is needed" >&2; exit 2; }
work=$(mktemp -d)
pid=""
attack=""
trap '[[ -n $attack ]] && kill "$attack" 2>/dev/null; [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
tick=$(getconf CLK_TCK)
cat > "$work/pg.toml" <<TOML
[engine]
state_dir = "$work/state"
[api]
listen = "127.0.0.1:0"
[sources.procfs]
type = "procfs"
interval = "100ms"
[sinks.archive]
type = "jsonl"
inputs = ["procfs"]
path = "$work/out.jsonl"
TOML

cpu_of() { awk -v t="$tick" '{ s = substr($0, index($0, ") ") + 2); split(s, f, " "); printf "%.3f", (f[12] + f[13]) / t }' "/proc/$1/stat"; }
taken_in() { "$bin" status --config "$work/pg.toml" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["components"][1]["events_in"])'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# One window: sets rate (events/s), cpu (% of a core), health (ms, median of one probe a second)
measure() {
  local e0 c0 t0 e1 c1 t1
  e0=$(taken_in); c0=$(cpu_of "$pid"); t0=$(date +%s.%N)
  : > "$work/health"
  for _ in $(seq 1 "$window"); do
    curl -s -m 10 -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/healthz" >> "$work/health" || echo 10 >> "$work/health"
    sleep 1
  done
  e1=$(taken_in); c1=$(cpu_of "$pid"); t1=$(date +%s.%N)
  rate=$(awk -v a="$e0" -v b="$e1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", (b - a) / (e - s) }')
  cpu=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f", (b - a) / (e - s) * 100 }')
  health=$(median < "$work/health" | awk '{ printf "%.1f", $1 * 1000 }')
}

"$bin" run --config "$work/pg.toml" 2> "$work/log" &
pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(grep -o 'api listening on [^ ]*' "$work/log" 2>/dev/null | sed 's/.*://') || true
  [[ -n $port ]] && break
  sleep 0.05
done
sleep 2
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $runs runs of $window s quiet + $window s attacked"
printf '%-4s %12s %12s %10s %10s %12s %12s\n' run "quiet ev/s" "attack ev/s" "quiet CPU%" "attack CPU%" "quiet hz ms" "attack hz ms"
: > "$work/ratios"
for r in $(seq 1 "$runs"); do
  measure; q_rate=$rate; q_cpu=$cpu; q_health=$health
  python3 "$here/hostile_clients.py" --port "$port" --slow 1000 --garbage 40 --bodies 3 \
    --seconds $((window + 2)) > "$work/attack.out" 2>&1 &
  attack=$!
  sleep 1
  measure; a_rate=$rate; a_cpu=$cpu; a_health=$health
  wait "$attack" || true; attack=""
  printf '%-4s %12s %12s %10s %10s %12s %12s\n' "$r" "$q_rate" "$a_rate" "$q_cpu" "$a_cpu" "$q_health" "$a_health"
  awk -v a="$a_rate" -v q="$q_rate" 'BEGIN { printf "%.3f\n", a / q }' >> "$work/ratios"
  sleep 6 # the last slow connections are cut
done
cut=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^phantomguard_api_connections_cut_total/ { print $2 }')
echo "event rate attacked / quiet: median $(median < "$work/ratios")x (1.0 = unchanged); slow connections cut: $cut"
echo "last attack: $(cat "$work/attack.out")"
kill -INT "$pid"; wait "$pid" || true; pid=""
