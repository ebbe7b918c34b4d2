// SPDX-License-Identifier: Apache-2.0
// package_integrity against dpkg's own checksums, compared with Debian's debsums on a package
// built and installed here for the test: one of its files is modified, one deleted, one diverted
// by another package; both tools must name the same files.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

#include "phantomguard/actors/fim/package_integrity.hpp"
#include "skip.hpp"
#include "temp_tree.hpp"
#include "test_context.hpp"

using namespace pg::actors::fim;

namespace {

int sh(const std::string& cmd) {
  return std::system(cmd.c_str());
}

std::string capture(const std::string& cmd) {
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      out.append(buf, n);
    ::pclose(f);
  }
  return out;
}

std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      out.insert(line);
  return out;
}

// A package pg-integrity-test with three files under /usr/share/pg-integrity-test, installed
// with dpkg for the scenario and purged after it.
struct test_package {
  static constexpr const char* name = "pg-integrity-test";
  test_package() {
    if (::geteuid() != 0)
      PG_SKIP("not root: installing a test package with dpkg needs root");
    if (sh("command -v dpkg-deb >/dev/null && command -v debsums >/dev/null") != 0)
      PG_SKIP("dpkg-deb or debsums is missing (scripts/install-deps installs debsums)");
    auto root = tree.path("pkg");
    tree.write("pkg/DEBIAN/control",
               "Package: pg-integrity-test\nVersion: 1.0\n"
               "Architecture: all\nMaintainer: PhantomGuard tests <t@example>\n"
               "Description: files for the package integrity test\n");
    tree.write("pkg/usr/share/pg-integrity-test/kept", "kept as installed\n");
    tree.write("pkg/usr/share/pg-integrity-test/modified", "original content\n");
    tree.write("pkg/usr/share/pg-integrity-test/deleted", "will be deleted\n");
    tree.write("pkg/usr/share/pg-integrity-test/diverted", "diverted content\n");
    // md5sums as dpkg-deb's callers write them (dh_md5sums): relative paths.
    REQUIRE(sh("cd " + root + " && find usr -type f | sort | xargs md5sum > DEBIAN/md5sums") == 0);
    deb = tree.path("pg-integrity-test.deb");
    REQUIRE(sh("dpkg-deb --root-owner-group -b " + root + " " + deb + " >/dev/null") == 0);
    sh("dpkg --purge " + std::string(name) + " >/dev/null 2>&1");
    REQUIRE(sh("dpkg -i " + deb + " >/dev/null") == 0);
  }
  ~test_package() {
    sh("dpkg-divert --package pg-integrity-other --rename --remove "
       "/usr/share/pg-integrity-test/diverted >/dev/null 2>&1");
    sh("dpkg --purge " + std::string(name) + " >/dev/null 2>&1");
  }
  pg::test::temp_tree tree;
  std::string deb;
};

std::vector<pg::runtime::finding> verify(const std::vector<std::string>& packages) {
  package_integrity_analyzer::options o;
  o.packages = packages;
  package_integrity_analyzer a(o);
  pg::test::test_context ctx("packages");
  a.on_tick(ctx);
  return ctx.findings;
}

} // namespace

SCENARIO("installed files are verified against dpkg's checksums with the verdicts debsums gives") {
  test_package pkg;
  const std::string dir = "/usr/share/pg-integrity-test/";
  CHECK(verify({test_package::name}).empty()); // as installed: nothing

  std::ofstream(dir + "modified") << "replaced by an attacker\n";
  std::filesystem::remove(dir + "deleted");
  // Another package diverts one of our files (with --rename it moves to .orig) and puts its own
  // there: ours is checked at .orig, and the new file at the old path is not ours to judge.
  REQUIRE(sh("dpkg-divert --package pg-integrity-other --rename --divert " + dir +
             "diverted.orig --add " + dir + "diverted >/dev/null") == 0);
  std::ofstream(dir + "diverted") << "the diverting package's own file\n";

  auto findings = verify({test_package::name});
  std::set<std::string> changed, missing;
  for (const auto& f : findings) {
    CHECK(f.entity["package"] == test_package::name);
    if (f.rule == "fim.package_changed") {
      changed.insert(f.entity["path"].get<std::string>());
      CHECK(f.level == pg::runtime::severity::high);
      CHECK(f.evidence["expected_md5"].get<std::string>().size() == 32);
      CHECK(f.evidence["actual_md5"] != f.evidence["expected_md5"]);
    } else if (f.rule == "fim.package_missing") {
      missing.insert(f.entity["path"].get<std::string>());
    }
  }
  CHECK(changed == std::set<std::string>{dir + "modified"});
  CHECK(missing == std::set<std::string>{dir + "deleted"});

  // debsums -c names the changed files on stdout and the missing ones on stderr.
  auto ds_changed =
      lines(capture("debsums -c " + std::string(test_package::name) + " 2>/dev/null"));
  auto ds_err = capture("debsums -c " + std::string(test_package::name) + " 2>&1 >/dev/null");
  CHECK(ds_changed == changed);
  for (const auto& m : missing)
    CHECK(ds_err.find("missing file " + m) != std::string::npos);
}

SCENARIO("md5sums and diversions files are parsed strictly") {
  std::size_t bad = 0;
  auto sums = parse_md5sums("7210080490f9fd139c1b44fa0f730988  bin/bash\n"
                            "not-a-sum  usr/bin/x\n"
                            "12c7981c8fed81743552e47dd4b1483e *usr/bin/bashbug\n"
                            "12c7981c8fed81743552e47dd4b1483e\n"
                            "\n",
                            &bad);
  REQUIRE(sums.size() == 2);
  CHECK(sums[0].path == "/bin/bash");
  CHECK(sums[1].path == "/usr/bin/bashbug");
  CHECK(bad == 2);
  auto d = parse_diversions("/usr/bin/a\n/usr/bin/a.orig\npkg-x\n/usr/bin/b\n");
  REQUIRE(d.size() == 1); // an incomplete triplet is not a diversion
  CHECK(d["/usr/bin/a"].to == "/usr/bin/a.orig");
  CHECK(d["/usr/bin/a"].by == "pkg-x");
}

SCENARIO("a root without dpkg checksums says so instead of passing") {
  pg::test::temp_tree tree;
  tree.write("root/etc/os-release", "ID=debian\n");
  package_integrity_analyzer::options o;
  o.root = tree.path("root");
  package_integrity_analyzer a(o);
  pg::test::test_context ctx("packages");
  a.on_tick(ctx);
  REQUIRE(ctx.findings.size() == 1);
  CHECK(ctx.findings[0].rule == "fim.package_sums_missing");
}
