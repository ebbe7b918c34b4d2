// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include "phantomguard/actors/yara/compiled_rules.hpp"
#include "phantomguard/actors/yara/rule_scanner.hpp"
#include "scratch_dir.hpp"

using namespace pg::actors::yara;

namespace {

std::vector<std::string> matched_rules(const ruleset& rs, const std::string& data) {
  rule_scanner scanner(rs.rules, 10, false);
  auto out = scanner.scan_memory(data.data(), data.size());
  REQUIRE(out.ok);
  std::vector<std::string> names;
  for (const auto& m : out.matches)
    names.push_back(m.rule);
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace

SCENARIO("a broken rule file is reported with file and line and the others still load") {
  pg::test::scratch_dir dir;
  dir.write("rules/a_good.yar", "rule first_marker { strings: $a = \"PG-FIRST\" condition: $a }\n");
  // `yara` itself reports: rule "broken" in b_bad.yar(3): undefined identifier "nope"
  auto bad = dir.write("rules/b_bad.yar", "rule broken {\n  condition:\n    nope and\n"
                                          "    true\n}\n");
  dir.write("rules/sub/c_good.yara",
            "rule second_marker { strings: $b = \"PG-SECOND\" condition: $b }\n");
  dir.write("rules/readme.txt", "not a rule file");

  auto rs = load_ruleset({dir.path("rules")});
  REQUIRE(rs.files.size() == 3);
  CHECK(rs.loaded.size() == 2);
  REQUIRE_FALSE(rs.errors.empty()); // libyara may add follow-up errors from the same file
  for (const auto& e : rs.errors)
    CHECK(e.file == bad);
  CHECK(rs.errors[0].line == 3);
  CHECK(rs.errors[0].to_string().rfind(bad + ":3: error: ", 0) == 0);
  REQUIRE(rs.rules);
  CHECK(matched_rules(rs, "xx PG-FIRST yy PG-SECOND") ==
        std::vector<std::string>{"first_marker", "second_marker"});
  CHECK(matched_rules(rs, "nothing here").empty());
}

SCENARIO("two files that clash keep the first and report the second") {
  pg::test::scratch_dir dir;
  auto one = dir.write("one.yar", "rule same { condition: true }\n");
  auto two =
      dir.write("two.yar", "rule other { condition: true }\nrule same { condition: false }\n");
  auto rs = load_ruleset({one, two});
  REQUIRE(rs.rules);
  CHECK(rs.loaded == std::vector<std::string>{one});
  REQUIRE_FALSE(rs.errors.empty());
  CHECK(rs.errors[0].file == two);
  CHECK(rs.errors[0].line == 2);
}

SCENARIO("compiled rules are cached on disk by the hash of their sources") {
  pg::test::scratch_dir dir;
  auto index = dir.write("rules/index.yar", "include \"./inc/part.yar\"\n");
  auto part =
      dir.write("rules/inc/part.yar", "rule part { strings: $p = \"PART-ONE\" condition: $p }\n");
  dir.write("rules/broken.yar", "rule {\n");
  std::string cache = dir.path("cache");

  auto first = load_ruleset({index, dir.path("rules/broken.yar")}, cache);
  REQUIRE(first.rules);
  CHECK_FALSE(first.from_cache);
  CHECK(first.errors.size() == 1);
  auto cached_files = std::distance(std::filesystem::directory_iterator(cache),
                                    std::filesystem::directory_iterator());
  CHECK(cached_files == 2); // the compiled rules and their load report

  auto second = load_ruleset({index, dir.path("rules/broken.yar")}, cache);
  CHECK(second.from_cache);
  CHECK(second.hash == first.hash);
  REQUIRE(second.errors.size() == 1); // the compile error is replayed, not forgotten
  CHECK(second.errors[0].line == first.errors[0].line);
  CHECK(matched_rules(second, "..PART-ONE..") == std::vector<std::string>{"part"});

  // Editing the included file changes the hash: the stale compiled form is not used.
  dir.write("rules/inc/part.yar", "rule part { strings: $p = \"PART-TWO\" condition: $p }\n");
  auto third = load_ruleset({index, dir.path("rules/broken.yar")}, cache);
  CHECK_FALSE(third.from_cache);
  CHECK(third.hash != first.hash);
  CHECK(matched_rules(third, "..PART-ONE..").empty());
  CHECK(matched_rules(third, "..PART-TWO..") == std::vector<std::string>{"part"});
  (void)part;
}

SCENARIO("nothing to load is not a crash") {
  pg::test::scratch_dir dir;
  auto rs = load_ruleset({dir.path("missing.yar")});
  CHECK_FALSE(rs.rules);
  REQUIRE(rs.errors.size() == 1);
  CHECK(rs.errors[0].message.find("cannot open") != std::string::npos);
}
