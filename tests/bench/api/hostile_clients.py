#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""hostile_clients.py — what a hostile or broken client does to the daemon's HTTP API, for the
test and the benchmark that measure that the engine does not notice.

  hostile_clients.py --port PORT [--slow N] [--garbage N] [--bodies N] [--seconds S]

  --slow N     N connections that send a request line and then one header byte every second
               (slowloris), held open for --seconds
  --garbage N  N connections that send random bytes, a broken request line, a header of 100 KiB
               or a truncated chunked body, then close
  --bodies N   N POSTs announcing and sending 10 MiB bodies

Prints one line: how many slow connections were opened (connected, or waiting in the kernel's
backlog), how many garbage and body requests were sent and what the server answered.
"""
import argparse
import os
import random
import resource
import socket
import sys
import time


def garbage_payloads():
    rnd = random.Random(7)
    yield bytes(rnd.getrandbits(8) for _ in range(4096))
    yield b"GET /" + b"A" * 70000 + b" HTTP/1.1\r\n\r\n"
    yield b"GET /metrics HTTP/1.1\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n"
    yield b"POST /api/v1/reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\nabc"
    yield b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64)  # a TLS hello on plain HTTP
    yield b"GET /metrics HTTP/9.9\r\nHost: \x00\xff\r\n\r\n"
    yield b"GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n"
    yield b"\r\n\r\n\r\n"


def answer_of(sock):
    sock.settimeout(3)
    try:
        data = sock.recv(64)
    except OSError:
        return "none"
    if not data:
        return "closed"
    line = data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    return line.split(" ")[1] if line.startswith("HTTP/") and " " in line else "other"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--slow", type=int, default=0)
    ap.add_argument("--garbage", type=int, default=0)
    ap.add_argument("--bodies", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.slow + 256)), hard))

    answers = {}
    slow = []
    for _ in range(args.slow):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((args.host, args.port))
        except BlockingIOError:
            pass  # completes in the kernel, or waits in the backlog
        except OSError:
            s.close()
            continue
        slow.append(s)

    payloads = list(garbage_payloads())
    for i in range(args.garbage):
        try:
            with socket.create_connection((args.host, args.port), timeout=3) as s:
                s.sendall(payloads[i % len(payloads)])
                a = answer_of(s)
        except OSError:
            a = "refused"
        answers[a] = answers.get(a, 0) + 1

    for _ in range(args.bodies):
        try:
            with socket.create_connection((args.host, args.port), timeout=5) as s:
                s.sendall(b"POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: 10485760\r\n\r\n")
                chunk = b"x" * 65536
                try:
                    for _ in range(160):
                        s.sendall(chunk)
                except OSError:
                    pass  # the server stopped reading: what it should do
                a = answer_of(s)
        except OSError:
            a = "refused"
        answers["body:" + a] = answers.get("body:" + a, 0) + 1

    # Slowloris: a request line, then a header byte a second, for as long as asked.
    end = time.monotonic() + args.seconds
    started = False
    while time.monotonic() < end:
        for s in slow:
            try:
                s.send(b"GET /metrics HTTP/1.1\r\n" if not started else b"X")
            except OSError:
                pass
        started = True
        time.sleep(1)
    open_at_end = 0
    for s in slow:
        try:
            s.send(b"Y")
            open_at_end += 1
        except OSError:
            pass
        s.close()
    print("slow=%d open_at_end=%d answers=%s" % (len(slow), open_at_end,
                                                  ",".join("%s:%d" % kv for kv in sorted(answers.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
