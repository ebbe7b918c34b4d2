// SPDX-License-Identifier: Apache-2.0
// test_losses.cpp — events lost outside the edges are never silent: every loss a component
// reports (and every tick the engine skips under block backpressure) is counted by cause and
// raised as engine.events_lost, at once when an episode starts and then at most once per
// loss_report_interval, and the findings add up to the counters.
#include <catch2/catch.hpp>

#include <mutex>

#include "engine_test_support.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using namespace pg::test;
using namespace std::chrono_literals;

namespace {


std::int64_t sum_counts(const std::vector<finding>& fs) {
  std::int64_t n = 0;
  for (const auto& f : fs)
    n += f.evidence.at("count").get<std::int64_t>();
  return n;
}

} // namespace

SCENARIO("a component's losses become engine.events_lost findings with hysteresis",
         "[engine][losses]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  cfg.engine.loss_report_interval = 300ms;
  auto leaky = decl("leaky", component_kind::source, "lifecycle", {},
                    toml::table{{"lose_per_tick", 5}});
  leaky.schedule.interval = 10ms;
  cfg.components.push_back(leaky);
  finding_log log;
  engine eng(cfg);
  {
    running_engine run(eng, log.options());
    // The first loss is raised at once, alone: the episode's start.
    REQUIRE(eventually([&] { return !log.losses("leaky", "test_overflow").empty(); }, 2s));
    std::this_thread::sleep_for(100ms);
    auto early = log.losses("leaky", "test_overflow");
    REQUIRE(early.size() == 1);
    CHECK(early[0].evidence.at("count") == 5);
    CHECK(early[0].evidence.at("episode_start") == true);
    CHECK(early[0].evidence.at("unit") == "events");
    CHECK(early[0].level == severity::medium);
    // Then one per interval with what was lost since: a second in about 300 ms, not a flood.
    std::this_thread::sleep_for(1000ms);
    auto later = log.losses("leaky", "test_overflow");
    CHECK(later.size() >= 3);
    CHECK(later.size() <= 5);
    CHECK(run.stop() == 0);
  }
  // Nothing lost goes unsaid: the findings add up to the counter (the drain flushed the rest).
  auto all = log.losses("leaky", "test_overflow");
  auto m = eng.metrics();
  CHECK(m.counter("leaky", "lost_test_overflow") > 50);
  CHECK(sum_counts(all) == m.counter("leaky", "lost_test_overflow"));
  CHECK(m.counter("leaky", "events_lost") == m.counter("leaky", "lost_test_overflow"));
  CHECK(all.back().evidence.at("total") == m.counter("leaky", "lost_test_overflow"));
}

SCENARIO("a scan reports the losses of its one tick", "[engine][losses]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  cfg.components.push_back(decl("leaky", component_kind::source, "lifecycle", {},
                                toml::table{{"lose_per_tick", 7}}));
  cfg.components.push_back(decl("out", component_kind::sink, "collector", {"leaky"}));
  engine eng(cfg);
  auto report = eng.scan();
  std::vector<const finding*> lost;
  for (const auto& f : report.findings)
    if (f.rule == "engine.events_lost")
      lost.push_back(&f);
  REQUIRE(lost.size() == 1);
  CHECK(lost[0]->evidence.at("count") == 7);
  CHECK(lost[0]->evidence.at("cause") == "test_overflow");
  CHECK(report.metrics.counter("leaky", "events_lost") == 7);
  // The sink received it like any engine finding.
  CHECK(probe::instance().at("out").engine_findings >= 1);
}

SCENARIO("ticks a source skips under block backpressure are raised as losses",
         "[engine][losses]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  cfg.engine.tick_interval = 1ms;
  cfg.engine.loss_report_interval = 200ms;
  cfg.components.push_back(
      decl("bgen", component_kind::source, "generator", {}, toml::table{{"per_tick", 256}}));
  auto sink = decl("bsink", component_kind::sink, "collector", {"bgen"},
                   toml::table{{"sleep_us", 3000}});
  sink.mailbox.window_events = 512;
  cfg.components.push_back(sink);
  finding_log log;
  engine eng(cfg);
  {
    running_engine run(eng, log.options());
    std::this_thread::sleep_for(800ms);
    CHECK(run.stop() == 0);
  }
  auto m = eng.metrics();
  auto skipped = log.losses("bgen", "skipped_tick");
  REQUIRE(m.counter("bgen", "skipped_ticks") > 0);
  REQUIRE_FALSE(skipped.empty());
  CHECK(skipped.front().evidence.at("unit") == "ticks");
  CHECK(sum_counts(skipped) == m.counter("bgen", "skipped_ticks"));
  CHECK(m.counter("bgen", "lost_skipped_tick") == m.counter("bgen", "skipped_ticks"));
  CHECK(skipped.size() <= 8); // hysteresis: hundreds of skipped ticks, a handful of findings
}
