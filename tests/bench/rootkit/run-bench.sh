#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run-bench.sh — times PhantomGuard's hidden-process walk against `unhide proc` and
# `unhide -d brute` (Debian package unhide) on this machine, and the hidden-port probe against
# `unhide-tcp`; prints the times, the ratios, and whether all agree that no PID is hidden.
#
# usage: tests/bench/rootkit/run-bench.sh [BUILD_DIR]   (default: build-rootkit, then build)
# Needs root for a meaningful run (unhide refuses otherwise). Exit 0 when all agree, 1 if not.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
build=${1:-}
if [ -z "$build" ]; then
  for b in "$src/build-rootkit" "$src/build"; do
    [ -x "$b/bin/bench_rootkit" ] && build=$b && break
  done
fi
bench=$build/bin/bench_rootkit
if [ ! -x "$bench" ]; then
  echo "bench_rootkit not built: cmake --build <build> --target bench_rootkit" >&2
  exit 2
fi
for tool in unhide unhide-tcp; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool missing: scripts/install-deps installs the Debian package unhide" >&2
    exit 2
  fi
done

now() { date +%s.%N; }
elapsed_ms() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')"; }

echo "== machine: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), pid_max $(cat /proc/sys/kernel/pid_max)"

echo "== PhantomGuard hidden-process walk (5 runs) and port probe"
pg_out=$("$bench" --runs 5 --ports)
echo "$pg_out"
pg_ms=$(sed -n 's/^pg_pid_walk_ms_median=//p' <<<"$pg_out")
pg_hidden=$(sed -n 's/^pg_hidden_pids=//p' <<<"$pg_out")
pg_port_ms=$(sed -n 's/^pg_port_probe_v4_ms=//p' <<<"$pg_out")
pg_hidden_ports=$(sed -n 's/^pg_hidden_ports_v4=//p' <<<"$pg_out")

run_unhide() { # name, command...: sets ms and hidden (non-transitory "Found HIDDEN PID" lines)
  local name=$1
  shift
  local t0 t1 out rc
  t0=$(now)
  out=$("$@" 2>&1)
  rc=$?
  t1=$(now)
  ms=$(elapsed_ms "$t0" "$t1")
  # unhide marks PIDs it could not confirm as "maybe a transitory process": those are the busy
  # machine's short-lived processes, not hidden ones.
  hidden=$(awk '/Found HIDDEN PID/ {pid=$4; pending=1; next}
                pending && /transitory/ {pending=0; next}
                pending && /^$/ {print pid; pending=0}
                END {if (pending) print pid}' <<<"$out" | wc -l)
  transitory=$(grep -c "transitory" <<<"$out")
  echo "$name: ${ms} ms, exit $rc, hidden (confirmed) $hidden, transitory $transitory"
  if [ "$rc" -ne 0 ]; then
    echo "  (unhide exited with $rc: $(grep -m1 -iE 'error|invalid|abort' <<<"$out"))"
  fi
}

echo "== unhide proc"
run_unhide "unhide proc" unhide proc
proc_ms=$ms
proc_hidden=$hidden

echo "== unhide -d brute"
run_unhide "unhide -d brute" unhide -d brute
brute_ms=$ms
brute_hidden=$hidden

echo "== unhide-tcp"
t0=$(now)
tcp_out=$(unhide-tcp 2>&1)
t1=$(now)
tcp_ms=$(elapsed_ms "$t0" "$t1")
tcp_hidden=$(grep -ciE "^Found Hidden port" <<<"$tcp_out")
echo "unhide-tcp: ${tcp_ms} ms, hidden ports $tcp_hidden"

echo "== summary"
python3 - "$pg_ms" "$proc_ms" "$brute_ms" "$pg_port_ms" "$tcp_ms" <<'PY'
import sys
pg, proc, brute, pgport, tcp = map(float, sys.argv[1:])
print(f"hidden-process walk: phantomguard {pg:.0f} ms | unhide proc {proc:.0f} ms "
      f"(x{proc / pg:.1f}) | unhide -d brute {brute:.0f} ms (x{brute / pg:.1f})")
print(f"hidden-port probe:   phantomguard {pgport:.0f} ms | unhide-tcp {tcp:.0f} ms "
      f"(x{tcp / pgport:.1f})")
PY
agree=0
if [ "$pg_hidden" = 0 ] && [ "$proc_hidden" = 0 ] && [ "$brute_hidden" = 0 ]; then
  echo "agreement: all three report no hidden PID on this host"
else
  echo "DISAGREEMENT: phantomguard $pg_hidden, unhide proc $proc_hidden, unhide brute $brute_hidden"
  agree=1
fi
if [ "$pg_hidden_ports" = 0 ] && [ "$tcp_hidden" = 0 ]; then
  echo "agreement: phantomguard and unhide-tcp report no hidden port"
else
  echo "DISAGREEMENT on ports: phantomguard $pg_hidden_ports, unhide-tcp $tcp_hidden"
  agree=1
fi
exit $agree
