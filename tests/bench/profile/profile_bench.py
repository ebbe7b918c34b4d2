#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What `phantomguard profile` and `phantomguard bench` cost and measure, against baselines
measured in the same run.

1. Profiling overhead: `profile --scan` against a plain `scan` of the same components, wall time
   and CPU of the child (getrusage), interleaved runs, medians.
2. bench against the plain way: `bench fim` timing fim's first pass over a tree of random files
   (a fresh temporary state dir each time, so every file is hashed) against `sha256sum` over
   the same files, medians of the runs. bench's own figures (median, CPU, bytes read) are
   printed beside it.

profile_bench.py --binary build/bin/phantomguard [--runs 5] [--mib 64]
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit("%s exited %d: %s" % (" ".join(cmd), proc.returncode, proc.stderr[-500:]))
    return wall, cpu, proc.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/bin/phantomguard")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=64)
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="pg-profile-bench-")
    try:
        tree = os.path.join(work, "tree")
        os.makedirs(tree)
        files = []
        for i in range(args.mib):
            path = os.path.join(tree, "f%03d" % i)
            with open(path, "wb") as f:
                f.write(os.urandom(1 << 20))
            files.append(path)
        cfg = os.path.join(work, "pg.toml")
        with open(cfg, "w") as f:
            f.write('[engine]\nstate_dir = "%s/state"\n'
                    '[sources.procfs]\ntype = "procfs"\n'
                    '[analyzers.process]\ntype = "process"\ninputs = ["procfs"]\n'
                    '[analyzers.network]\ntype = "network"\n'
                    '[analyzers.fim]\ntype = "fim"\n[analyzers.fim.rules.tree]\npath = "%s"\n'
                    '[sinks.archive]\ntype = "jsonl"\ninputs = ["process", "network", "fim"]\n'
                    'path = "%s/out.jsonl"\n' % (work, tree, work))
        only = "procfs,process,network"
        report = os.path.join(work, "report.json")
        scan_wall, scan_cpu, prof_wall, prof_cpu = [], [], [], []
        for _ in range(args.runs):
            w, c, _ = timed([binary, "scan", "--config", cfg, "--only", only, "-q",
                             "--format", "json", "--fail-on", "critical"])
            scan_wall.append(w)
            scan_cpu.append(c)
            w, c, _ = timed([binary, "profile", "--config", cfg, "--scan", "--only", only,
                             "--output", report])
            prof_wall.append(w)
            prof_cpu.append(c)
        m = statistics.median
        print("1. profiling overhead, --only %s, %d runs each, interleaved (medians)" % (only, args.runs))
        print("   scan          wall %7.1f ms   cpu %7.1f ms" % (m(scan_wall) * 1e3, m(scan_cpu) * 1e3))
        print("   profile --scan wall %7.1f ms   cpu %7.1f ms" % (m(prof_wall) * 1e3, m(prof_cpu) * 1e3))
        print("   ratio profile/scan: wall %.2f, cpu %.2f" % (m(prof_wall) / m(scan_wall), m(prof_cpu) / m(scan_cpu)))

        sha, bench_median, bench_cpu, bench_read = [], [], [], []
        for _ in range(args.runs):
            w, _, _ = timed(["sha256sum"] + files)
            sha.append(w)
            _, _, out = timed([binary, "bench", "fim", "--config", cfg, "--iterations", "1",
                               "--warmup", "0", "--json"])
            j = json.loads(out)
            bench_median.append(j["time_ms"]["median"] / 1e3)
            bench_cpu.append(j["cpu"]["percent"])
            bench_read.append(j["io_per_iteration"]["read_bytes"])
        print("2. fim's first pass over %d MiB (%d files), bench vs sha256sum, %d runs (medians)"
              % (args.mib, len(files), args.runs))
        print("   sha256sum     %7.1f ms" % (m(sha) * 1e3))
        print("   bench fim     %7.1f ms   cpu %.0f%% of a core   read %.1f MiB"
              % (m(bench_median) * 1e3, m(bench_cpu), m(bench_read) / (1 << 20)))
        print("   ratio bench fim / sha256sum: %.2f" % (m(bench_median) / m(sha)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
