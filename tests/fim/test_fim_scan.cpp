// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "phantomguard/actors/fim/baseline_db.hpp"
#include "phantomguard/actors/fim/fim_scanner.hpp"
#include "temp_tree.hpp"

using namespace pg::actors::fim;
using pg::runtime::finding;

namespace {

rule_set rules_for(const std::string& root, const std::vector<std::string>& excludes = {}) {
  rule_set set;
  fim_rule r;
  r.path = root;
  for (const auto& e : excludes)
    r.exclude.push_back(*exclusion::make(e));
  set.add(std::move(r));
  return set;
}

std::map<std::string, const finding*> by_path(const std::vector<finding>& fs,
                                              const std::string& rule) {
  std::map<std::string, const finding*> out;
  for (const auto& f : fs)
    if (f.rule == rule)
      out[f.entity["path"].get<std::string>()] = &f;
  return out;
}

std::vector<finding> check(const rule_set& rules, baseline_db& db, scan_options opts = {},
                           bool update = false, scan_stats* stats = nullptr) {
  fim_scanner scanner(rules, db, opts);
  pg::actors::host::collecting_sink out_sink;
  scanner.begin(fim_scanner::mode::check, {}, update);
  REQUIRE(scanner.run(out_sink));
  auto out = std::move(out_sink.findings);
  if (stats)
    *stats = scanner.stats();
  return out;
}

void init(const rule_set& rules, baseline_db& db, scan_options opts = {}) {
  fim_scanner scanner(rules, db, opts);
  scanner.begin(fim_scanner::mode::init);
  pg::actors::host::collecting_sink out;
  REQUIRE(scanner.run(out));
  CHECK(out.findings.empty());
  CHECK(db.initialized());
}

// The database and its WAL sidecars (they live beside the scanned tree, not in it).
void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
}

std::vector<std::string> changed_list(const finding& f) {
  return f.evidence["changed"].get<std::vector<std::string>>();
}

} // namespace

SCENARIO("a check reports exactly the files added, removed and changed since init") {
  pg::test::temp_tree tree;
  tree.write("a.txt", "alpha");
  tree.write("b.txt", "bravo");
  tree.write("sub/c.conf", "charlie");
  tree.write("sub/d.conf", "delta");
  tree.write("skip.swp", "ignored");
  auto rules = rules_for(tree.path(), {"*.swp"});
  baseline_db db(tree.path() + ".db");
  init(rules, db);
  CHECK(db.count() == 6); // root, a, b, sub, sub/c, sub/d (skip.swp excluded)

  GIVEN("no change") {
    THEN("the check is clean") {
      CHECK(check(rules, db).empty());
    }
  }

  GIVEN("one file added, one removed, one rewritten, one chmod'ed") {
    tree.write("new.bin", "echo");
    std::filesystem::remove(tree.path("b.txt"));
    tree.write("a.txt", "ALPHA, rewritten");
    REQUIRE(::chmod(tree.path("sub/c.conf").c_str(), 0600) == 0);
    tree.write("other.swp", "still ignored");

    auto fs = check(rules, db);
    auto added = by_path(fs, "fim.added");
    auto removed = by_path(fs, "fim.removed");
    auto changed = by_path(fs, "fim.changed");
    THEN("each is reported once, with the attributes that changed") {
      CHECK(fs.size() == 4);
      REQUIRE(added.size() == 1);
      CHECK(added.count(tree.path("new.bin")) == 1);
      // sha256 of "echo", as printed by sha256sum
      CHECK(added.begin()->second->evidence["sha256"] ==
            "092c79e8f80e559e404bcf660c48f3522b67aba9ff1484b0367e1a4ddef7431d");
      REQUIRE(removed.size() == 1);
      CHECK(removed.count(tree.path("b.txt")) == 1);
      CHECK(removed.begin()->second->mitre == std::vector<std::string>{"T1070.004"});
      REQUIRE(changed.size() == 2);
      const auto* a = changed.at(tree.path("a.txt"));
      auto a_attrs = changed_list(*a);
      CHECK(std::count(a_attrs.begin(), a_attrs.end(), "sha256") == 1);
      CHECK(std::count(a_attrs.begin(), a_attrs.end(), "size") == 1);
      CHECK(a->evidence["old"]["size"] == "5");
      CHECK(a->evidence["new"]["size"] == "16");
      CHECK(a->level == pg::runtime::severity::high);
      const auto* c = changed.at(tree.path("sub/c.conf"));
      CHECK(changed_list(*c) == std::vector<std::string>{"perms", "ctime"});
      CHECK(c->evidence["old"]["perms"] == "0644");
      CHECK(c->evidence["new"]["perms"] == "0600");
      CHECK(std::count(c->mitre.begin(), c->mitre.end(), "T1222.002") == 1);
    }
    THEN("without --update the baseline is untouched and the next check reports the same") {
      CHECK(check(rules, db).size() == 4);
    }
    THEN("with update each change is reported once") {
      CHECK(check(rules, db, {}, true).size() == 4);
      CHECK(check(rules, db).empty());
    }
  }

  GIVEN("a removed directory") {
    std::filesystem::remove_all(tree.path("sub"));
    auto removed = by_path(check(rules, db), "fim.removed");
    THEN("it and every entry below it are reported") {
      CHECK(removed.size() == 3);
      CHECK(removed.count(tree.path("sub")) == 1);
      CHECK(removed.count(tree.path("sub/c.conf")) == 1);
      CHECK(removed.count(tree.path("sub/d.conf")) == 1);
    }
  }
  remove_db(db.path());
}

SCENARIO("an incremental check hashes only files whose metadata changed") {
  pg::test::temp_tree tree;
  for (int i = 0; i < 50; ++i)
    tree.write("f" + std::to_string(i), std::string(1000 + i, 'x'));
  auto rules = rules_for(tree.path());
  baseline_db db(tree.path() + ".db");
  scan_options opts;
  opts.workers = 2;
  opts.segment_size = 16; // several segments
  fim_scanner first(rules, db, opts);
  first.begin(fim_scanner::mode::init);
  pg::actors::host::collecting_sink ignored;
  REQUIRE(first.run(ignored));
  CHECK(first.stats().hashed == 50);
  CHECK(first.stats().segments >= 3);

  scan_stats stats;
  CHECK(check(rules, db, opts, false, &stats).empty());
  CHECK(stats.hashed == 0);
  CHECK(stats.entries == 51);

  // Same size, new content, mtime moved: only this one is read again.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  tree.write("f7", std::string(1007, 'y'));
  auto fs = check(rules, db, opts, false, &stats);
  CHECK(stats.hashed == 1);
  REQUIRE(fs.size() == 1);
  auto attrs = changed_list(fs[0]);
  CHECK(std::count(attrs.begin(), attrs.end(), "sha256") == 1);
  CHECK(std::count(attrs.begin(), attrs.end(), "size") == 0);

  opts.rehash = rehash_policy::always;
  check(rules, db, opts, false, &stats);
  CHECK(stats.hashed == 50);
  remove_db(db.path());
}

SCENARIO("content replaced behind restored timestamps is caught only with rehash = always") {
  pg::test::temp_tree tree;
  tree.write("bin", "original!");
  auto rules = rules_for(tree.path());
  baseline_db db(tree.path() + ".db");
  init(rules, db);
  struct stat st {};
  REQUIRE(::stat(tree.path("bin").c_str(), &st) == 0);
  tree.write("bin", "tampered!");
  timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, tree.path("bin").c_str(), times, 0) == 0);
  // ctime still moved (it cannot be set from user space), so the default policy rehashes too;
  // both must report the new hash.
  auto fs = check(rules, db);
  REQUIRE(fs.size() == 1);
  auto attrs = changed_list(fs[0]);
  CHECK(std::count(attrs.begin(), attrs.end(), "sha256") == 1);
  CHECK(std::count(attrs.begin(), attrs.end(), "mtime") == 0);
  scan_options always;
  always.rehash = rehash_policy::always;
  CHECK(check(rules, db, always).size() == 1);
  remove_db(db.path());
}

SCENARIO("a corrupt database is refused with its path and the reason") {
  pg::test::temp_tree tree;
  tree.write("garbage.db", std::string(8192, 'G'));
  try {
    baseline_db db(tree.path("garbage.db"));
    FAIL("opened a corrupt database");
  } catch (const baseline_error& e) {
    std::string what = e.what();
    CHECK(what.find("garbage.db") != std::string::npos);
    CHECK(what.find("not a database") != std::string::npos);
  }
}

SCENARIO("a scan killed mid-write leaves a consistent database") {
  pg::test::temp_tree tree;
  for (int i = 0; i < 3000; ++i)
    tree.write("d" + std::to_string(i % 30) + "/f" + std::to_string(i),
               std::string(512, 'a' + i % 26));
  auto rules = rules_for(tree.path());
  std::string db_path = tree.path() + ".db";
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Re-record the baseline over and over, one small transaction per segment, until killed.
    try {
      baseline_db db(db_path);
      scan_options opts;
      opts.segment_size = 16;
      for (;;) {
        fim_scanner s(rules, db, opts);
        s.begin(fim_scanner::mode::init);
        pg::actors::host::collecting_sink ignored;
        s.run(ignored);
      }
    } catch (...) {
    }
    ::_exit(3);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status)); // it was still writing when killed

  baseline_db db(db_path);
  auto n = db.count();
  CHECK(n >= 0);
  CHECK(n <= 3031);
  // Whether or not a full pass had completed, the next init and check work from here.
  init(rules, db);
  CHECK(db.count() == 3031);
  CHECK(check(rules, db).empty());
  remove_db(db_path);
}
