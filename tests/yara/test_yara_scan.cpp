// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <set>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "phantomguard/actors/storage/sqlite_handle.hpp"
#include "phantomguard/actors/yara/target_scanner.hpp"
#include "scratch_dir.hpp"
#include "skip.hpp"

using namespace pg::actors::yara;
using pg::runtime::finding;

namespace {

const char* tagged_rule = R"(
rule webshell_marker : webshell php {
  meta:
    description = "test marker"
    severity = "high"
    score = 80
    reviewed = true
  strings:
    $eval = "eval(base64_decode("
    $sys = "system($_GET"
  condition:
    any of them
}
rule plain_marker {
  strings:
    $m = "PG-PLAIN-MARKER"
  condition:
    $m
}
)";

ruleset rules_from(const pg::test::scratch_dir& dir, const std::string& text) {
  auto rs = load_ruleset({dir.write("rules/test.yar", text)});
  REQUIRE(rs.errors.empty());
  REQUIRE(rs.rules);
  return rs;
}

std::vector<finding> scan(target_scanner& s, std::vector<std::string> paths) {
  pg::actors::host::collecting_sink out;
  s.begin(std::move(paths));
  REQUIRE(s.run(out));
  return std::move(out.findings);
}

} // namespace

SCENARIO("a match carries the rule, its tags, its meta and the strings that matched") {
  pg::test::scratch_dir dir;
  auto shell = dir.write("www/shell.php", "<?php eval(base64_decode('ZWNobw==')); ?>");
  dir.write("www/index.html", "<html>hello</html>");
  auto plain = dir.write("www/deep/er/note.txt", "xx PG-PLAIN-MARKER xx");
  target_scanner s(rules_from(dir, tagged_rule), nullptr, {});
  auto fs = scan(s, {dir.path("www")});
  REQUIRE(fs.size() == 2);
  std::sort(fs.begin(), fs.end(),
            [](auto& a, auto& b) { return a.evidence["rule"] < b.evidence["rule"]; });
  const auto& p = fs[0];
  CHECK(p.rule == "yara.match");
  CHECK(p.evidence["rule"] == "plain_marker");
  CHECK(p.entity["path"] == plain);
  CHECK(p.level == pg::runtime::severity::medium);
  const auto& w = fs[1];
  CHECK(w.evidence["rule"] == "webshell_marker");
  CHECK(w.entity["path"] == shell);
  CHECK(w.evidence["tags"] == nlohmann::json::array({"webshell", "php"}));
  CHECK(w.evidence["meta"]["description"] == "test marker");
  CHECK(w.evidence["meta"]["score"] == 80);
  CHECK(w.evidence["meta"]["reviewed"] == true);
  CHECK(w.evidence["strings"] == nlohmann::json::array({"$eval"}));
  CHECK(w.level == pg::runtime::severity::high); // from meta severity
  CHECK(s.totals().files == 3);
  CHECK(s.totals().scanned == 3);
}

SCENARIO("unchanged files are answered from the result cache") {
  pg::test::scratch_dir dir;
  for (int i = 0; i < 30; ++i)
    dir.write("t/f" + std::to_string(i),
              i % 10 == 0 ? "PG-PLAIN-MARKER" : "clean " + std::to_string(i));
  result_cache cache(dir.path("results.db"));
  target_options opts;
  opts.workers = 2;
  opts.segment_size = 16;
  auto rs = rules_from(dir, tagged_rule);

  target_scanner first(rs, &cache, opts);
  CHECK(scan(first, {dir.path("t")}).size() == 3);
  CHECK(first.totals().scanned == 30);
  CHECK(first.totals().cache_hits == 0);
  CHECK(first.totals().segments >= 2);

  target_scanner second(rs, &cache, opts);
  CHECK(scan(second, {dir.path("t")}).size() == 3); // cached matches are still findings
  CHECK(second.totals().scanned == 0);
  CHECK(second.totals().cache_hits == 30);

  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  dir.write("t/f5", "now PG-PLAIN-MARKER too");
  target_scanner third(rs, &cache, opts);
  CHECK(scan(third, {dir.path("t")}).size() == 4);
  CHECK(third.totals().scanned == 1);
  CHECK(third.totals().cache_hits == 29);

  // Another rule set does not reuse these results.
  auto other = load_ruleset({dir.write("rules/other.yar", "rule other { condition: false }")});
  target_scanner fourth(other, &cache, opts);
  CHECK(scan(fourth, {dir.path("t")}).empty());
  CHECK(fourth.totals().scanned == 30);
}

SCENARIO("the result cache holds to its policy: at most max_entries rows, none older than ttl") {
  pg::test::scratch_dir dir;
  for (int i = 0; i < 40; ++i)
    dir.write("t/f" + std::to_string(i),
              i % 10 == 0 ? "PG-PLAIN-MARKER" : "clean " + std::to_string(i));
  result_cache cache(dir.path("results.db"));
  cache.set_policy({25, {}});
  target_options opts;
  opts.segment_size = 16;
  auto rs = rules_from(dir, tagged_rule);
  target_scanner first(rs, &cache, opts);
  CHECK(scan(first, {dir.path("t")}).size() == 4);
  // 40 results stored, 15 pushed out at the end of the pass.
  CHECK(cache.counters().misses == 40);
  CHECK(cache.counters().evictions == 15);
  target_scanner second(rs, &cache, opts);
  CHECK(scan(second, {dir.path("t")}).size() == 4); // findings do not depend on the cache
  CHECK(second.totals().cache_hits == 25);
  CHECK(second.totals().scanned == 15);

  WHEN("the results are older than ttl") {
    pg::actors::storage::database raw(dir.path("results.db"), false);
    raw.exec("UPDATE results SET stored = stored - 7200");
    cache.set_policy({1000, std::chrono::hours(1)});
    target_scanner third(rs, &cache, opts);
    const auto expired_before = cache.counters().expired;
    CHECK(scan(third, {dir.path("t")}).size() == 4);
    CHECK(third.totals().cache_hits == 0); // too old to vouch for the files: all scanned again
    CHECK(third.totals().scanned == 40);
    CHECK(cache.counters().expired - expired_before >= 25);
  }
}

SCENARIO("size limits, exclusions and symlinks") {
  pg::test::scratch_dir dir;
  dir.write("t/big.bin", std::string(5000, 'x') + "PG-PLAIN-MARKER");
  dir.write("t/small.txt", "PG-PLAIN-MARKER");
  dir.write("t/skip.log", "PG-PLAIN-MARKER");
  dir.write("t/cache/inner.txt", "PG-PLAIN-MARKER");
  auto outside = dir.write("outside.txt", "PG-PLAIN-MARKER");
  std::filesystem::create_symlink(outside, dir.path("t/link.txt"));
  std::filesystem::create_symlink(".", dir.path("t/loop")); // like /usr/bin/X11 -> .
  std::filesystem::create_symlink(dir.path("t/cache"), dir.path("t/cache-link"));
  target_options opts;
  opts.max_file_size = 1000;
  opts.exclude = {"*.log", "re:/t/cache$"};
  target_scanner s(rules_from(dir, tagged_rule), nullptr, opts);
  auto fs = scan(s, {dir.path("t")});
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].entity["path"] == dir.path("t/small.txt"));
  CHECK(s.totals().skipped >= 3);

  opts.follow_symlinks = true;
  opts.max_file_size = 0;
  opts.exclude.clear();
  target_scanner follow(rules_from(dir, tagged_rule), nullptr, opts);
  // big, small, skip.log, cache/inner.txt and link.txt; directory symlinks are not descended
  CHECK(scan(follow, {dir.path("t")}).size() == 5);
}

SCENARIO("a marker in another process's memory is found by a process scan") {
  if (::geteuid() != 0) {
    PG_SKIP("not root: ptrace on another process may be refused; skipped");
  }
  pg::test::scratch_dir dir;
  // The marker is assembled at run time and only handed to the child (in its command line,
  // which /bin/sh keeps in its heap and stack); the rule holds it in hex so this process's own
  // image does not contain it as text either way.
  std::string marker = "PGMARK-";
  for (char c : std::string("memory-scan"))
    marker += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string hex;
  for (unsigned char c : marker) {
    char b[4];
    std::snprintf(b, sizeof b, "%02X ", c);
    hex += b;
  }
  auto rs =
      rules_from(dir, "rule in_memory { strings: $m = { " + hex +
                          "} condition: $m }\n"
                          "rule absent { strings: $n = \"PGMARK-NOT-THERE\" condition: $n }\n");
  std::string script = "sleep 30; : " + marker;
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setpgid(0, 0); // its own group, so that the sleep it forks dies with it
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200)); // let exec happen
  target_scanner s(rs, nullptr, {});
  pg::actors::host::collecting_sink sink;
  std::string error;
  bool ok = s.scan_process(child, sink, &error);
  const auto& fs = sink.findings;
  ::kill(-child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  INFO(error);
  REQUIRE(ok);
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].evidence["rule"] == "in_memory");
  CHECK(fs[0].entity["pid"] == child);
  CHECK(fs[0].entity["exe"] == std::filesystem::canonical("/bin/sh").string());

  std::string gone_error;
  pg::actors::host::collecting_sink none;
  CHECK_FALSE(s.scan_process(child, none, &gone_error)); // reaped: no such process
  CHECK_FALSE(gone_error.empty());
}

SCENARIO("a folder that vanishes during the walk is skipped, and the rest of the tree is scanned") {
  // What a busy /tmp does: a test, a build, a package manager removes its folder while the
  // scan is in the middle of the tree. Before, the walk of the whole target stopped there.
  pg::test::scratch_dir dir;
  for (int i = 0; i < 40; ++i)
    dir.write("t/a/f" + std::to_string(i), "clean " + std::to_string(i));
  for (int i = 0; i < 5; ++i)
    dir.write("t/b/sub" + std::to_string(i) + "/x", "PG-PLAIN-MARKER in b");
  dir.write("t/c/late", "PG-PLAIN-MARKER in c");
  target_options opts;
  opts.segment_size = 16;
  auto rs = rules_from(dir, tagged_rule);
  target_scanner scanner(rs, nullptr, opts);
  scanner.begin({dir.path("t")});
  pg::actors::host::collecting_sink sink;
  auto& found = sink.findings;
  bool removed = false;
  // After the first segment (16 of a's files), b and its sub-folders go away.
  while (!scanner.step(sink)) {
    if (!removed) {
      std::filesystem::remove_all(dir.path("t/b"));
      removed = true;
    }
  }
  REQUIRE(removed);
  std::set<std::string> paths;
  for (const auto& f : found)
    paths.insert(f.entity.value("path", ""));
  CHECK(paths.count(dir.path("t/c/late")) == 1);
  CHECK(scanner.totals().errors == 0); // a vanished folder is not an error
  CHECK(scanner.totals().files >= 41);
}
