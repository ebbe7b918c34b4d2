// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "phantomguard/actors/fim/fim_analyzer.hpp"
#include "phantomguard/actors/storage/sqlite_handle.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "temp_tree.hpp"
#include "test_context.hpp"

using namespace pg::actors::fim;
using namespace std::chrono_literals;

namespace {

pg::runtime::component_init make_init(const pg::test::temp_tree& tree, const std::string& extra) {
  std::string text =
      "rules = [{ path = \"" + tree.path("watched") + "\", exclude = [\"*.tmp\"] }]\n" + extra;
  pg::runtime::component_init init;
  init.name = "fim";
  init.settings = pg::runtime::component_settings(toml::parse(text));
  init.state_dir = tree.path("state");
  return init;
}

} // namespace

SCENARIO("the analyzer records a baseline on its first tick and reports changes after") {
  pg::test::temp_tree tree;
  for (int i = 0; i < 40; ++i)
    tree.write("watched/file" + std::to_string(i), "content " + std::to_string(i));
  fim_analyzer fim(make_init(tree, "segment_size = 16\nworkers = 2\n"));
  pg::test::test_context ctx("fim");
  fim.start(ctx);
  CHECK(std::filesystem::exists(tree.path("state/fim/fim.db")));

  WHEN("the first tick runs") {
    fim.on_tick(ctx);
    THEN("the baseline is recorded, with one info finding and no change findings") {
      REQUIRE(ctx.findings.size() == 1);
      CHECK(ctx.findings[0].rule == "fim.baseline");
      CHECK(ctx.findings[0].evidence["entries"] == 41);
      CHECK(ctx.counters["files_hashed"] == 40);
      CHECK(ctx.counters["segments"] >= 3);
      CHECK(ctx.accounted_memory == 0); // what the tick accounted is given back
    }
    AND_WHEN("a file changes and the next tick runs") {
      ctx.findings.clear();
      tree.write("watched/file3", "changed content");
      tree.write("watched/scratch.tmp", "excluded");
      fim.on_tick(ctx);
      THEN("exactly that change is reported, and only that file is hashed again") {
        REQUIRE(ctx.findings.size() == 1);
        CHECK(ctx.findings[0].rule == "fim.changed");
        CHECK(ctx.findings[0].entity["path"] == tree.path("watched/file3"));
        CHECK(ctx.findings[0].analyzer == "fim");
        CHECK(ctx.counters["files_hashed"] == 41);
      }
      AND_WHEN("a third tick runs") {
        ctx.findings.clear();
        fim.on_tick(ctx);
        THEN("the change, not accepted, is reported again") {
          REQUIRE(ctx.findings.size() == 1);
          CHECK(ctx.findings[0].rule == "fim.changed");
          CHECK(ctx.findings[0].entity["path"] == tree.path("watched/file3"));
        }
      }
    }
  }
}

SCENARIO("a pass stopped between segments resumes on the next tick") {
  pg::test::temp_tree tree;
  for (int i = 0; i < 100; ++i)
    tree.write("watched/f" + std::to_string(i), std::to_string(i));
  fim_analyzer fim(make_init(tree, "segment_size = 16\n"));
  pg::test::test_context ctx("fim");
  fim.start(ctx);
  ctx.stop_requested = true;
  fim.on_tick(ctx);
  CHECK(ctx.findings.empty()); // interrupted: no baseline yet
  CHECK(ctx.counters["segments"] == 1);
  ctx.stop_requested = false;
  fim.on_tick(ctx);
  REQUIRE(ctx.findings.size() == 1);
  CHECK(ctx.findings[0].rule == "fim.baseline");
  CHECK(ctx.findings[0].evidence["entries"] == 101);
  CHECK(ctx.counters["files_hashed"] == 100); // nothing hashed twice
}

SCENARIO("in real-time mode a change becomes a finding within a second") {
  pg::test::temp_tree tree;
  tree.write("watched/etc/passwd", "root:x:0:0");
  fim_analyzer fim(make_init(tree, "realtime = true\nfull_scan_interval = \"1h\"\n"));
  pg::test::test_context ctx("fim");
  fim.start(ctx);
  fim.on_tick(ctx); // baseline
  REQUIRE(ctx.findings.size() == 1);
  ctx.findings.clear();

  auto reported = [&](const std::string& rule, const std::string& path) {
    for (const auto* f : ctx.with_rule(rule))
      if (f->entity["path"] == path)
        return true;
    return false;
  };
  auto wait_for = [&](const std::string& rule, const std::string& path) {
    auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < 1s) {
      fim.on_tick(ctx); // the engine ticks the analyzer; here every 20 ms
      if (reported(rule, path))
        return std::chrono::steady_clock::now() - start;
      std::this_thread::sleep_for(20ms);
    }
    return std::chrono::steady_clock::duration::max();
  };

  tree.write("watched/etc/shadow", "root:*:");
  CHECK(wait_for("fim.added", tree.path("watched/etc/shadow")) < 1s);
  CHECK(ctx.findings.size() == 1);

  // A new directory tree: the watch on it is added when it appears, and what was created in
  // it before the watch existed is still reported.
  tree.write("watched/etc/new/dir/file", "deep");
  CHECK(wait_for("fim.added", tree.path("watched/etc/new/dir/file")) < 1s);
  CHECK(reported("fim.added", tree.path("watched/etc/new")));
  CHECK(reported("fim.added", tree.path("watched/etc/new/dir")));

  tree.write("watched/etc/shadow", "root:$6$changed:");
  CHECK(wait_for("fim.changed", tree.path("watched/etc/shadow")) < 1s);

  std::filesystem::remove(tree.path("watched/etc/passwd"));
  CHECK(wait_for("fim.removed", tree.path("watched/etc/passwd")) < 1s);
  CHECK(ctx.with_rule("fim.removed").size() == 1);
  CHECK(ctx.with_rule("fim.added").size() == 4);
}

SCENARIO("an unusable database refuses the component with the reason") {
  pg::test::temp_tree tree;
  tree.write("not-a-dir", "file");
  fim_analyzer fim(make_init(tree, "database = \"" + tree.path("not-a-dir/fim.db") + "\"\n"));
  pg::test::test_context ctx("fim");
  try {
    fim.start(ctx);
    FAIL("started with an unusable database");
  } catch (const pg::runtime::component_refused& e) {
    CHECK(e.rule() == "fim.database");
    CHECK(std::string(e.what()).find("not-a-dir/fim.db") != std::string::npos);
  }
}

SCENARIO("a bad rule refuses the component at construction") {
  pg::test::temp_tree tree;
  pg::runtime::component_init init;
  init.name = "fim";
  init.settings = pg::runtime::component_settings(toml::parse("rules = [{ path = \"etc\" }]"));
  CHECK_THROWS_AS(fim_analyzer(init), pg::runtime::component_refused);
}

SCENARIO("the analyzer checks its baseline against the seal: tampered or deleted is a finding") {
  pg::test::temp_tree tree;
  tree.write("watched/passwd", "root:x:0:0\n");
  {
    fim_analyzer fim(make_init(tree, ""));
    pg::test::test_context ctx("fim");
    fim.start(ctx);
    fim.on_tick(ctx); // baseline and seal
    fim.stop(ctx);
  }
  std::string db = tree.path("state/fim/fim.db");
  REQUIRE(std::filesystem::exists(db + ".seal"));
  GIVEN("the baseline edited to hide a change") {
    tree.write("watched/passwd", "root:x:0:0\nevil:x:0:0\n");
    {
      pg::actors::storage::database raw(db, false);
      raw.exec("UPDATE entries SET sha256 = 'cafe' WHERE path LIKE '%/passwd'");
    }
    fim_analyzer fim(make_init(tree, ""));
    pg::test::test_context ctx("fim");
    fim.start(ctx);
    auto t = ctx.with_rule("fim.baseline_tampered");
    REQUIRE(t.size() == 1);
    CHECK(t[0]->level == pg::runtime::severity::critical);
    CHECK(t[0]->evidence["sealed_entries"] == 2);
    fim.on_tick(ctx); // the next pass: the same state is not reported twice
    CHECK(ctx.with_rule("fim.baseline_tampered").size() == 1);
  }
  GIVEN("the baseline deleted") {
    std::filesystem::remove(db);
    fim_analyzer fim(make_init(tree, ""));
    pg::test::test_context ctx("fim");
    fim.start(ctx);
    auto m = ctx.with_rule("fim.baseline_missing");
    REQUIRE(m.size() == 1);
    CHECK(m[0]->evidence["sealed_entries"] == 2);
    fim.on_tick(ctx); // re-recorded, said, and sealed again
    CHECK(ctx.with_rule("fim.baseline").size() == 1);
    fim_analyzer again(make_init(tree, ""));
    pg::test::test_context ctx2("fim");
    again.start(ctx2);
    CHECK(ctx2.findings.empty());
  }
  GIVEN("update_baseline = true: the engine's own writes re-seal") {
    fim_analyzer fim(make_init(tree, "update_baseline = true\n"));
    pg::test::test_context ctx("fim");
    fim.start(ctx);
    tree.write("watched/passwd", "root:x:0:0\nnew:x:1000:1000\n");
    fim.on_tick(ctx);
    CHECK(ctx.with_rule("fim.changed").size() == 1);
    fim.on_tick(ctx);
    CHECK(ctx.with_rule("fim.changed").size() == 1); // recorded: once
    CHECK(ctx.with_rule("fim.baseline_tampered").empty());
  }
}

SCENARIO("a baseline that deletes left mostly empty is compacted at start, and its seal holds") {
  pg::test::temp_tree tree;
  const std::string padding(200, 'p');
  for (int i = 0; i < 3000; ++i)
    tree.write("watched/" + padding.substr(0, 60) + std::to_string(i),
               "content " + std::to_string(i));
  const std::string db = tree.path("state/fim/fim.db");
  {
    fim_analyzer fim(make_init(tree, "update_baseline = true\n"));
    pg::test::test_context ctx("fim");
    fim.start(ctx);
    fim.on_tick(ctx); // the baseline of 3001 entries, and its seal
    for (int i = 0; i < 2800; ++i)
      std::filesystem::remove(tree.path("watched/" + padding.substr(0, 60) + std::to_string(i)));
    ctx.findings.clear();
    fim.on_tick(ctx); // 2800 removals, taken into the baseline and sealed
    CHECK(ctx.with_rule("fim.removed").size() == 2800);
    fim.stop(ctx);
  }
  const auto before = std::filesystem::file_size(db);
  fim_analyzer fim(make_init(tree, "update_baseline = true\n"));
  pg::test::test_context ctx("fim");
  fim.start(ctx);
  CHECK(ctx.counters["state_compacted_bytes"] > 0);
  CHECK(std::filesystem::file_size(db) < before);
  // VACUUM rewrote the file, not its entries: the seal still vouches for it.
  CHECK(ctx.with_rule("fim.baseline_tampered").empty());
  CHECK(ctx.with_rule("fim.baseline_missing").empty());
  fim.on_tick(ctx);
  CHECK(ctx.with_rule("fim.changed").empty());
  CHECK(ctx.with_rule("fim.removed").empty());
}
