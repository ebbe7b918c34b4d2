// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "phantomguard/actors/yara/register.hpp"
#include "phantomguard/actors/yara/yara_command.hpp"
#include "scratch_dir.hpp"
#include "skip.hpp"

using namespace pg::actors::yara;
namespace fs = std::filesystem;

namespace {

using match_set = std::set<std::pair<std::string, std::string>>; // (rule, path)

std::string run_shell(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
  std::string out;
  std::array<char, 4096> buf{};
  while (p && std::fgets(buf.data(), buf.size(), p.get()))
    out += buf.data();
  return out;
}

struct result {
  int code;
  std::string out;
  std::string err;
};

result run(std::vector<std::string> args) {
  args.insert(args.begin(), "phantomguard yara");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  std::ostringstream out, err;
  int code = run_yara_command(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

match_set from_jsonl(const std::string& text) {
  match_set out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) {
      auto j = nlohmann::json::parse(line);
      out.emplace(j["evidence"]["rule"].get<std::string>(), j["entity"]["path"].get<std::string>());
    }
  return out;
}

// `yara` prints "RULE PATH" per match.
match_set from_yara(const std::string& text) {
  match_set out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto sp = line.find(' ');
    if (sp != std::string::npos)
      out.emplace(line.substr(0, sp), line.substr(sp + 1));
  }
  return out;
}

} // namespace

SCENARIO("the same matches as the yara command on the public capabilities rules") {
  const std::string index = PG_SHARED_DIR "/corpus/yara-rules/capabilities_index.yar";
  if (!fs::exists("/usr/bin/yara") || !fs::exists(index)) {
    PG_SKIP("yara (Debian package) or the shared rule corpus missing; skipped");
  }
  pg::test::scratch_dir dir;
  // A few real binaries (copied: the set must not depend on what else /usr/bin holds) ...
  fs::create_directories(dir.path("t/bin"));
  for (const char* bin : {"/usr/bin/ssh", "/usr/bin/perlbug", "/usr/bin/ls", "/usr/bin/cp",
                          "/usr/bin/sqlite3", "/usr/bin/yara", "/usr/bin/git"})
    if (fs::is_regular_file(bin))
      fs::copy_file(bin, dir.path("t/bin/") + fs::path(bin).filename().string());
  // ... and crafted files for rules the binaries may not hit.
  dir.write("t/crafted/mailer.txt", "HELO x\r\nMAIL FROM: <a@b>\r\nRCPT TO: <c@d>\r\n");
  dir.write("t/crafted/listener.txt", "uses Ws2_32.dll: bind() then listen() then accept()");
  dir.write("t/crafted/preload.c", "dlsym fopen fopen64 opendir readdir unlink rmdir accept");
  dir.write("t/crafted/clean.txt", "nothing interesting");
  dir.write("t/crafted/empty", "");

  auto theirs =
      from_yara(run_shell("yara -w -r '" + index + "' '" + dir.path("t") + "' 2>/dev/null"));
  REQUIRE(theirs.size() >= 3);
  auto r = run({"--rules", index, "--no-cache", "--format", "jsonl", dir.path("t")});
  INFO(r.err);
  CHECK(r.code == 0); // matches are medium; --fail-on high
  auto ours = from_jsonl(r.out);
  CHECK(ours == theirs);
  CHECK(ours.count({"network_smtp_raw", dir.path("t/crafted/mailer.txt")}) == 1);
  CHECK(ours.count({"ldpreload", dir.path("t/crafted/preload.c")}) == 1);

  WHEN("run again with a cache") {
    auto first = run({"--rules", index, "--cache-dir", dir.path("cache"), "--stats", "--format",
                      "jsonl", dir.path("t")});
    auto second = run({"--rules", index, "--cache-dir", dir.path("cache"), "--stats", "--format",
                       "jsonl", dir.path("t")});
    THEN("the second run compiles nothing, scans nothing and reports the same") {
      CHECK(first.err.find("(compiled, from cache)") == std::string::npos);
      CHECK(second.err.find("(compiled, from cache)") != std::string::npos);
      CHECK(second.err.find(", scanned 0,") != std::string::npos);
      CHECK(from_jsonl(second.out) == theirs);
    }
  }
}

SCENARIO("the yara command's errors and exit codes") {
  pg::test::scratch_dir dir;
  auto good = dir.write("r/good.yar", "rule hit { strings: $a = \"HIT-ME\" condition: $a }\n");
  auto bad = dir.write("r/bad.yar", "rule oops {\n condition:\n  undefined_thing\n}\n");
  dir.write("t/a.txt", "please HIT-ME");
  GIVEN("one broken rule file among good ones") {
    auto r = run({"--rules", dir.path("r"), "--no-cache", "--fail-on", "medium", "--format",
                  "jsonl", dir.path("t")});
    THEN("the error names file and line, and the good rules still match") {
      CHECK(r.err.find(bad + ":3: error:") != std::string::npos);
      CHECK(r.code == 1);
      CHECK(from_jsonl(r.out) == match_set{{"hit", dir.path("t/a.txt")}});
    }
  }
  GIVEN("only broken rules") {
    auto r = run({"--rules", bad, "--no-cache", dir.path("t")});
    CHECK(r.code == 2);
    CHECK(r.err.find("no rule file could be loaded") != std::string::npos);
  }
  GIVEN("the README's order: --rules R PATH...") {
    // An option takes one value: the paths after it are paths, not more rule files.
    auto second =
        dir.write("r2/other.yar", "rule other { strings: $a = \"please\" condition: $a }\n");
    auto r = run({"--rules", good, dir.path("t/a.txt"), "--no-cache", "--format", "jsonl"});
    CHECK(r.code == 0);
    CHECK(from_jsonl(r.out) == match_set{{"hit", dir.path("t/a.txt")}});
    auto both = run({"-r", good, "-r", second, dir.path("t"), "--no-cache", "--format", "jsonl"});
    CHECK(from_jsonl(both.out) ==
          match_set{{"hit", dir.path("t/a.txt")}, {"other", dir.path("t/a.txt")}});
    auto only_rules = run({"--rules", good, "--no-cache"});
    CHECK(only_rules.code == 2);
    CHECK(only_rules.err.find("nothing to scan") != std::string::npos);
  }
  GIVEN("nothing to scan or a bad option") {
    CHECK(run({"--rules", good}).code == 2);
    CHECK(run({"--rules", good, "--format", "xml", dir.path("t")}).code == 2);
    CHECK(run({"--rules", good, "--max-size", "lots", dir.path("t")}).code == 2);
  }
  GIVEN("a process that does not exist") {
    auto r = run({"--rules", good, "--no-cache", "--pid", "999999"});
    CHECK(r.code == 2);
    CHECK(r.err.find("999999") != std::string::npos);
  }
  GIVEN("a corrupt result cache") {
    dir.write("cache/results.db", std::string(4096, 'Z'));
    auto r = run(
        {"--rules", good, "--cache-dir", dir.path("cache"), "--format", "jsonl", dir.path("t")});
    THEN("it is reported and the scan still runs without it") {
      CHECK(r.err.find("not a database") != std::string::npos);
      CHECK(from_jsonl(r.out) == match_set{{"hit", dir.path("t/a.txt")}});
    }
  }
}

SCENARIO("the family registers the yara analyzer type and command") {
  pg::runtime::registry reg;
  register_components(reg);
  const auto* t = reg.find(pg::runtime::component_kind::analyzer, "yara");
  REQUIRE(t);
  std::set<std::string> keys;
  for (const auto& o : t->options)
    keys.insert(o.key);
  for (const char* k : {"rules", "paths", "workers", "segment_size", "max_memory", "max_file_size",
                        "exclude", "scan_processes"})
    CHECK(keys.count(k) == 1);
  // Priority is the engine's (nice, io_class for every component); the type ships lowered.
  for (const char* k : {"nice", "io_class", "io_level"})
    CHECK(keys.count(k) == 0);
  CHECK(t->throttle_defaults.nice == 10);
  CHECK(t->throttle_defaults.io_class == "idle");
  CHECK(reg.find_command("yara"));
}
