// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <filesystem>

#include "phantomguard/actors/yara/yara_analyzer.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "scratch_dir.hpp"
#include "test_context.hpp"

using namespace pg::actors::yara;

namespace {

pg::runtime::component_init make_init(const pg::test::scratch_dir& dir,
                                      const std::string& extra = {}) {
  pg::runtime::component_init init;
  init.name = "yara";
  init.state_dir = dir.path("state");
  init.settings = pg::runtime::component_settings(
      toml::parse("rules = [\"" + dir.path("rules") + "\"]\npaths = [\"" + dir.path("target") +
                  "\"]\nsegment_size = 16\nworkers = 2\n" + extra));
  return init;
}

} // namespace

SCENARIO("the yara analyzer scans its paths, reports rule errors and reuses its caches") {
  pg::test::scratch_dir dir;
  dir.write("rules/ok.yar", "rule dropper { strings: $a = \"DROPPER-X\" condition: $a }\n");
  dir.write("rules/bad.yar", "rule bad {\n  condition: nope\n}\n");
  for (int i = 0; i < 40; ++i)
    dir.write("target/f" + std::to_string(i), i == 7 ? "...DROPPER-X..." : "clean");

  pg::test::test_context ctx("yara");
  {
    yara_analyzer yara(make_init(dir));
    yara.start(ctx);
    auto errors = ctx.with_rule("yara.rule_error");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0]->evidence["line"] == 2);
    CHECK(errors[0]->evidence["file"] == dir.path("rules/bad.yar"));
    yara.on_tick(ctx);
    auto hits = ctx.with_rule("yara.match");
    REQUIRE(hits.size() == 1);
    CHECK(hits[0]->entity["path"] == dir.path("target/f7"));
    CHECK(hits[0]->evidence["rule"] == "dropper");
    CHECK(ctx.counters["files_scanned"] == 40);
    CHECK(ctx.counters["segments"] >= 3);
    // What stays accounted is the compiled rule set (libyara's arena), nothing of the scan: the
    // files mapped while they were scanned were given back.
    CHECK(ctx.accounted_memory > 0);
    CHECK(ctx.accounted_memory == static_cast<std::int64_t>(ctx.gauges["rules_bytes"]));
    yara.on_tick(ctx);
    CHECK(ctx.counters["files_scanned"] == 40); // second pass: all from the cache
    CHECK(ctx.counters["cache_hits"] == 40);
    CHECK(ctx.with_rule("yara.match").size() == 2);
  }
  WHEN("the analyzer is restarted with the same state dir") {
    pg::test::test_context again("yara");
    yara_analyzer yara(make_init(dir));
    yara.start(again);
    yara.on_tick(again);
    THEN("the compiled rules and the results come from disk") {
      CHECK(again.counters["rules_cache_hits"] == 1);
      CHECK(again.counters["files_scanned"] == 0);
      CHECK(again.counters["cache_hits"] == 40);
      CHECK(again.with_rule("yara.rule_error").size() == 1);
    }
  }
  WHEN("a rule file changes between ticks") {
    pg::test::test_context again("yara");
    yara_analyzer yara(make_init(dir));
    yara.start(again);
    yara.on_tick(again);
    dir.write("rules/ok.yar", "rule cleaner { strings: $a = \"clean\" condition: $a }\n");
    yara.on_tick(again);
    THEN("the rules are recompiled and every file is scanned with them") {
      CHECK(again.counters["files_scanned"] == 40);
      CHECK(again.with_rule("yara.match").size() == 1 + 39);
    }
  }
}

SCENARIO("the yara analyzer refuses settings it cannot work with") {
  pg::test::scratch_dir dir;
  pg::runtime::component_init init;
  init.name = "yara";
  init.state_dir = dir.path("state");
  init.settings = pg::runtime::component_settings(toml::parse("paths = [\"/tmp\"]"));
  CHECK_THROWS_AS(yara_analyzer(init), pg::runtime::component_refused);

  dir.write("rules/only_bad.yar", "rule {\n");
  yara_analyzer yara(make_init(dir));
  pg::test::test_context ctx("yara");
  try {
    yara.start(ctx);
    FAIL("started without any usable rule");
  } catch (const pg::runtime::component_refused& e) {
    CHECK(e.rule() == "yara.rules");
  }
  CHECK(ctx.with_rule("yara.rule_error").size() == 1);
}
