#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_api.sh — what the HTTP API costs the daemon. Two daemons with the same pipeline (procfs
# every second into a jsonl sink), run one after the other for SECONDS: one without [api], one
# with it, scraped once a second. Prints each one's CPU (utime+stime from /proc) and RSS at the
# end, the ratio, and the scrape latency (median and max of the scrapes).
# Usage (the binary or the build folder): tests/bench/api/bench_api.sh [path/to/phantomguard] [seconds]
# Goals (issue 11): CPU under 1% of a core with the API scraped every second; idle RSS with the
# API at most 2 MiB more than without.
set -euo pipefail
bin=${1:-build/bin/phantomguard}
[[ -d $bin ]] && bin=$bin/bin/phantomguard # scripts/run-benchmarks passes the build folder
secs=${2:-30}
[[ -x $bin ]] || { echo "bench_api.sh: $bin not found (run make build first)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench_api.sh: curl is needed" >&2; exit 2; }
work=$(mktemp -d)
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
tick=$(getconf CLK_TCK)

config() { # $1: name, $2: api table (or empty)
  cat > "$work/$1.toml" <<TOML
[engine]
log_level = "info"
state_dir = "$work/state-$1"
$2
[sources.procfs]
type = "procfs"
interval = "1s"
[sinks.jsonl]
type = "jsonl"
inputs = ["procfs"]
path = "$work/$1.jsonl"
TOML
}

cpu_of() { awk -v t="$tick" '{ s = substr($0, index($0, ") ") + 2); split(s, f, " "); printf "%.3f", (f[12] + f[13]) / t }' "/proc/$1/stat"; }
rss_of() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

run_one() { # $1: name, $2: scrape (yes/no), $3: stream (yes/no); sets cpu, rss, lat
  "$bin" run --config "$work/$1.toml" 2> "$work/$1.log" &
  pid=$!
  local port=""
  for _ in $(seq 1 100); do
    port=$(grep -o 'api listening on [^ ]*' "$work/$1.log" 2>/dev/null | sed 's/.*://') || true
    [[ -n $port || $2 == no ]] && break
    sleep 0.05
  done
  local stream=""
  if [[ ${3:-no} == yes ]]; then
    # What the dashboard keeps open: the SSE stream (a status document a second).
    curl -sN -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/stream" > /dev/null &
    stream=$!
  fi
  sleep 2 # start-up is not what is measured
  local c0; c0=$(cpu_of "$pid")
  : > "$work/$1.lat"
  for _ in $(seq 1 "$secs"); do
    if [[ $2 == yes ]]; then
      curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/metrics" >> "$work/$1.lat"
    fi
    sleep 1
  done
  cpu=$(awk -v a="$(cpu_of "$pid")" -v b="$c0" 'BEGIN { printf "%.3f", a - b }')
  rss=$(rss_of "$pid")
  [[ -n $stream ]] && kill "$stream" 2>/dev/null
  kill -INT "$pid"; wait "$pid" || true; pid=""
  if [[ $2 == yes ]]; then
    lat=$(sort -n "$work/$1.lat" | awk '{ v[NR] = $1 } END { printf "%.2f ms median, %.2f ms max", v[int((NR + 1) / 2)] * 1000, v[NR] * 1000 }')
  fi
}

token=bench-token-0123456789abcdef
printf '%s\n' "$token" > "$work/token"; chmod 600 "$work/token"
config off ""
config on $'[api]\nlisten = "127.0.0.1:0"'
config stream $'[api]\nlisten = "127.0.0.1:0"\ntoken_file = "'"$work/token"'"'
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $secs s each, scraped once a second"
run_one off no; off_cpu=$cpu; off_rss=$rss
run_one on yes; on_cpu=$cpu; on_rss=$rss; on_lat=$lat
run_one stream yes yes; st_cpu=$cpu; st_rss=$rss
printf '%-30s %10s %12s\n' "daemon" "CPU s" "RSS KiB"
printf '%-30s %10s %12s\n' "without [api]" "$off_cpu" "$off_rss"
printf '%-30s %10s %12s\n' "with [api], scraped" "$on_cpu" "$on_rss"
printf '%-30s %10s %12s\n' "scraped, and a stream open" "$st_cpu" "$st_rss"
awk -v a="$on_cpu" -v b="$off_cpu" -v s="$secs" -v ra="$on_rss" -v rb="$off_rss" 'BEGIN {
  printf "API cost: %.3f%% of a core; RSS %+.0f KiB (%.2fx)\n", (a - b) / s * 100, ra - rb, ra / rb }'
awk -v a="$st_cpu" -v b="$off_cpu" -v s="$secs" 'BEGIN {
  printf "with a dashboard stream open too: %.3f%% of a core\n", (a - b) / s * 100 }'
echo "scrape latency: $on_lat"
