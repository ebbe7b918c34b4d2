#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs every phantomguard example of README.md and docs/ exactly as written.

A line of a fenced code block that starts with `phantomguard COMMAND` (COMMAND one the binary
lists in --help) is either a synopsis — it holds a placeholder: `[`, `...`, `a|b`, or an
ALL-CAPS word such as FILE, DIR, N — or an example. Examples are run; the other lines of their
block that come before them (a `cmake` build, say) are run first, as a reader would. A line
`$ phantomguard ...` is a transcript: it is run and its output compared with the lines after it.

The examples name the paths an installed engine uses (/etc/phantomguard, /var/lib/phantomguard,
/usr/lib/phantomguard/plugins, /opt/phantomguard-sdk, /mnt/image) and the real advisory URL. So
they run in private mount and network namespaces: those folders are tmpfs with fixtures in
them, and osv-vulnerabilities.storage.googleapis.com resolves to an HTTPS server on the
namespace's loopback whose certificate a CA made here signs (the CA is added to the system
bundle inside the namespace only). Nothing outside the namespaces is written, except empty
mount points for the engine's own folders when they are missing.

An example works when it exits 0 or 1 (1: a finding at or above --fail-on) and prints no usage
error. Exit code 77 (CTest: skipped) when not root or without unshare.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

OSV_HOST = "osv-vulnerabilities.storage.googleapis.com"
USAGE_ERRORS = re.compile(
    r"was not expected|is required|unknown option|unknown command|not in \{|nothing to scan|"
    r"Run with --help", re.I)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--source-dir", required=True)
    p.add_argument("--binary-dir", required=True)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--list", action="store_true", help="print the examples found and exit")
    return p.parse_args()


def commands(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        m = re.match(r"^  ([a-z][a-z-]+)\s{2,}", line)
        if m:
            names.add(m.group(1))
    return names


def is_synopsis(line):
    code = line.split(" #", 1)[0]
    if "[" in code or "..." in code or re.search(r"\w\|\w", code):
        return True
    return re.search(r"(?<![\w/.-])[A-Z][A-Z0-9_]*(?![\w/.-])", code) is not None


class Block:
    def __init__(self, path, first_line):
        self.path = path
        self.first_line = first_line
        self.lines = []  # (line number, text)


def blocks_of(path):
    out, block = [], None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.lstrip().startswith("```"):
                if block is None:
                    block = Block(path, n)
                else:
                    out.append(block)
                    block = None
                continue
            if block is not None:
                block.lines.append((n, line))
    return out


def find_examples(source_dir, names):
    """[(block, [steps])]: a step is (kind, line number, text, expected output)."""
    docs = [os.path.join(source_dir, "README.md")] + sorted(
        glob.glob(os.path.join(source_dir, "docs", "**", "*.md"), recursive=True))
    found = []
    pg = re.compile(r"^\s*phantomguard +([a-z][a-z-]*)\b")
    for doc in docs:
        for block in blocks_of(doc):
            steps, pending = [], []
            lines = block.lines
            i = 0
            while i < len(lines):
                n, text = lines[i]
                if text.startswith("$ phantomguard"):
                    expected = []
                    j = i + 1
                    while j < len(lines) and not lines[j][1].startswith("$ "):
                        expected.append(lines[j][1])
                        j += 1
                    steps.append(("transcript", n, text[2:], "\n".join(expected).strip()))
                    i = j
                    continue
                m = pg.match(text)
                if m and m.group(1) in names:
                    if not is_synopsis(text):
                        steps.extend(pending)
                        pending = []
                        steps.append(("example", n, text.strip(), None))
                elif text.strip() and not text.lstrip().startswith("#") and not m:
                    pending.append(("setup", n, text.strip(), None))
                i += 1
            if any(s[0] != "setup" for s in steps):
                found.append((block, steps))
    return found


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def prepare(source_dir, binary_dir, work):
    """Inside the namespaces: the fixtures at the paths the examples name."""
    sh("mount --make-rprivate /")
    sh("ip link set lo up")
    for d in ["/etc/phantomguard", "/var/lib/phantomguard", "/var/log/phantomguard",
              "/usr/lib/phantomguard", "/mnt", "/opt"]:
        sh(f"mount -t tmpfs -o mode=0755 pg-docs {d}")
    os.makedirs("/usr/lib/phantomguard/plugins")
    shutil.copy(os.path.join(source_dir, "config", "default.toml"), "/etc/phantomguard/pg.toml")
    # A Debian 12 image root for `vuln --root /mnt/image`.
    os.makedirs("/mnt/image/var/lib/dpkg")
    os.makedirs("/mnt/image/etc")
    with open("/mnt/image/var/lib/dpkg/status", "w") as f:
        f.write("Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\n"
                "Source: openssl\nVersion: 3.0.11-1~deb12u1\n")
    with open("/mnt/image/etc/os-release", "w") as f:
        f.write('ID=debian\nVERSION_ID="12"\n')
    fixtures = os.path.join(source_dir, "tests", "vuln", "fixtures", "osv")
    shutil.copytree(fixtures, os.path.join(work, "osv"))
    # The SDK where docs/sdk.md installs it, and the example plugin as its author has it.
    sh(f"cmake --install '{binary_dir}' --component sdk --prefix /opt/phantomguard-sdk",
       stdout=subprocess.DEVNULL)
    shutil.copytree(os.path.join(source_dir, "examples", "detector-plugin"),
                    os.path.join(work, "plugin"))
    # The advisory archive's stand-in server: a CA, a certificate for the real host name, the
    # CA in the system bundle and the name in /etc/hosts, both inside the namespace only.
    tls = os.path.join(work, "tls")
    os.makedirs(tls)
    sh(f"cd {tls} && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=pg-docs-ca "
       "-keyout ca.key -out ca.crt 2>/dev/null && "
       f"openssl req -newkey rsa:2048 -nodes -subj /CN={OSV_HOST} -keyout srv.key -out srv.csr "
       "2>/dev/null && "
       f"printf 'subjectAltName=DNS:{OSV_HOST}\\n' > ext.cnf && "
       "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
       "-extfile ext.cnf -out srv.crt 2>/dev/null")
    bundle = os.path.join(work, "ca-bundle.crt")
    with open(bundle, "w") as out:
        out.write(open("/etc/ssl/certs/ca-certificates.crt").read())
        out.write(open(os.path.join(tls, "ca.crt")).read())
    sh(f"mount --bind {bundle} /etc/ssl/certs/ca-certificates.crt")
    hosts = os.path.join(work, "hosts")
    with open(hosts, "w") as out:
        out.write(open("/etc/hosts").read() + f"\n127.0.0.1 {OSV_HOST}\n")
    sh(f"mount --bind {hosts} /etc/hosts")
    www = os.path.join(work, "www", "Debian")
    os.makedirs(www)
    sh(f"cd {fixtures} && python3 -m zipfile -c {www}/all.zip *.json")
    server = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import http.server, ssl, functools
            handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                        directory={os.path.dirname(www)!r})
            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 443), handler)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain({os.path.join(tls, 'srv.crt')!r}, {os.path.join(tls, 'srv.key')!r})
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
            httpd.serve_forever()
        """)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(f"curl -sf -o /dev/null https://{OSV_HOST}/Debian/all.zip",
                          shell=True).returncode == 0:
            break
        import time
        time.sleep(0.1)
    else:
        raise SystemExit("the stand-in advisory server did not start")
    return server


def run_inside(args):
    source_dir, binary_dir = args.source_dir, args.binary_dir
    names = commands(os.path.join(binary_dir, "bin", "phantomguard"))
    examples = find_examples(source_dir, names)
    work = tempfile.mkdtemp(prefix="pg-docs-")
    server = prepare(source_dir, binary_dir, work)
    env = dict(os.environ)
    env["PATH"] = os.path.join(binary_dir, "bin") + ":" + env["PATH"]
    failures, ran = [], 0
    try:
        for block, steps in examples:
            rel = os.path.relpath(block.path, source_dir)
            # docs/sdk.md is written from the plugin's own source folder.
            cwd = os.path.join(work, "plugin") if rel == "docs/sdk.md" else work
            for kind, n, text, expected in steps:
                where = f"{rel}:{n}"
                try:
                    r = subprocess.run(["bash", "-c", text], cwd=cwd, env=env,
                                       capture_output=True, text=True, timeout=600)
                except subprocess.TimeoutExpired:
                    failures.append(f"{where}: {text}\n    timed out after 600 s")
                    continue
                output = (r.stdout + r.stderr).strip()
                ran += 1
                problem = None
                if kind == "setup":
                    if r.returncode != 0:
                        problem = f"exit {r.returncode}"
                elif kind == "transcript":
                    if output != expected:
                        problem = f"printed:\n{textwrap.indent(output, '      ')}\n    expected:\n" \
                                  f"{textwrap.indent(expected, '      ')}"
                else:
                    if r.returncode not in (0, 1):
                        problem = f"exit {r.returncode}"
                    elif USAGE_ERRORS.search(r.stderr):
                        problem = "a usage error"
                status = "ok" if problem is None else "FAILED"
                print(f"{status:6} {where}: {text}  (exit {r.returncode})")
                if problem:
                    failures.append(f"{where}: {text}\n    {problem}\n"
                                    f"{textwrap.indent(r.stderr[-1500:], '    | ')}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{ran} example lines run from {len(examples)} blocks, {len(failures)} failed")
    for f in failures:
        print("FAILED " + f)
    return 1 if failures or ran == 0 else 0


def main():
    args = parse_args()
    binary = os.path.join(args.binary_dir, "bin", "phantomguard")
    if args.list:
        for block, steps in find_examples(args.source_dir, commands(binary)):
            for kind, n, text, _ in steps:
                print(f"{kind:10} {os.path.relpath(block.path, args.source_dir)}:{n}: {text}")
        return 0
    if args.inside:
        return run_inside(args)
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("SKIPPED: the examples run in private mount and network namespaces, which need "
              "root and unshare(1)")
        return 77
    for d in ["/etc/phantomguard", "/var/lib/phantomguard", "/var/log/phantomguard",
              "/usr/lib/phantomguard"]:
        os.makedirs(d, exist_ok=True)  # mount points; the namespace covers them with tmpfs
    return subprocess.run(["unshare", "--mount", "--net", "--fork", sys.executable,
                           os.path.abspath(__file__), "--inside", "--source-dir", args.source_dir,
                           "--binary-dir", args.binary_dir]).returncode


if __name__ == "__main__":
    sys.exit(main())
