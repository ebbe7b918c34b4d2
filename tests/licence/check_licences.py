#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every source file says its licence, and every licence named is shipped.

The rule (README, Licence):

  - the engine, its plugins, tests, scripts and build files: Apache-2.0;
  - the SDK (sdk/) and the example plugins (examples/), which plugin authors compile into their
    own, possibly closed, plugins: Apache-2.0 WITH LLVM-exception (what is compiled into a plugin
    from the SDK's headers carries no attribution condition);
  - the kernel-side sensor program (actors/realtime/bpf/sensor.bpf.c), which the kernel loads as
    GPL and which includes the kernel's own type definitions: GPL-2.0-only; the record layout it
    shares with the engine (sensor_events.h): Apache-2.0 OR GPL-2.0-only.

Checks, for each file tracked in git (or, outside a checkout, each file of the source tree) that
holds code: one `SPDX-License-Identifier:` within its first three lines, naming the licence the
rule gives its path; each licence and exception so named has its text in LICENSES/; LICENSE is
the Apache-2.0 text. Prints every offender; exit 1 when there is one.

  --fix        writes the missing identifiers (after a #! line), for new files.
  --self-test  runs the check on a made-up tree with every kind of offence and fails unless each
               one is reported (CTest runs both).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

CODE = re.compile(r"(\.(cpp|hpp|h|c|py|sh|cmake|in|yar|service|supp)|/CMakeLists\.txt|^CMakeLists\.txt"
                  r"|^Makefile)$")
# Inputs for fuzzers and parsers are data, not code: they keep their bytes.
DATA = ("fuzz/corpus/", "tests/cli/golden/")
IDENT = re.compile(r"SPDX-License-Identifier:\s*(.+?)\s*(\*/)?$")


def expected(path):
    if path == "actors/realtime/bpf/sensor.bpf.c":
        return "GPL-2.0-only"
    if path == "actors/realtime/bpf/sensor_events.h":
        return "Apache-2.0 OR GPL-2.0-only"
    if path.startswith(("sdk/", "examples/")):
        return "Apache-2.0 WITH LLVM-exception"
    return "Apache-2.0"


def comment(path, text):
    slashes = path.endswith((".cpp", ".hpp", ".h", ".c", ".yar")) or path.endswith(".cpp.in")
    return f"// {text}" if slashes else f"# {text}"


def tracked(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True,
                             check=True).stdout.split("\n")
        return [p for p in out if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith(("build", ".git"))]
            files += [os.path.relpath(os.path.join(d, n), root) for n in names]
        return files


def is_script(root, path):
    """A program without a suffix (scripts/install-deps, packaging/deb/postinst): a #! line."""
    try:
        with open(os.path.join(root, path), "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def is_code(root, path):
    if path.startswith(DATA):
        return False
    return bool(CODE.search(path)) or ("." not in os.path.basename(path)
                                       and is_script(root, path))


def self_test(source):
    """A tree with a header-less SDK file, a script without a suffix or a header, a wrong
    licence, a licence without its text and a LICENSE that is not Apache-2.0's: each must be
    reported."""
    tree = tempfile.mkdtemp(prefix="pg-licence-", dir="/var/tmp")
    try:
        os.makedirs(os.path.join(tree, "LICENSES"))
        os.makedirs(os.path.join(tree, "sdk"))
        shutil.copy(os.path.join(source, "LICENSES", "Apache-2.0.txt"), os.path.join(tree, "LICENSES"))
        open(os.path.join(tree, "LICENSE"), "w").write("All rights reserved.\n")
        open(os.path.join(tree, "sdk", "a.h"), "w").write("int x;\n")
        open(os.path.join(tree, "b.cpp"), "w").write("// SPDX-License-Identifier: MIT\nint y;\n")
        open(os.path.join(tree, "run-me"), "w").write("#!/bin/sh\necho unlabelled\n")
        open(os.path.join(tree, "c.py"), "w").write("#!/usr/bin/env python3\n"
                                                   "# SPDX-License-Identifier: Apache-2.0\n")
        r = subprocess.run([sys.executable, __file__, "--source-dir", tree], capture_output=True,
                           text=True)
        print(r.stdout, end="")
        wanted = ["sdk/a.h: no SPDX-License-Identifier", "b.cpp: SPDX-License-Identifier MIT",
                  "LICENSES/MIT.txt is missing", "LICENSES/LLVM-exception.txt is missing",
                  "LICENSE is not the Apache-2.0 text", "run-me: no SPDX-License-Identifier"]
        missed = [w for w in wanted if w not in r.stdout]
        if r.returncode != 1 or missed or "c.py" in r.stdout:
            print(f"self-test FAILED: exit {r.returncode}, not reported: {missed}")
            return 1
        print("self-test: every offence reported, the good file passed")
        return 0
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source-dir", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    p.add_argument("--fix", action="store_true")
    p.add_argument("--self-test", action="store_true")
    args = p.parse_args()
    root = os.path.realpath(args.source_dir)
    if args.self_test:
        return self_test(root)
    problems, named, checked = [], set(), 0
    for path in sorted(tracked(root)):
        full = os.path.join(root, path)
        if not is_code(root, path) or not os.path.isfile(full):
            continue
        checked += 1
        with open(full, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        found = [IDENT.search(l) for l in lines[:3]]
        found = [m.group(1) for m in found if m]
        want = expected(path)
        if not found and args.fix:
            at = 1 if lines and lines[0].startswith("#!") else 0
            lines.insert(at, comment(path, f"SPDX-License-Identifier: {want}"))
            with open(full, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
            found = [want]
        if not found:
            problems.append(f"{path}: no SPDX-License-Identifier in its first three lines "
                            f"(expected {want})")
        elif found[0] != want:
            problems.append(f"{path}: SPDX-License-Identifier {found[0]}, expected {want}")
        named.update(re.split(r"\s+(?:OR|AND|WITH)\s+", found[0] if found else want))
    for ident in sorted(named):
        if not os.path.isfile(os.path.join(root, "LICENSES", ident + ".txt")):
            problems.append(f"LICENSES/{ident}.txt is missing: files are licensed {ident}")
    try:
        if open(os.path.join(root, "LICENSE")).read() != \
                open(os.path.join(root, "LICENSES", "Apache-2.0.txt")).read():
            problems.append("LICENSE is not the Apache-2.0 text of LICENSES/Apache-2.0.txt")
    except OSError as e:
        problems.append(f"LICENSE: {e}")
    print(f"licences: {checked} source files checked, licences named: {', '.join(sorted(named))}")
    for line in problems:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
