#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# readonly_root.sh BINARY WORK — run by test_cli_state inside `unshare --mount`: every mount of
# this namespace but /proc, /sys and /dev is made read-only, as on an appliance whose root file
# system is read-only; WORK/state, WORK/log, WORK/run and WORK/tmp (the folders under which
# WORK/pg.toml puts state_dir, log_dir, run_dir and temp_dir, made by the test) get a tmpfs each.
# Then:
#   1. `scan` and `run` (5 s, `status` against it, then SIGTERM) of WORK/pg.toml (the
#      low-resource profile);
#   2. `run` of WORK/small.toml, whose state_dir lives on a 4 MiB tmpfs (WORK/small): the test
#      fills that file system, empties it, then removes the state folder, while the daemon runs.
# Prints KEY=VALUE lines for the test to judge; exits 0 unless the namespace could not be set up
# (3), or the root stayed writable (4).
set -u
binary=$1
work=$2
mount --make-rprivate / || exit 3
while read -r _ target _; do
  case "$target" in
  /proc | /proc/* | /sys | /sys/* | /dev | /dev/pts | /dev/mqueue | /dev/hugepages) continue ;;
  esac
  mount -o remount,bind,ro "$target" 2>/dev/null || true
done < <(awk '{print $1, $2, $3}' /proc/self/mounts | sort -k2 -u)
for d in state log run tmp small; do
  mount -t tmpfs -o size=64m,mode=0755 tmpfs "$work/$d" || exit 3
done
mount -o remount,size=4m "$work/small" || exit 3
if touch /pg-readonly-probe 2>/dev/null || touch /tmp/pg-readonly-probe 2>/dev/null; then
  echo "root_writable=yes"
  exit 4
fi
echo "root_writable=no"

# 1. scan and run on the read-only root.
"$binary" scan --config "$work/pg.toml" --format jsonl >"$work/log/scan.out" 2>"$work/log/scan.err"
echo "scan_rc=$?"
"$binary" run --config "$work/pg.toml" >"$work/log/run.out" 2>"$work/log/run.err" &
pid=$!
sleep 5
# A sanitizer build starts slower: wait (bounded) for the socket before asking.
for _ in $(seq 1 50); do
  [ -S "$work/run/phantomguard/control.sock" ] && break
  sleep 0.5
done
"$binary" status --config "$work/pg.toml" >"$work/log/status.out" 2>"$work/log/status.err"
echo "status_rc=$?"
echo "socket_in_run_dir=$([ -S "$work/run/phantomguard/control.sock" ] && echo yes || echo no)"
echo "run_dir_mode=$(stat -c %a "$work/run/phantomguard" 2>/dev/null)"
echo "temp_dir_made=$([ -d "$work/tmp/pg" ] && echo yes || echo no)"
kill -TERM "$pid"
wait "$pid"
echo "run_rc=$?"
echo "erofs=$(cat "$work"/log/*.out "$work"/log/*.err | grep -c 'Read-only file system')"
echo "scan_findings=$(grep -c '"rule"' "$work/log/scan.out")"
echo "archive_findings=$(grep -c '"rule"' "$work/log/findings.jsonl" 2>/dev/null || echo 0)"
for f in "$work/log/scan.out" "$work/log/findings.jsonl"; do
  grep -o '"rule":"engine\.[a-z_]*"' "$f" 2>/dev/null | sed 's/.*"engine\./engine_rule=engine./; s/"$//'
done | sort -u
echo "state_files=$(cd "$work/state" && find . -type f | sort | tr '\n' ' ')"
grep -hE '^[0-9T:.-]+Z (warn|error|critical) ' "$work/log/run.err" "$work/log/scan.err" | head -5 | sed 's/^/log_error=/'

# 2. the state folder fills, empties, then vanishes under a running daemon.
"$binary" run --config "$work/small.toml" >"$work/log/small.out" 2>"$work/log/small.err" &
pid=$!
sleep 3
dd if=/dev/zero of="$work/small/fill" bs=64k 2>/dev/null # until the file system is full
sleep 8
rm -f "$work/small/fill"
sleep 8
rm -rf "$work/small/state"
sleep 8
if kill -0 "$pid" 2>/dev/null; then echo "small_alive=yes"; else echo "small_alive=no"; fi
kill -TERM "$pid"
wait "$pid"
echo "small_rc=$?"
grep -h '"rule":"engine.state_dir' "$work/log/small-findings.jsonl" | sed 's/^/small_finding=/'
echo "small_recreated=$([ -d "$work/small/state" ] && echo yes || echo no)"
exit 0
