#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# FIM vs AIDE (Debian `aide`), both with SHA-256 and the same attributes.
#   1. Same findings: a copy of a subtree, the same changes, the same set of added, removed and
#      changed paths from both.
#   2. Speed on TREE (default /usr): full scan (init: everything hashed) and incremental check
#      (nothing changed; AIDE re-reads every file, we re-hash only what changed), page cache warm.
# Usage: fim_vs_aide.sh [BUILD_DIR] [TREE] [SUBTREE]   env: WORKERS (default 1 for both)
set -euo pipefail
build=${1:-${PG_BUILD_DIR:-/work/main/build-fim}}
tree=${2:-/usr}
subtree=${3:-/usr/share/perl}
workers=${WORKERS:-1}
fim="$build/bin/pg_fim_cli"
if ! command -v aide >/dev/null; then echo "aide not installed (scripts/install-deps)"; exit 1; fi
if [ ! -x "$fim" ]; then echo "build pg_fim_cli first: cmake --build $build --target pg_fim_cli"; exit 1; fi
work=$(mktemp -d /tmp/pg-bench-fim.XXXXXX)
trap 'rm -rf "$work"' EXIT

# AIDE rule = our NORMAL group: for files ftype p i n u g s m c xattrs caps sha256; directories
# without s m c (we report entries added/removed instead of the directory's times changing).
aide_conf() { # root db
  cat <<CONF
database_in=file:$2
database_out=file:$2.new
database_attrs=sha256
gzip_dbout=no
report_url=stdout
num_workers=$workers
FILER = ftype+p+i+n+u+g+s+m+c+xattrs+caps+sha256
DIRR = ftype+p+i+n+u+g+xattrs+caps
$1 f,l,c,b,p,s FILER
$1 d DIRR
CONF
}
fim_conf() { # root
  echo "rules = [{ path = \"$1\", attributes = \"NORMAL\" }]"
}
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / max($2, 0.001):.1f}')"; }

# aide --check output: "<flags>: PATH" lines under the Added/Removed/Changed headings.
aide_paths() { # report kind
  awk -v want="$2" '
    /^Added entries:/ {s="added"; next} /^Removed entries:/ {s="removed"; next}
    /^Changed entries:/ {s="changed"; next} /^Detailed information/ {s=""}
    /^-+$/ {next}
    s==want && /: \// { sub(/^[^:]*: /, ""); print }' "$1" | sort
}
fim_paths() { # jsonl kind
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    f = json.loads(line)
    if f["rule"] == "fim." + sys.argv[2]: print(f["entity"]["path"])' "$1" "$2" | sort
}

echo "== 1. same changes, same findings (copy of $subtree)"
cp -a "$subtree" "$work/tree"
root="$work/tree"
aide_conf "$root" "$work/aide-eq.db" > "$work/aide-eq.conf"
fim_conf "$root" > "$work/fim-eq.toml"
aide --config="$work/aide-eq.conf" --init >/dev/null
mv "$work/aide-eq.db.new" "$work/aide-eq.db"
"$fim" init --config "$work/fim-eq.toml" --db "$work/fim-eq.db" 2>/dev/null
sleep 1.1 # AIDE keeps whole seconds: changes must land in a later second
mapfile -t files < <(find "$root" -type f | sort)
mapfile -t dirs < <(find "$root" -mindepth 2 -type d | sort)
echo "appended" >> "${files[3]}"                        # content + size + mtime
printf 'X' | dd of="${files[10]}" bs=1 seek=0 conv=notrunc status=none # same size, new content
chmod 0600 "${files[20]}"                               # perms (ctime)
chmod u+s "${files[21]}"                                # setuid
chown nobody "${files[30]}"                             # owner
touch -m -d '2001-01-01' "${files[40]}"                 # mtime only (ctime moves too)
rm -f "${files[50]}" "${files[51]}"                     # removed files
rm -rf "${dirs[2]}"                                     # removed directory tree
echo new > "$root/new-file"; mkdir -p "$root/new-dir/sub"; echo x > "$root/new-dir/sub/f"
ln -s /etc/passwd "$root/new-link"                      # added symlink
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.pg", b"1")' "${files[60]}" \
  2>/dev/null || true                                   # xattr (when the fs has them)
aide --config="$work/aide-eq.conf" --check > "$work/aide-eq.out" || true
"$fim" check --config "$work/fim-eq.toml" --db "$work/fim-eq.db" --format jsonl \
  > "$work/fim-eq.jsonl" || true
ok=1
for kind in added removed changed; do
  aide_paths "$work/aide-eq.out" $kind > "$work/aide.$kind"
  fim_paths "$work/fim-eq.jsonl" $kind > "$work/fim.$kind"
  if cmp -s "$work/aide.$kind" "$work/fim.$kind"; then
    echo "  $kind: $(wc -l < "$work/fim.$kind") paths, identical"
  else
    ok=0; echo "  $kind: DIFFERENT (aide $(wc -l < "$work/aide.$kind"), fim $(wc -l < "$work/fim.$kind"))"
    diff "$work/aide.$kind" "$work/fim.$kind" | head -20 | sed 's/^/    /'
  fi
done
[ $ok = 1 ] && echo "  same set of changed paths: yes" || echo "  same set of changed paths: NO"

echo "== 2. speed on $tree ($(find "$tree" -xdev | wc -l) entries, $(du -sh "$tree" 2>/dev/null | cut -f1)), workers=$workers"
aide_conf "$tree" "$work/aide.db" > "$work/aide.conf"
fim_conf "$tree" > "$work/fim.toml"
# Warm the page cache once, so both read from memory and the disk does not pick the winner.
"$fim" init --config "$work/fim.toml" --db "$work/warm.db" --workers "$workers" 2>/dev/null

t0=$(now); aide --config="$work/aide.conf" --init >/dev/null; t1=$(now)
aide_full=$(secs "$t0" "$t1"); mv "$work/aide.db.new" "$work/aide.db"
t0=$(now); "$fim" init --config "$work/fim.toml" --db "$work/fim.db" --workers "$workers" 2>"$work/fim-init.err"; t1=$(now)
fim_full=$(secs "$t0" "$t1")
t0=$(now); aide --config="$work/aide.conf" --check >/dev/null || true; t1=$(now)
aide_incr=$(secs "$t0" "$t1")
t0=$(now); "$fim" check --stats --config "$work/fim.toml" --db "$work/fim.db" --workers "$workers" --format jsonl >/dev/null 2>"$work/fim-check.err" || true; t1=$(now)
fim_incr=$(secs "$t0" "$t1")
echo "  full scan (init)        aide ${aide_full}s   fim ${fim_full}s   ratio $(ratio "$aide_full" "$fim_full")x"
echo "  incremental (check)     aide ${aide_incr}s   fim ${fim_incr}s   ratio $(ratio "$aide_incr" "$fim_incr")x"
echo "  fim init:  $(tail -1 "$work/fim-init.err")"
echo "  fim check: $(tail -1 "$work/fim-check.err")"
