// SPDX-License-Identifier: Apache-2.0
// A real Debian root file system, made once with `debootstrap --variant=minbase bookworm` and
// cached in the build tree (tests/support/bookworm-root, shared with the clean-host and package
// tests). Without network, or not as root, the scenario is reported as skipped.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "container_fixture.hpp"
#include "phantomguard/actors/container/image_scan.hpp"
#include "phantomguard/actors/container/image_source.hpp"
#include "skip.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::container;
using pg::runtime::severity;
using pg::test::at_path;
using pg::test::with_rule;

namespace {

// The cached root, made on first use; empty when it cannot be made here.
std::string debootstrap_root() {
  const auto cmd = std::string("'") + PG_SOURCE_DIR + "/tests/support/bookworm-root' '" +
                   PG_BINARY_DIR + "'";
  std::string path;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr)
    return {};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p))
    path += buf;
  if (::pclose(p) != 0)
    return {};
  while (!path.empty() && path.back() == '\n')
    path.pop_back();
  return path;
}

} // namespace

SCENARIO("a debootstrap'ed Debian 12 root is scanned like an image") {
  auto root = debootstrap_root();
  if (root.empty()) {
    PG_SKIP("debootstrap could not make a bookworm root (no network, not root, or not installed): "
            "skipped");
  }
  std::string error;
  auto img = open_image(root, {}, "", &error);
  REQUIRE(img);
  image_scan_options o;
  o.advisories = pg::test::fixtures_dir() + "/real";
  pg::actors::host::collecting_sink sink;
  auto r = scan_image(*img, o, sink);
  const auto& fs_ = sink.findings;
  THEN("its packages are read and matched through their source packages") {
    CHECK(r.completed);
    CHECK(r.packages > 80);
    auto inv = with_rule(fs_, "container.packages");
    REQUIRE(inv.size() == 1);
    CHECK(inv[0]->evidence["release"] == "12");
    bool libc = false, bash = false;
    for (const auto* f : with_rule(fs_, "vuln.package")) {
      libc |= f->entity["package"] == "libc6" && f->entity["source"] == "glibc";
      bash |= f->entity["package"] == "bash";
    }
    CHECK(libc);
    CHECK(bash);
  }
  THEN("its setuid programs are Debian's usual ones, reported low") {
    auto su = at_path(fs_, "container.setuid", "/usr/bin/su");
    REQUIRE(su);
    CHECK(su->level == severity::low);
    for (const auto* f : with_rule(fs_, "container.setuid")) {
      INFO(f->entity["path"]);
      CHECK(f->evidence["expected"] == true);
    }
  }
  THEN("it has no world-writable files, no secrets, and no non-root account") {
    CHECK(with_rule(fs_, "container.world_writable").empty());
    CHECK(with_rule(fs_, "container.secret").empty());
    auto user = with_rule(fs_, "container.root_user");
    REQUIRE(user.size() == 1);
    CHECK(user[0]->level == severity::low);
    CHECK(r.files > 3000);
  }
}
