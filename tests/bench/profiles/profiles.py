#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What each profile costs on this host: `phantomguard run` standing on low-resource, desktop and
server (and, as the baseline measured in the same run, the embedded default config), each in a
folder of its own (state, findings archive; the console sink off; the API, where the profile has
one, on a free loopback port). For each: RSS and its anonymous and file-backed parts, threads,
and CPU percent of one core, both over the start (first WARMUP seconds, the start-up scans) and
idle (the IDLE seconds after). Runs each RUNS times, prints the medians and the ratio of each
profile's idle RSS and CPU to the default config's. The goal the low-resource profile is held to
(docs/performance.md, "Profiles") is printed beside its figure.

Usage: tests/bench/profiles/profiles.py [--binary build/bin/phantomguard] [--runs 3]
       [--warmup 45] [--idle 30]
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

GOAL_LOW_RESOURCE_IDLE_MIB = 12.0


def config_for(profile, work):
    """A file standing on `profile` (None: the embedded default config, copied)."""
    state = os.path.join(work, "state")
    archive = os.path.join(work, "findings.jsonl")
    if profile is None:
        # The default config is compiled in; its text is config/default.toml.
        src = os.path.join(os.path.dirname(__file__), "..", "..", "..", "config", "default.toml")
        with open(src) as f:
            body = f.read()
        body = body.replace('state_dir = "/var/lib/phantomguard"', f'state_dir = "{state}"', 1)
        body = body.replace('path = "findings.jsonl"', f'path = "{archive}"', 1)
        body = body.replace("[sinks.console]\n", "[sinks.console]\nenabled = false\n", 1)
    else:
        body = (f'[engine]\nprofile = "{profile}"\nstate_dir = "{state}"\n'
                f'[sinks.archive]\npath = "{archive}"\n[sinks.console]\nenabled = false\n')
        if profile == "server":
            body += '[api]\nlisten = "127.0.0.1:0"\n'
    path = os.path.join(work, "pg.toml")
    with open(path, "w") as f:
        f.write(body)
    check = subprocess.run([ARGS.binary, "validate", "--config", path], capture_output=True,
                           text=True)
    if check.returncode != 0:
        sys.exit(f"profiles.py: {profile or 'default'}: {check.stderr}")
    return path


def one_run(profile):
    work = tempfile.mkdtemp(prefix="pg-bench-profile-")
    try:
        cfg = config_for(profile, work)
        log = open(os.path.join(work, "log"), "w")
        proc = subprocess.Popen([ARGS.binary, "run", "--config", cfg], stdout=log, stderr=log)
        t0 = time.monotonic()
        c0 = 0.0
        time.sleep(ARGS.warmup)
        if proc.poll() is not None:
            sys.exit(f"profiles.py: {profile or 'default'}: run exited with {proc.returncode}; "
                     f"its log is in {work}/log")
        c1 = cpu_seconds(proc.pid)
        t1 = time.monotonic()
        samples = []
        end = t1 + ARGS.idle
        while time.monotonic() < end:
            samples.append(status_of(proc.pid))
            time.sleep(1)
        c2 = cpu_seconds(proc.pid)
        t2 = time.monotonic()
        peak = status_of(proc.pid)["VmHWM"]
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        if rc != 0:
            sys.exit(f"profiles.py: {profile or 'default'}: exit code {rc} after SIGTERM")
        last = samples[-1]
        return {
            "rss": statistics.median(s["VmRSS"] for s in samples) / 1024,
            "anon": statistics.median(s["RssAnon"] for s in samples) / 1024,
            "file": statistics.median(s["RssFile"] for s in samples) / 1024,
            "threads": last["Threads"],
            "peak": peak / 1024,
            "cpu_start": 100 * (c1 - c0) / (t1 - t0),
            "cpu_idle": 100 * (c2 - c1) / (t2 - t1),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    names = [None, "low-resource", "desktop", "server"]
    results = {}
    for name in names:
        runs = [one_run(name) for _ in range(ARGS.runs)]
        results[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"profiles: {ARGS.runs} runs each, medians; start = first {ARGS.warmup:g} s, idle = the "
          f"{ARGS.idle:g} s after; load average at the end {load} on {os.cpu_count()} CPUs")
    print(f"{'config':<14} {'idle RSS':>9} {'anon':>7} {'file':>7} {'peak':>8} {'threads':>7} "
          f"{'CPU start':>9} {'CPU idle':>8} {'RSS/def':>7} {'CPU/def':>7}")
    base = results[None]
    for name in names:
        r = results[name]
        rss_ratio = r["rss"] / base["rss"]
        cpu_ratio = r["cpu_idle"] / base["cpu_idle"] if base["cpu_idle"] > 0 else float("nan")
        print(f"{name or 'default':<14} {r['rss']:7.1f}Mi {r['anon']:5.1f}Mi {r['file']:5.1f}Mi "
              f"{r['peak']:6.1f}Mi {r['threads']:7d} {r['cpu_start']:8.2f}% {r['cpu_idle']:7.2f}% "
              f"{rss_ratio:7.2f} {cpu_ratio:7.2f}")
    low = results["low-resource"]["rss"]
    verdict = "met" if low <= GOAL_LOW_RESOURCE_IDLE_MIB else "NOT met"
    print(f"goal: low-resource idle RSS <= {GOAL_LOW_RESOURCE_IDLE_MIB:g} MiB: {verdict} "
          f"({low:.1f} MiB; file-backed pages of the binary and its libraries "
          f"{results['low-resource']['file']:.1f} MiB of it)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="build/bin/phantomguard")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=45)
    parser.add_argument("--idle", type=float, default=30)
    ARGS = parser.parse_args()
    if not os.access(ARGS.binary, os.X_OK):
        sys.exit(f"profiles.py: {ARGS.binary} not found (make build first)")
    main()
