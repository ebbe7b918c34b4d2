#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What leaving families out saves (docs/build.md, "What each build weighs"): builds the variants
below, each in a tree of its own beside build/ (<repo>/build-fam-VARIANT, the flags of `make
build`, so ccache serves what build/ compiled), without tests, and for each prints the stripped
binary's size, the shared libraries it loads, and what `phantomguard run` on the low-resource
profile holds after IDLE seconds: RSS (anonymous and file-backed), threads, CPU percent of one
core over the last half of the wait; and how long one `scan` of the same config takes. Each
variant's config is the low-resource profile with the components of its left-out families
disabled, and it must validate. The full build, measured in the same run, is the baseline.

Usage: tests/bench/footprint/families.py [--variants full,appliance,minimal] [--runs 1]
       [--idle 60] [--keep]
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from proc_figures import cpu_seconds, status_of  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

# Variant -> (families left out, components of the low-resource profile those families run).
VARIANTS = {
    "full": ([], []),
    "appliance": (["yara", "vuln", "container"], []),  # their components are off in the profile
    "minimal": (["network", "rootkit", "fim", "yara", "vuln", "container"],
                ["network", "rootkit", "kernel_loads", "fim", "packages"]),
}
GOAL_IDLE_RSS_MIB = 12.0


def build(variant):
    left_out, _ = VARIANTS[variant]
    tree = os.path.join(REPO, f"build-fam-{variant}")
    flags = ["-DPG_BUILD_TESTS=OFF", "-DPG_BUILD_BENCH=OFF", "-DPG_WERROR=ON"]
    for family in VARIANTS["minimal"][0] + ["process", "realtime"]:
        flags.append(f"-DPG_FAMILY_{family.upper()}={'OFF' if family in left_out else 'ON'}")
    env = dict(os.environ, CCACHE_BASEDIR=REPO, CCACHE_NOHASHDIR="1")
    subprocess.run(["cmake", "-S", REPO, "-B", tree, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG"] + flags,
                   check=True, env=env, stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    subprocess.run(["cmake", "--build", tree, "--target", "phantomguard"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(tree, "bin", "phantomguard")
    stripped = os.path.join(tree, "phantomguard.stripped")
    subprocess.run(["strip", "--strip-all", "-o", stripped, binary], check=True)
    libs = [l for l in subprocess.run(["ldd", binary], capture_output=True, text=True,
                                      check=True).stdout.splitlines() if "=>" in l]
    return tree, binary, os.path.getsize(stripped), len(libs), time.monotonic() - t0


def config(variant, work):
    _, disabled = VARIANTS[variant]
    body = (f'[engine]\nprofile = "low-resource"\nstate_dir = "{work}/state"\n'
            f'temp_dir = "{work}/tmp"\n'
            f'[sinks.archive]\npath = "{work}/findings.jsonl"\n[sinks.console]\nenabled = false\n')
    for name in disabled:
        body += f"[analyzers.{name}]\nenabled = false\n"
    path = os.path.join(work, "pg.toml")
    with open(path, "w") as f:
        f.write(body)
    return path


def measure(variant, binary):
    work = tempfile.mkdtemp(prefix=f"pg-bench-fam-{variant}-")
    try:
        cfg = config(variant, work)
        check = subprocess.run([binary, "validate", "--config", cfg], capture_output=True,
                               text=True)
        if check.returncode != 0:
            sys.exit(f"families.py: {variant}: the config does not validate:\n{check.stderr}")
        t0 = time.monotonic()
        scan = subprocess.run([binary, "scan", "--config", cfg, "--format", "jsonl"],
                              capture_output=True, text=True)
        scan_s = time.monotonic() - t0
        if scan.returncode > 1:
            sys.exit(f"families.py: {variant}: scan exited {scan.returncode}:\n{scan.stderr}")
        log = open(os.path.join(work, "log"), "w")
        proc = subprocess.Popen([binary, "run", "--config", cfg], stdout=log, stderr=log)
        time.sleep(ARGS.idle / 2)
        if proc.poll() is not None:
            sys.exit(f"families.py: {variant}: run exited {proc.returncode}; log in {work}/log")
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(ARGS.idle / 2)
        c2, t2 = cpu_seconds(proc.pid), time.monotonic()
        st = status_of(proc.pid)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        if rc != 0:
            sys.exit(f"families.py: {variant}: exit code {rc} after SIGTERM")
        return {"rss": st["VmRSS"] / 1024, "anon": st["RssAnon"] / 1024,
                "file": st["RssFile"] / 1024, "threads": st["Threads"],
                "cpu": 100 * (c2 - c1) / (t2 - t1), "scan": scan_s}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    rows = {}
    for variant in ARGS.variants.split(","):
        if variant not in VARIANTS:
            sys.exit(f"families.py: unknown variant '{variant}' (known: {', '.join(VARIANTS)})")
        tree, binary, size, libs, build_s = build(variant)
        runs = [measure(variant, binary) for _ in range(ARGS.runs)]
        rows[variant] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows[variant].update(size=size / (1 << 20), libs=libs, build=build_s)
        if not ARGS.keep:
            shutil.rmtree(tree, ignore_errors=True)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"families: {ARGS.runs} run(s) each, medians; RSS after {ARGS.idle:g} s of run on the "
          f"low-resource profile, CPU over the last {ARGS.idle / 2:g} s; load average at the end "
          f"{load} on {os.cpu_count()} CPUs")
    base = rows.get("full")
    print(f"{'variant':<10} {'left out':<40} {'stripped':>9} {'libs':>4} {'idle RSS':>9} "
          f"{'anon':>6} {'file':>6} {'threads':>7} {'CPU idle':>8} {'scan':>7} {'RSS/full':>8}")
    for variant, r in rows.items():
        left = ", ".join(VARIANTS[variant][0]) or "-"
        ratio = f"{r['rss'] / base['rss']:8.2f}" if base else "       -"
        print(f"{variant:<10} {left:<40} {r['size']:7.2f}Mi {r['libs']:4d} {r['rss']:7.1f}Mi "
              f"{r['anon']:4.1f}Mi {r['file']:4.1f}Mi {r['threads']:7d} {r['cpu']:7.2f}% "
              f"{r['scan']:6.2f}s {ratio}")
    best = min(r["rss"] for r in rows.values())
    print(f"goal: idle RSS <= {GOAL_IDLE_RSS_MIB:g} MiB: "
          f"{'met' if best <= GOAL_IDLE_RSS_MIB else 'NOT met'} by the smallest variant "
          f"({best:.1f} MiB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="full,appliance,minimal")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--idle", type=float, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the build trees")
    ARGS = parser.parse_args()
    main()
