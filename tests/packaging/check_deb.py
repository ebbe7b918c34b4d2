#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Debian packages (packaging/deb/build-debs, `make deb`), built from this build tree.

--check contents: the two packages hold what they promise (the binary stripped, the plugins,
    the conffile, the unit, the maintainer scripts, Depends from dpkg-shlibdeps), lintian finds
    no error or warning in either, and a plugin builds against the SDK package's CMake package
    unpacked on its own and is listed by the packaged binary.
--check install: the amd64 package goes into a real Debian 12 root (debootstrap minbase, under
    a throw-away overlay in a private mount namespace) with `dpkg -i`, exactly as an operator
    does it: dpkg refuses for the missing libraries, `apt-get -f install` brings what Depends
    names, then `phantomguard validate` and `scan` run there from the installed files;
    reinstalling keeps an edited conffile; `dpkg -r` leaves config and state, `dpkg -P` removes
    both.

--check arm64: the arm64 package of the cross-built tree build-arm64/ (make build-arm64), when
    there is one: architecture, aarch64 objects, Depends from the sysroot, lintian.

Exit 77 (CTest: skipped) with the reason when a step cannot run here (not root, no lintian, no
Debian archive for debootstrap or apt, no arm64 tree).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


class Skip(Exception):
    pass


def run(cmd, ok=(0,), **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode not in ok:
        raise SystemExit(f"FAILED: {' '.join(cmd)} exited {r.returncode}:\n"
                         f"{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return r


def expect(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"  ok: {what}")


def build_debs(source_dir, binary_dir, out):
    r = run([os.path.join(source_dir, "packaging", "deb", "build-debs"), binary_dir, out])
    debs = r.stdout.split()
    main = [d for d in debs if os.path.basename(d).startswith("phantomguard_")]
    sdk = [d for d in debs if os.path.basename(d).startswith("phantomguard-sdk_")]
    expect(len(main) == 1 and len(sdk) == 1, f"build-debs made both packages: {debs}")
    return main[0], sdk[0]


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def contents(deb):
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    return {line.split()[5].lstrip(".") : line.split()[0] for line in listing}


def lint(debs, work):
    if shutil.which("lintian") is None:
        raise Skip("lintian is not installed (scripts/install-deps installs it)")
    # TMPDIR: lintian leaves its ELF caches (mldbm-elf-*) behind; here they go with `work`.
    r = run(["lintian", "--fail-on", "error,warning", "--tag-display-limit", "0", *debs],
            ok=(0, 1, 2), env={**os.environ, "TMPDIR": work})
    print(r.stdout + r.stderr)
    names = ", ".join(os.path.basename(d) for d in debs)
    expect(r.returncode == 0, f"lintian: no error and no warning in {names}")


def check_contents(source_dir, binary_dir, work):
    main, sdk = build_debs(source_dir, binary_dir, os.path.join(work, "out"))
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    version = field(main, "Version")
    expect(os.path.basename(main) == f"phantomguard_{version}_{arch}.deb",
           f"{os.path.basename(main)} is named for version {version} and {arch}")
    expect(field(sdk, "Architecture") == "all", "the SDK package is Architecture: all")

    files = contents(main)
    for path in ["/usr/bin/phantomguard", "/etc/phantomguard/phantomguard.toml",
                 "/lib/systemd/system/phantomguard.service",
                 "/usr/lib/phantomguard/plugins/cryptominer.so",
                 "/usr/lib/phantomguard/plugins/reverse_shell.so",
                 "/usr/share/phantomguard/profiles/low-resource.toml",
                 "/usr/share/doc/phantomguard/copyright",
                 "/usr/share/doc/phantomguard/changelog.Debian.gz",
                 "/usr/share/doc/phantomguard/operations.md",
                 "/usr/share/man/man1/phantomguard.1.gz"]:
        expect(path in files, f"phantomguard ships {path}")
    expect(files["/usr/bin/phantomguard"] == "-rwxr-xr-x", "the binary is 0755")
    expect(not any(p.startswith("/usr/include") for p in files), "no SDK header in the daemon")

    depends = field(main, "Depends")
    print(f"  Depends: {depends}")
    for lib in ["libc6", "libstdc++6", "libcaf-core0.17", "libssl3", "libseccomp2", "libyara9"]:
        expect(lib in depends, f"Depends names {lib}")

    ctrl = os.path.join(work, "control")
    run(["dpkg-deb", "-e", main, ctrl])
    conffiles = open(os.path.join(ctrl, "conffiles")).read().split()
    expect(conffiles == ["/etc/phantomguard/phantomguard.toml"], f"conffiles: {conffiles}")
    for script in ["postinst", "prerm", "postrm"]:
        path = os.path.join(ctrl, script)
        expect(os.access(path, os.X_OK), f"{script} is there and executable")
        run(["sh", "-n", path])

    unpacked = os.path.join(work, "root")
    run(["dpkg-deb", "-x", main, unpacked])
    binary = os.path.join(unpacked, "usr/bin/phantomguard")
    kind = run(["file", "-b", binary]).stdout
    expect(", stripped" in kind, f"the packaged binary is stripped ({kind.strip()[:90]})")
    listed = run([binary, "plugins", "list", "--plugin-dir",
                  os.path.join(unpacked, "usr/lib/phantomguard/plugins")]).stdout
    expect("cryptominer" in listed and "reverse_shell" in listed,
           "the stripped plugins still carry their manifests (plugins list)")

    sdk_files = contents(sdk)
    for path in ["/usr/include/phantomguard/sdk/plugin.h",
                 "/usr/include/phantomguard/sdk/detector.hpp",
                 "/usr/share/cmake/PhantomGuardSDK/PhantomGuardSDKConfig.cmake",
                 "/usr/share/pkgconfig/phantomguard-sdk.pc",
                 "/usr/share/doc/phantomguard-sdk/copyright"]:
        expect(path in sdk_files, f"phantomguard-sdk ships {path}")

    # A third party's plugin, built against nothing but the unpacked SDK package.
    sdk_root = os.path.join(work, "sdk")
    run(["dpkg-deb", "-x", sdk, sdk_root])
    example = os.path.join(source_dir, "examples", "detector-plugin")
    plugin_build = os.path.join(work, "plugin-build")
    run(["cmake", "-S", example, "-B", plugin_build, "-G", "Ninja",
         f"-DCMAKE_PREFIX_PATH={sdk_root}/usr"])
    run(["cmake", "--build", plugin_build])
    built = [f for f in os.listdir(plugin_build) if f.endswith(".so")]
    expect(built, f"the example plugin built against the SDK package: {built}")
    listed = run([binary, "plugins", "list", "--plugin-dir", plugin_build]).stdout
    expect("suspicious_tmp_exec" in listed or "suspicious-tmp-exec" in listed,
           "the packaged binary lists the plugin built against the packaged SDK")

    lint([main, sdk], work)


def check_arm64(source_dir, work):
    """The arm64 package of a cross-built tree (make build-arm64), when there is one: named and
    marked arm64, its ELF objects aarch64, Depends from the sysroot's symbols files, lintian
    clean. Installing it needs an arm64 machine (or binfmt_misc): not done here."""
    tree = os.path.join(source_dir, "build-arm64")
    if not os.path.exists(os.path.join(tree, "bin", "phantomguard")):
        raise Skip("no arm64 tree: `make build-arm64` makes build-arm64/, which this test packages")
    main, _ = build_debs(source_dir, tree, os.path.join(work, "out"))
    expect(os.path.basename(main).endswith("_arm64.deb"), f"{os.path.basename(main)} is arm64")
    expect(field(main, "Architecture") == "arm64", "Architecture: arm64")
    depends = field(main, "Depends")
    print(f"  Depends: {depends}")
    for lib in ["libc6", "libstdc++6", "libcaf-core0.17", "libssl3"]:
        expect(lib in depends, f"Depends names {lib}")
    unpacked = os.path.join(work, "root")
    run(["dpkg-deb", "-x", main, unpacked])
    for path in ["usr/bin/phantomguard", "usr/lib/phantomguard/plugins/cryptominer.so"]:
        kind = run(["file", "-b", os.path.join(unpacked, path)]).stdout
        expect("ARM aarch64" in kind and ", stripped" in kind, f"{path}: {kind.strip()[:70]}")
    lint([main], work)


def in_root(merged, *cmd, ok=(0,)):
    return run(["chroot", merged, *cmd], ok=ok,
               env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
                    "LC_ALL": "C"})


def check_install(source_dir, binary_dir, work):
    if os.geteuid() != 0:
        raise Skip("installing a package into a Debian root needs root")
    main, _ = build_debs(source_dir, binary_dir, os.path.join(work, "out"))
    r = subprocess.run([os.path.join(source_dir, "tests", "support", "bookworm-root"), binary_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Skip(f"no Debian 12 root: {r.stderr.strip()[-800:]}")
    lower = r.stdout.strip()

    # The shared root stays untouched: everything dpkg and apt write lands in the overlay's
    # upper folder, and the mounts vanish with this process's mount namespace.
    upper, scratch, merged = (os.path.join(work, d) for d in ("upper", "ovl-work", "merged"))
    for d in (upper, scratch, merged):
        os.makedirs(d)
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={upper},workdir={scratch}", merged])
    run(["mount", "-t", "proc", "proc", os.path.join(merged, "proc")])
    run(["mount", "--rbind", "/dev", os.path.join(merged, "dev")])
    run(["mount", "-t", "sysfs", "sysfs", os.path.join(merged, "sys")])
    shutil.copy("/etc/resolv.conf", os.path.join(merged, "etc", "resolv.conf"))
    deb_in_root = "/tmp/" + os.path.basename(main)
    shutil.copy(main, os.path.join(merged, deb_in_root.lstrip("/")))

    print("dpkg -i into a minbase root: the libraries Depends names are not there yet")
    r = in_root(merged, "dpkg", "-i", deb_in_root, ok=(0, 1))
    expect(r.returncode == 1 and "dependency problems" in (r.stdout + r.stderr),
           "dpkg -i stops at the missing dependencies, naming them")
    update = in_root(merged, "apt-get", "-q", "update", ok=(0, 100))
    if update.returncode != 0:
        raise Skip(f"apt-get update in the root failed (no Debian archive?): {update.stderr[-600:]}")
    in_root(merged, "apt-get", "-q", "-y", "--no-install-recommends", "-f", "install")
    status = in_root(merged, "dpkg-query", "-W", "-f=${Status}", "phantomguard").stdout
    expect(status == "install ok installed", f"after apt-get -f install: {status}")

    def stat(path):
        st = os.stat(os.path.join(merged, path.lstrip("/")))
        return oct(st.st_mode & 0o7777), st.st_gid

    expect(stat("/var/lib/phantomguard")[0] == "0o700", "postinst made /var/lib/phantomguard 0700")
    expect(stat("/var/log/phantomguard")[0] == "0o750", "postinst made /var/log/phantomguard 0750")
    wants = os.path.join(merged, "etc/systemd/system/multi-user.target.wants/phantomguard.service")
    expect(os.path.islink(wants), "the unit is enabled (multi-user.target.wants)")

    version = in_root(merged, "phantomguard", "version").stdout
    expect(version.startswith("phantomguard "), f"phantomguard version: {version.strip()}")
    config = "/etc/phantomguard/phantomguard.toml"
    in_root(merged, "phantomguard", "validate", "--config", config)
    print("  ok: phantomguard validate --config " + config)
    plugins = in_root(merged, "phantomguard", "plugins", "list").stdout
    expect("cryptominer" in plugins, "plugins list finds the shipped plugins in their default dir")
    scan = in_root(merged, "phantomguard", "scan", "--config", config, "--format", "jsonl",
                   "--timeout", "120s", ok=(0, 1))
    findings = [json.loads(line) for line in scan.stdout.splitlines() if line.strip()]
    expect(all("rule" in f for f in findings),
           f"phantomguard scan in the root exited {scan.returncode} with {len(findings)} findings")
    archive = os.path.join(merged, "var/log/phantomguard/findings.jsonl")
    expect(os.path.exists(archive) and
           len(open(archive).read().splitlines()) == len(findings),
           "the archive sink wrote every finding to /var/log/phantomguard/findings.jsonl")

    print("an edited conffile survives a reinstall")
    with open(os.path.join(merged, config.lstrip("/")), "a") as f:
        f.write("\n# edited by the operator\n")
    in_root(merged, "dpkg", "-i", deb_in_root)
    expect("# edited by the operator" in open(os.path.join(merged, config.lstrip("/"))).read(),
           "dpkg -i again keeps the operator's conffile")

    in_root(merged, "dpkg", "-r", "phantomguard")
    expect(not os.path.exists(os.path.join(merged, "usr/bin/phantomguard")), "dpkg -r: binary gone")
    expect(os.path.exists(os.path.join(merged, config.lstrip("/"))), "dpkg -r: conffile kept")
    expect(os.path.isdir(os.path.join(merged, "var/lib/phantomguard")), "dpkg -r: state kept")
    in_root(merged, "dpkg", "-P", "phantomguard")
    for gone in [config, "/var/lib/phantomguard", "/var/log/phantomguard",
                 "/etc/systemd/system/multi-user.target.wants/phantomguard.service"]:
        expect(not os.path.lexists(os.path.join(merged, gone.lstrip("/"))), f"dpkg -P: {gone} gone")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source-dir", required=True)
    p.add_argument("--binary-dir", required=True)
    p.add_argument("--check", choices=["contents", "install", "arm64"], required=True)
    args = p.parse_args()
    if args.check == "install" and os.geteuid() == 0 and "PG_PRIVATE_MOUNTS" not in os.environ:
        # Mounts made for the install stay inside a private mount namespace of this process.
        os.environ["PG_PRIVATE_MOUNTS"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                              *sys.argv])
    work = tempfile.mkdtemp(prefix="pg-deb-test-")
    try:
        if args.check == "contents":
            check_contents(args.source_dir, args.binary_dir, work)
        elif args.check == "arm64":
            check_arm64(args.source_dir, work)
        else:
            check_install(args.source_dir, args.binary_dir, work)
    except Skip as e:
        print(f"SKIPPED: {e}")
        return SKIP
    finally:
        if args.check == "install":
            subprocess.run(["umount", "-R", os.path.join(work, "merged")], capture_output=True)
        # Never recurse into a mount that is still there (it may be the host's /dev or /proc):
        # the namespace drops it when this process ends, and the folder is left behind.
        mounted = [line.split()[4] for line in open("/proc/self/mountinfo")
                   if line.split()[4].startswith(work + "/")]
        if mounted:
            print(f"left {work} in place: still mounted {mounted}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
