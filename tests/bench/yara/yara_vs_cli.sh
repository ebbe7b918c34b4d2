#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# phantomguard yara vs the `yara` command (Debian `yara`), same rules, same files:
# capabilities_index.yar of the shared corpus over TARGET (default /usr/bin).
#   - the same (rule, path) matches from both;
#   - time: yara; ours cold (empty cache: compile, scan, store); ours cached (compiled rules
#     loaded, unchanged files answered from the result cache). Page cache warm for all.
# Usage: yara_vs_cli.sh [BUILD_DIR] [TARGET]   env: WORKERS (default 2, both tools), RULES (a
# rule file instead, e.g. rules/yara/phantomguard.yar, the built-in pack)
set -euo pipefail
build=${1:-${PG_BUILD_DIR:-/work/main/build-fim}}
target=${2:-/usr/bin}
workers=${WORKERS:-2}
here=$(cd "$(dirname "$0")" && pwd)
rules=${RULES:-"$here/../../../../shared/corpus/yara-rules/capabilities_index.yar"}
ours="$build/bin/pg_yara_cli"
if ! command -v yara >/dev/null; then echo "yara not installed (scripts/install-deps)"; exit 1; fi
if [ ! -x "$ours" ]; then echo "build pg_yara_cli first: cmake --build $build --target pg_yara_cli"; exit 1; fi
if [ ! -f "$rules" ]; then echo "rule corpus missing: $rules"; exit 1; fi
work=$(mktemp -d /tmp/pg-bench-yara.XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / max($2, 0.001):.1f}')"; }

echo "== $target ($(find "$target" -type f | wc -l) files, $(du -sh "$target" | cut -f1)), rules $(basename "$rules"), workers=$workers"
yara -w -r -p "$workers" "$rules" "$target" > /dev/null 2>&1 || true # warm the page cache

t0=$(now); yara -w -r -p "$workers" "$rules" "$target" > "$work/yara.out" 2>/dev/null || true; t1=$(now)
t_yara=$(secs "$t0" "$t1")
# `yara -r` follows symlinks, so ours does too here.
run_ours() {
  "$ours" --rules "$rules" --cache-dir "$work/cache" --follow-symlinks --max-size 0 \
    --workers "$workers" --stats --format jsonl "$target" > "$1" 2> "$2" || true
}
t0=$(now); run_ours "$work/cold.jsonl" "$work/cold.err"; t1=$(now)
t_cold=$(secs "$t0" "$t1")
t0=$(now); run_ours "$work/cached.jsonl" "$work/cached.err"; t1=$(now)
t_cached=$(secs "$t0" "$t1")

sort "$work/yara.out" > "$work/yara.set"
to_set() {
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    f = json.loads(line)
    print(f["evidence"]["rule"], f["entity"]["path"])' "$1" | sort
}
to_set "$work/cold.jsonl" > "$work/cold.set"
to_set "$work/cached.jsonl" > "$work/cached.set"
same() { cmp -s "$work/yara.set" "$1" && echo "identical" || echo "DIFFERENT"; }
echo "  matches: yara $(wc -l < "$work/yara.set"), ours cold $(wc -l < "$work/cold.set") ($(same "$work/cold.set")), ours cached $(wc -l < "$work/cached.set") ($(same "$work/cached.set"))"
if ! cmp -s "$work/yara.set" "$work/cold.set"; then diff "$work/yara.set" "$work/cold.set" | head -10 | sed 's/^/    /'; fi
echo "  yara command            ${t_yara}s"
echo "  phantomguard cold       ${t_cold}s   ratio vs yara $(ratio "$t_yara" "$t_cold")x"
echo "  phantomguard cached     ${t_cached}s   ratio vs yara $(ratio "$t_yara" "$t_cached")x"
echo "  cold:   $(grep 'phantomguard yara: rules' "$work/cold.err")"
echo "  cached: $(grep 'phantomguard yara: rules' "$work/cached.err")"
