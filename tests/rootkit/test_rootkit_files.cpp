// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "phantomguard/actors/rootkit/directory_census.hpp"
#include "phantomguard/actors/rootkit/known_rootkits.hpp"
#include "rootkit_fixture.hpp"

using namespace pg::actors::rootkit;
using pg::runtime::severity;
using pg::test::temp_dir;

namespace {
const std::string shipped_list = std::string(PG_SOURCE_DIR) + "/config/rootkits/known_files.toml";
}

SCENARIO("a non-empty ld.so.preload names each preloaded library") {
  temp_dir d;
  GIVEN("a preload file with two libraries, a comment and a ':' separator") {
    pg::test::write_file(d / "ld.so.preload",
                         "# injected\n/usr/local/lib/libprocesshider.so:/lib/x86_64-linux-gnu/"
                         "libc.so.6\n");
    auto ctx = pg::test::run_rootkit(
        {{"checks", pg::test::list_of({"ld_so_preload"})}, {"ld_so_preload", d / "ld.so.preload"}});
    THEN("one high finding lists both libraries, and whether each exists") {
      auto f = ctx.with_rule("rootkit.ld_so_preload");
      REQUIRE(f.size() == 1);
      CHECK(f[0]->level == severity::high);
      CHECK(f[0]->entity["path"] == d / "ld.so.preload");
      REQUIRE(f[0]->evidence["libraries"].size() == 2);
      CHECK(f[0]->evidence["libraries"][0]["library"] == "/usr/local/lib/libprocesshider.so");
      CHECK(f[0]->evidence["libraries"][0]["exists"] == false);
      CHECK(f[0]->evidence["libraries"][1]["exists"] == true);
      CHECK(f[0]->mitre[0] == "T1574.006");
    }
  }
  GIVEN("an empty preload file and a missing one") {
    pg::test::write_file(d / "empty", "\n");
    auto empty = pg::test::run_rootkit(
        {{"checks", pg::test::list_of({"ld_so_preload"})}, {"ld_so_preload", d / "empty"}});
    auto missing = pg::test::run_rootkit(
        {{"checks", pg::test::list_of({"ld_so_preload"})}, {"ld_so_preload", d / "nope"}});
    THEN("neither is a finding") {
      CHECK(empty.with_rule("rootkit.ld_so_preload").empty());
      CHECK(missing.with_rule("rootkit.ld_so_preload").empty());
    }
  }
  CHECK(parse_ld_so_preload("a.so b.so\t#c.so\n d.so") ==
        std::vector<std::string>{"a.so", "b.so", "d.so"});
}

SCENARIO("the shipped known-rootkit list is well-formed and clean on this host") {
  auto list = load_known_rootkits(shipped_list);
  REQUIRE(list.ok());
  CHECK(list.rootkits.size() >= 25);
  auto hits = find_known_files(list);
  for (const auto& h : hits)
    UNSCOPED_INFO("hit " << h.real_path << " (" << h.rootkit << ")");
  CHECK(hits.empty());
}

SCENARIO("a file of a known rootkit under the scanned root is reported") {
  temp_dir root;
  GIVEN("the Jynx2 library and the Phalanx2 folder created below a temporary root") {
    pg::test::write_file(root / "XxJynx/jynx2.so", "\x7f"
                                                   "ELF");
    std::filesystem::create_directories(root / "etc/khubd.p2");
    auto ctx = pg::test::run_rootkit({{"checks", pg::test::list_of({"known_file"})},
                                      {"known_files", shipped_list},
                                      {"root", root.path()}});
    THEN("each path is a high rootkit.known_file naming the rootkit") {
      auto f = ctx.with_rule("rootkit.known_file");
      std::set<std::string> paths, kits;
      for (const auto* x : f) {
        paths.insert(x->entity["path"].get<std::string>());
        kits.insert(x->evidence["rootkit"].get<std::string>());
        CHECK(x->level == severity::high);
      }
      CHECK(paths.count(root / "XxJynx/jynx2.so"));
      CHECK(paths.count(root / "XxJynx")); // the folder is listed too
      CHECK(paths.count(root / "etc/khubd.p2"));
      CHECK(kits.count("Jynx / Jynx2 (LD_PRELOAD)"));
      CHECK(kits.count("Phalanx2"));
    }
  }
  GIVEN("a malformed data file") {
    pg::test::write_file(root / "bad.toml", "[[rootkit]]\nname = \"x\"\nfiles = [\"relative\"]\n");
    auto ctx = pg::test::run_rootkit(
        {{"checks", pg::test::list_of({"known_file"})}, {"known_files", root / "bad.toml"}});
    THEN("the check says where and why it could not run") {
      auto f = ctx.with_rule("rootkit.check_incomplete");
      REQUIRE(f.size() == 1);
      auto reason = f[0]->evidence["reason"].get<std::string>();
      CHECK(reason.find(root / "bad.toml:3:") == 0);
      CHECK(reason.find("absolute") != std::string::npos);
    }
  }
}

SCENARIO("directory link counts match visible subdirectories on real directories") {
  for (const char* base : {"/tmp", "/dev/shm"}) {
    temp_dir d(base);
    REQUIRE(!d.path().empty());
    for (const char* sub : {"a", "b", "c"})
      std::filesystem::create_directory(d / sub);
    pg::test::write_file(d / "file", "x");
    auto c = take_census(d.path());
    INFO(base);
    REQUIRE(c.reliable); // ext4 and tmpfs keep 2 + subdirectories
    CHECK(c.nlink == 5);
    CHECK(c.subdirs == 3);
    CHECK(c.entries == 4);
    CHECK(c.unstatable.empty());
    CHECK_FALSE(link_count_mismatch(c.nlink, c.subdirs, c.reliable));
    // What a getdents hook hiding one subdirectory leaves: the kernel still counts its link.
    CHECK(link_count_mismatch(c.nlink, c.subdirs - 1, c.reliable));
    auto scan = scan_hidden_files({d.path()}, 1);
    CHECK(scan.findings.empty());
    CHECK(scan.directories == 4);
  }
  CHECK_FALSE(link_count_mismatch(1, 7, true));  // ext4 dir_nlink overflow
  CHECK_FALSE(link_count_mismatch(1, 3, false)); // btrfs, overlayfs
  CHECK_FALSE(link_count_reliable(0x9123683E));  // btrfs
  CHECK_FALSE(link_count_reliable(0x794C7630));  // overlayfs
}

SCENARIO("no hidden files in the default system directories of this clean host") {
  auto ctx = pg::test::run_rootkit({{"checks", pg::test::list_of({"hidden_file"})}});
  for (const auto* f : ctx.with_rule("rootkit.hidden_file"))
    UNSCOPED_INFO(f->title);
  CHECK(ctx.with_rule("rootkit.hidden_file").empty());
  CHECK(ctx.gauges["hidden_file_directories"] > 10);
}
