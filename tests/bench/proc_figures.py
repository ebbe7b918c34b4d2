# SPDX-License-Identifier: Apache-2.0
"""What the benchmarks read of a running process: /proc/PID/status fields (in KiB, Threads as a
count) and its CPU time. Imported by tests/bench/profiles/profiles.py and
tests/bench/footprint/families.py."""
import os

STATUS_KEYS = ("VmRSS", "RssAnon", "RssFile", "Threads", "VmHWM")


def status_of(pid, keys=STATUS_KEYS):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid):
    """User and system time of the process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
