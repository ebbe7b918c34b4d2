#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Soak: the daemon under a mixed load for a long time, sampled.

Runs `phantomguard run` with the server profile (config/profiles/server.toml: the API on a random
loopback port, every default analyzer, the jsonl archive), plus a FIM analyzer over a churned
folder and two plugin detectors (the cryptominer isolated in its child host, the reverse-shell
detector in-process), while this script drives

  - an exec loop (short-lived /bin/true, and every few seconds a copy of sleep run from a
    temporary folder, which the analyzers report),
  - file churn in the watched folder (create, rewrite, rename, delete),
  - socket churn on loopback (listen, connect, accept, close),
  - a Prometheus-like scrape of /metrics every sample.

Every --interval seconds it samples the daemon's RSS, open fds, threads and CPU (and those of its
child processes). At the end it stops the load, lets the queues drain, and checks:

  - conservation on every edge: produced = delivered + dropped + queued, and no event lost
    outside the edges (phantomguard_component_events_lost_total);
  - the findings archive holds what the sink says it delivered;
  - fds and threads flat after warm-up, the RSS slope after warm-up (least squares) under
    --max-slope MiB/hour;
  - SIGTERM stops it with exit code 0.

Prints the figures, writes the samples as CSV and the plot as SVG when asked. Exit 0 when every
check holds, 1 when one fails, 77 (skipped) when not root (the daemon reads every process).

  tests/bench/soak/soak.py --binary build/bin/phantomguard --duration 3600 \\
      --csv soak.csv --svg docs/performance/soak.svg
"""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")
RING = 200  # [api] recent_findings during the soak (the default, 10000, is ~30 MiB once full)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(work, binary_dir, port):
    text = open(os.path.join(ROOT, "config", "profiles", "server.toml")).read()
    subs = [
        ('state_dir = "/var/lib/phantomguard"', f'state_dir = "{work}/state"'),
        # The ring of recent findings (/api/v1/findings) is bounded memory that fills as findings
        # come: kept small so it is full within the warm-up and the slope measures the rest.
        ('listen = "127.0.0.1:9464"', f'listen = "127.0.0.1:{port}"\nrecent_findings = {RING}'),
        ('log_dir = "/var/log/phantomguard"', f'log_dir = "{work}"'),
        ('"/var/lib/phantomguard/osv/debian.zip"', f'"{work}/osv/debian.zip"'),
        # No download during the soak: the archive is refreshed before the nightly scan only.
        ('update_url = "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip"\n', ""),
    ]
    for old, new in subs:
        if old not in text:
            raise SystemExit(f"soak: the server profile no longer contains {old!r}")
        text = text.replace(old, new)
    # The console sink writes to the daemon's stdout, which goes to a file here.
    plugins = os.path.join(binary_dir, "plugins")
    text += f"""
# --- added by tests/bench/soak/soak.py ---
[analyzers.fim_churn]
type = "fim"
interval = "20s"

[analyzers.fim_churn.rules.churn]
path = "{work}/churn"

[detectors.miner]
type = "plugin"
plugin = "{plugins}/cryptominer.so"
isolation = "process"
inputs = ["procfs"]

[detectors.reverse_shell]
type = "plugin"
plugin = "{plugins}/reverse_shell.so"
inputs = ["procfs"]

[sinks.soak_archive]
type = "jsonl"
inputs = ["fim_churn", "miner", "reverse_shell"]
path = "{work}/plugin-findings.jsonl"
"""
    path = os.path.join(work, "soak.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


# --- load ------------------------------------------------------------------------------------

class Load:
    def __init__(self, work, exec_rate, file_rate, socket_rate):
        self.work = work
        self.stop = threading.Event()
        self.counts = {"execs": 0, "temp_execs": 0, "file_ops": 0, "connections": 0}
        self.errors = []
        self.threads = [
            threading.Thread(target=self._execs, args=(exec_rate,), daemon=True),
            threading.Thread(target=self._files, args=(file_rate,), daemon=True),
            threading.Thread(target=self._sockets, args=(socket_rate,), daemon=True),
        ]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def _paced(self, rate, step):
        period = 1.0 / rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                step()
            except Exception as e:  # a load step that fails is reported, the soak goes on
                if len(self.errors) < 20:
                    self.errors.append(f"{type(e).__name__}: {e}")
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            else:
                next_at = time.monotonic()

    def _execs(self, rate):
        temp = tempfile.mkdtemp(prefix="pg-soak-exec-", dir="/tmp")
        sleeper = os.path.join(temp, "sleep")
        shutil.copy2("/bin/sleep", sleeper)
        n = [0]

        def step():
            n[0] += 1
            if n[0] % (rate * 5) == 0:  # every ~5 s: a binary from /tmp, reported by the analyzers
                subprocess.run([sleeper, "0.2"], check=True)
                self.counts["temp_execs"] += 1
            else:
                subprocess.run(["/bin/true"], check=True)
            self.counts["execs"] += 1
        try:
            self._paced(rate, step)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def _files(self, rate):
        churn = os.path.join(self.work, "churn")
        n = [0]

        def step():
            i = n[0] % 64
            n[0] += 1
            p = os.path.join(churn, f"f{i}.conf")
            op = (n[0] // 64) % 4
            if op == 0:
                with open(p, "w") as f:
                    f.write(f"generation {n[0]}\n" * 8)
            elif op == 1:
                with open(p, "a") as f:
                    f.write("more\n")
            elif op == 2 and os.path.exists(p):
                os.rename(p, p + ".old")
            elif os.path.exists(p + ".old"):
                os.unlink(p + ".old")
            self.counts["file_ops"] += 1
        self._paced(rate, step)

    def _sockets(self, rate):
        def step():
            with socket.socket() as srv:
                srv.bind(("127.0.0.1", 0))
                srv.listen(1)
                with socket.create_connection(srv.getsockname(), timeout=5) as c:
                    conn, _ = srv.accept()
                    c.sendall(b"x")
                    conn.recv(1)
                    conn.close()
            self.counts["connections"] += 1
        self._paced(rate, step)


# --- sampling --------------------------------------------------------------------------------

def children_of(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def proc_figures(pid):
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read().rsplit(")", 1)[1].split()
    return {
        "rss_kib": int(status["VmRSS"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "cpu_s": (int(stat[11]) + int(stat[12])) / CLK_TCK,
    }


def sample(pid, t0):
    s = proc_figures(pid)
    s["t"] = time.monotonic() - t0
    s["child_rss_kib"] = 0
    s["children"] = 0
    for c in children_of(pid):
        try:
            s["child_rss_kib"] += proc_figures(c)["rss_kib"]
            s["children"] += 1
        except OSError:
            pass  # a child that exited between the listing and the read
    return s


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


METRIC = re.compile(r'^([a-z_:]+)(?:\{([^}]*)\})? ([^ ]+)')


def parse_metrics(text):
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = METRIC.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def heap_figures(metrics):
    """Where the resident set goes, from the daemon's own gauges: the malloc heap held and free,
    its arenas, and the memory the components account for (their threads' heap and what they
    declare)."""
    out = {"heap_in_use_kib": 0, "heap_free_kib": 0, "arenas": 0, "accounted_kib": 0}
    for name, labels, value in metrics:
        if name == "phantomguard_process_heap_bytes":
            out[f"heap_{labels.get('state')}_kib"] = int(value / 1024)
        elif name == "phantomguard_process_heap_arenas":
            out["arenas"] = int(value)
        elif name == "phantomguard_component_memory_bytes":
            out["accounted_kib"] += int(value / 1024)
        elif name == "phantomguard_process_heap_released_bytes_total":
            out["released_kib"] = int(value / 1024)
    return out


def conservation(metrics):
    """Per edge: produced - delivered - dropped - queued (0 when conserved)."""
    edges = {}
    for name, labels, value in metrics:
        if "producer" not in labels:
            continue
        e = edges.setdefault((labels["producer"], labels["consumer"]),
                             {"produced": 0, "delivered": 0, "dropped": 0, "queued": 0})
        if name == "phantomguard_edge_produced_total":
            e["produced"] += value
        elif name == "phantomguard_edge_delivered_total":
            e["delivered"] += value
        elif name == "phantomguard_edge_dropped_total":
            e["dropped"] += value
        elif name == "phantomguard_edge_queued_events":
            e["queued"] += value
    return {k: v["produced"] - v["delivered"] - v["dropped"] - v["queued"] for k, v in edges.items()}, edges


def slope_per_hour(points):
    """Least-squares slope of (seconds, MiB) in MiB per hour."""
    if len(points) < 3:
        return 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 3600


# --- plot ------------------------------------------------------------------------------------

def svg_plot(samples, warmup, title):
    w, h, left, right, top, bottom = 760, 420, 64, 64, 40, 48
    pw, ph = w - left - right, h - top - bottom
    t_max = max(s["t"] for s in samples) or 1
    rss = [s["rss_kib"] / 1024 for s in samples]
    lo, hi = min(rss), max(rss)
    pad = max(1.0, (hi - lo) * 0.2)
    lo, hi = max(0, lo - pad), hi + pad
    counts = [s["fds"] for s in samples] + [s["threads"] for s in samples]
    c_hi = max(counts) * 1.25 or 1

    def x(t):
        return left + pw * t / t_max

    def y(v):
        return top + ph * (1 - (v - lo) / (hi - lo))

    def yc(v):
        return top + ph * (1 - v / c_hi)

    def line(points, color, width=1.6):
        pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        return f'<polyline fill="none" stroke="{color}" stroke-width="{width}" points="{pts}"/>'

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    if warmup < t_max:
        parts.append(f'<rect x="{left}" y="{top}" width="{x(warmup) - left:.1f}" height="{ph}" '
                     f'fill="#eee"/><text x="{left + 4}" y="{top + 14}" fill="#777">warm-up</text>')
    for i in range(6):
        v = lo + (hi - lo) * i / 5
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                     f'fill="#1f77b4">{v:.1f}</text>')
        c = c_hi * i / 5
        parts.append(f'<text x="{w - right + 6}" y="{yc(c) + 4:.1f}" fill="#555">{c:.0f}</text>')
        t = t_max * i / 5
        parts.append(f'<text x="{x(t):.1f}" y="{h - bottom + 18}" text-anchor="middle">'
                     f'{t / 60:.0f}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">minutes</text>')
    parts.append(f'<text x="14" y="{top + ph / 2}" fill="#1f77b4" transform="rotate(-90 14 '
                 f'{top + ph / 2})" text-anchor="middle">daemon RSS (MiB)</text>')
    parts.append(f'<text x="{w - 14}" y="{top + ph / 2}" fill="#555" transform="rotate(90 '
                 f'{w - 14} {top + ph / 2})" text-anchor="middle">open fds, threads</text>')
    parts.append(line([(x(s["t"]), y(s["rss_kib"] / 1024)) for s in samples], "#1f77b4", 2))
    parts.append(line([(x(s["t"]), yc(s["fds"])) for s in samples], "#d62728"))
    parts.append(line([(x(s["t"]), yc(s["threads"])) for s in samples], "#2ca02c"))
    legend = [("#1f77b4", "RSS"), ("#d62728", "open fds"), ("#2ca02c", "threads")]
    for i, (color, name) in enumerate(legend):
        lx = left + 10 + i * 110
        parts.append(f'<line x1="{lx}" y1="{h - bottom - 12}" x2="{lx + 20}" '
                     f'y2="{h - bottom - 12}" stroke="{color}" stroke-width="2"/>'
                     f'<text x="{lx + 24}" y="{h - bottom - 8}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --- main ------------------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=os.path.join(ROOT, "build", "bin", "phantomguard"))
    p.add_argument("--duration", type=float, default=300, help="seconds under load")
    p.add_argument("--interval", type=float, default=5, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds left out of the slope and flatness checks (default: a fifth)")
    p.add_argument("--exec-rate", type=int, default=20, help="execs per second")
    p.add_argument("--file-rate", type=int, default=10, help="file operations per second")
    p.add_argument("--socket-rate", type=int, default=20, help="loopback connections per second")
    p.add_argument("--max-slope", type=float, default=1.0, help="RSS MiB/hour allowed after warm-up")
    p.add_argument("--fd-tolerance", type=int, default=8,
                   help="open fds may vary this much after warm-up (API connections, spool files)")
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder (config, daemon output, findings) and print its path")
    p.add_argument("--csv")
    p.add_argument("--svg")
    args = p.parse_args()
    # Stopped from outside (CTest's timeout, kill): the daemon and the load are still cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        print("SKIPPED: the soak runs the server profile, which reads every process: run as root")
        return 77
    warmup = args.warmup if args.warmup is not None else args.duration / 5
    binary = os.path.realpath(args.binary)
    binary_dir = os.path.dirname(os.path.dirname(binary))
    work = tempfile.mkdtemp(prefix="pg-soak-")
    os.makedirs(os.path.join(work, "churn"))
    os.makedirs(os.path.join(work, "osv"))
    port = free_port()
    config = write_config(work, binary_dir, port)
    v = subprocess.run([binary, "validate", "--config", config], capture_output=True, text=True)
    if v.returncode != 0:
        print(f"soak: the config does not validate:\n{v.stdout}{v.stderr}")
        return 1
    out = open(os.path.join(work, "daemon.out"), "w")
    daemon = subprocess.Popen([binary, "run", "--config", config], stdout=out,
                              stderr=subprocess.STDOUT)
    load = Load(work, args.exec_rate, args.file_rate, args.socket_rate)
    samples, failures = [], []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                scrape(port)
                break
            except OSError:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("soak: the daemon did not serve /metrics:\n" +
                                     open(os.path.join(work, "daemon.out")).read()[-3000:])
                time.sleep(0.2)
        t0 = time.monotonic()
        load.start()
        while time.monotonic() - t0 < args.duration:
            if daemon.poll() is not None:
                failures.append(f"the daemon exited with {daemon.returncode} during the soak")
                break
            s = sample(daemon.pid, t0)
            try:
                s.update(heap_figures(parse_metrics(scrape(port))))
                s["scrape"] = "ok"
            except OSError as e:
                s["scrape"] = str(e)
                failures.append(f"a /metrics scrape failed at {s['t']:.0f} s: {e}")
            samples.append(s)
            time.sleep(max(0.0, args.interval - (time.monotonic() - t0 - s["t"])))
        load.finish()
        # Let the queues drain, then read the counters until two scrapes agree.
        metrics, previous = None, None
        for _ in range(30):
            time.sleep(2)
            text = scrape(port)
            current = [l for l in text.splitlines()
                       if l.startswith(("phantomguard_edge_", "phantomguard_sink_delivered",
                                        "phantomguard_component_events_lost"))]
            if current == previous:
                metrics = parse_metrics(text)
                break
            previous = current
        if metrics is None:
            metrics = parse_metrics(text)
            print("note: the edge counters still moved after 60 s without load; conservation "
                  "read on the last scrape")
        final = sample(daemon.pid, t0)
        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            rc = "killed after 60 s"
        if rc != 0:
            failures.append(f"SIGTERM: exit code {rc} (expected 0)")
    finally:
        load.finish()
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        out.close()

    # --- figures ---
    steady = [s for s in samples if s["t"] >= warmup]
    if len(steady) < 3:
        failures.append(f"only {len(steady)} samples after warm-up: run longer")
        steady = samples
    rss_slope = slope_per_hour([(s["t"], s["rss_kib"] / 1024) for s in steady])
    child_slope = slope_per_hour([(s["t"], s["child_rss_kib"] / 1024) for s in steady])
    heap = [s for s in steady if "heap_in_use_kib" in s]
    slopes = {k: slope_per_hour([(s["t"], s[k] / 1024) for s in heap]) if len(heap) > 2 else 0.0
              for k in ("heap_in_use_kib", "heap_free_kib", "accounted_kib")}
    fds = [s["fds"] for s in steady]
    threads = [s["threads"] for s in steady]
    cpu = (samples[-1]["cpu_s"] - samples[0]["cpu_s"]) / max(1e-9, samples[-1]["t"] - samples[0]["t"])
    print(f"soak: {args.duration:.0f} s under load ({args.exec_rate} execs/s, {args.file_rate} file "
          f"ops/s, {args.socket_rate} connections/s), {len(samples)} samples every "
          f"{args.interval:.0f} s, warm-up {warmup:.0f} s")
    print("load done: " + ", ".join(f"{k} {v}" for k, v in load.counts.items()))
    print(f"[api] recent_findings = {RING}: the ring of recent findings is full within the "
          f"warm-up (the default 10000 holds ~30 MiB once full)")
    if heap:
        last = heap[-1]
        print(f"heap after warm-up: in use {last['heap_in_use_kib'] / 1024:.1f} MiB (slope "
              f"{slopes['heap_in_use_kib']:+.2f} MiB/h), free in the arenas "
              f"{last['heap_free_kib'] / 1024:.1f} MiB ({slopes['heap_free_kib']:+.2f} MiB/h), "
              f"arenas {min(s['arenas'] for s in heap)}-{max(s['arenas'] for s in heap)}; "
              f"components account {last['accounted_kib'] / 1024:.1f} MiB "
              f"({slopes['accounted_kib']:+.2f} MiB/h); given back to the system "
              f"{last.get('released_kib', 0) / 1024:.1f} MiB in all")
    if load.errors:
        print("load errors: " + "; ".join(load.errors))
    print(f"daemon RSS: {samples[0]['rss_kib'] / 1024:.1f} MiB at start, "
          f"{min(s['rss_kib'] for s in steady) / 1024:.1f}-{max(s['rss_kib'] for s in steady) / 1024:.1f}"
          f" MiB after warm-up, {final['rss_kib'] / 1024:.1f} MiB at the end; slope after warm-up "
          f"{rss_slope:+.2f} MiB/hour (goal < {args.max_slope} MiB/hour)")
    print(f"child processes (isolated plugin host): {final['children']}, RSS slope "
          f"{child_slope:+.2f} MiB/hour")
    print(f"open fds after warm-up: {min(fds)}-{max(fds)}; threads: {min(threads)}-{max(threads)}")
    print(f"daemon CPU: {cpu * 100:.1f}% of one core on average")
    imbalance, edges = conservation(metrics)
    bad = {k: v for k, v in imbalance.items() if abs(v) > 0.5}
    produced = sum(e["produced"] for e in edges.values())
    dropped = sum(e["dropped"] for e in edges.values())
    lost = sum(v for n, _, v in metrics if n == "phantomguard_component_events_lost_total")
    print(f"edges: {len(edges)}, {produced:.0f} events produced, {dropped:.0f} dropped by policy "
          f"(counted), {lost:.0f} lost outside the edges; conservation "
          f"{'holds on every edge' if not bad else 'BROKEN on ' + str(bad)}")
    delivered = {l["sink"]: v for n, l, v in metrics if n == "phantomguard_sink_delivered_total"}
    failed = {l["sink"]: v for n, l, v in metrics if n == "phantomguard_sink_failed_total"}
    archived = sum(1 for _ in open(os.path.join(work, "findings.jsonl"))) \
        if os.path.exists(os.path.join(work, "findings.jsonl")) else 0
    print(f"findings: archive sink delivered {delivered.get('archive', 0):.0f}, file holds "
          f"{archived} lines; failed deliveries {sum(failed.values()):.0f}")
    if bad:
        failures.append(f"conservation broken: {bad}")
    if lost > 0:
        causes = ", ".join(f"{l.get('component')}/{l.get('cause')} {v:.0f}" for n, l, v in metrics
                           if n == "phantomguard_component_events_lost_total" and v > 0)
        failures.append(f"{lost:.0f} events lost outside the edges ({causes})")
    if delivered.get("archive", 0) != archived:
        failures.append(f"the archive sink says {delivered.get('archive', 0):.0f} delivered, the "
                        f"file holds {archived}")
    if max(fds) - min(fds) > args.fd_tolerance:
        failures.append(f"open fds not flat after warm-up: {min(fds)}-{max(fds)}")
    if max(threads) - min(threads) > 2:
        failures.append(f"threads not flat after warm-up: {min(threads)}-{max(threads)}")
    if rss_slope > args.max_slope:
        failures.append(f"RSS grows {rss_slope:.2f} MiB/hour after warm-up (limit {args.max_slope})")
    if args.csv:
        with open(args.csv, "w") as f:
            keys = ["t", "rss_kib", "fds", "threads", "cpu_s", "children", "child_rss_kib",
                    "heap_in_use_kib", "heap_free_kib", "arenas", "accounted_kib", "released_kib"]
            f.write(",".join(keys) + "\n")
            for s in samples:
                f.write(",".join(f"{s.get(k, 0):.1f}" if isinstance(s.get(k), float)
                                 else str(s.get(k, "")) for k in keys) + "\n")
    if args.svg and samples:
        with open(args.svg, "w") as f:
            f.write(svg_plot(samples, warmup, f"phantomguard run, server profile, "
                             f"{args.duration / 60:.0f} min mixed load: RSS slope "
                             f"{rss_slope:+.2f} MiB/h after warm-up"))
    if args.keep:
        print(f"work folder kept: {work}")
    if failures:
        tail = open(os.path.join(work, "daemon.out"), errors="replace").read()[-4000:]
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        print("FAILED:\n  " + "\n  ".join(failures))
        print("the daemon's last output:\n" + tail)
        return 1
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("soak: every check holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
