#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# footprint.sh — footprint of the real daemon: `phantomguard run` with a default-like pipeline
# (procfs every 10 s into a jsonl sink that writes events as they arrive). Prints the time from
# exec to the first event on disk, and RSS (and peak RSS) after IDLE seconds.
# Usage: tests/bench/engine/footprint.sh [path/to/phantomguard] [idle-seconds]
# Goals (docs/performance/engine.md): RSS <= 16 MiB after 10 s idle, first event < 100 ms.
set -euo pipefail
bin=${1:-build/bin/phantomguard}
idle=${2:-10}
[[ -x $bin ]] || { echo "footprint.sh: $bin not found (run make build first)" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
out=$work/events.jsonl
cat > "$work/footprint.toml" <<TOML
[engine]
log_level = "warn"
state_dir = "$work/state"
shutdown_timeout = "5s"

[sources.procfs]
type = "procfs"
interval = "10s"

[sinks.jsonl]
type = "jsonl"
inputs = ["procfs"]
path = "$out"
include_events = true
flush = "event"
TOML
"$bin" validate --config "$work/footprint.toml" >/dev/null
start=$(date +%s%N)
"$bin" run --config "$work/footprint.toml" &
pid=$!
first=""
for _ in $(seq 1 5000); do
  if [[ -s $out ]]; then first=$(( ($(date +%s%N) - start) / 1000000 )); break; fi
  sleep 0.001
done
sleep "$idle"
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
printf 'time to first event on disk: %s ms (goal < 100 ms; includes exec and config load)\n' \
  "${first:-none within 5 s}"
printf 'RSS after %s s idle: %.2f MiB (peak %.2f MiB, %s threads; goal <= 16 MiB)\n' \
  "$idle" "$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" "$threads"
printf 'exit code after SIGTERM: %s\n' "$rc"
