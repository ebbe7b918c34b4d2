// SPDX-License-Identifier: Apache-2.0
// test_run.cpp — daemon mode: schedules, draining on request_stop, hot reload, periodic metrics.
#include <catch2/catch.hpp>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "engine_test_support.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using namespace pg::test;

namespace {

pipeline_config run_pipeline() {
  auto cfg = base_config();
  cfg.engine.tick_interval = std::chrono::milliseconds(10);
  cfg.components.push_back(
      decl("dgen", component_kind::source, "generator", {}, toml::table{{"per_tick", 50}}));
  cfg.components.push_back(decl("dpass", component_kind::analyzer, "passthrough", {"dgen"}));
  auto sched = decl("dsched", component_kind::analyzer, "passthrough", {"dgen"});
  sched.schedule.interval = std::chrono::milliseconds(20);
  cfg.components.push_back(sched);
  cfg.components.push_back(decl("dsink", component_kind::sink, "collector", {"dpass"}));
  return cfg;
}

} // namespace

SCENARIO("run ticks on schedule and drains on request_stop", "[engine][run]") {
  register_test_components();
  probe::instance().reset();
  GIVEN("a source every 10 ms, an analyzer without schedule and one every 20 ms") {
    engine eng(run_pipeline());
    WHEN("it runs for 400 ms and is asked to stop") {
      int rc = -1;
      std::chrono::steady_clock::duration stop_took{};
      {
        running_engine run(eng);
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        auto t0 = std::chrono::steady_clock::now();
        rc = run.stop();
        stop_took = std::chrono::steady_clock::now() - t0;
      }
      auto m = eng.metrics();
      THEN("it drained cleanly within the deadline, every stop() ran once, nothing was lost") {
        CHECK(rc == 0);
        CHECK(stop_took < std::chrono::seconds(5));
        CHECK(probe::instance().at("dgen").stops == 1);
        CHECK(probe::instance().at("dpass").stops == 1);
        CHECK(probe::instance().at("dsink").stops == 1);
        CHECK(probe::instance().at("dsink").events == m.counter("dgen", "events_out"));
        CHECK(m.counter("dgen", "edge.dpass.produced") ==
              m.counter("dgen", "edge.dpass.delivered"));
      }
      THEN("sources tick on their interval; analyzers with inputs only when they have a schedule") {
        CHECK(probe::instance().at("dgen").ticks >= 5);
        CHECK(probe::instance().at("dpass").ticks == 0);
        CHECK(probe::instance().at("dsched").ticks >= 3);
      }
    }
  }
}

SCENARIO("reload restarts only what changed and refuses a config it cannot apply",
         "[engine][run][reload]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = run_pipeline();
  cfg.components.push_back(decl("dold", component_kind::sink, "collector", {"dgen"}));
  engine eng(cfg);
  std::mutex mutex;
  std::vector<std::string> rules;
  run_options opts;
  opts.on_finding = [&](const finding& f) {
    std::lock_guard guard{mutex};
    rules.push_back(f.rule);
  };
  running_engine run(eng, opts);
  REQUIRE(eventually([] { return probe::instance().at("dsink").events > 0; }));

  WHEN("the new config names an unknown type") {
    auto broken = cfg;
    broken.components.push_back(decl("dnew", component_kind::sink, "no_such_sink", {"dgen"}));
    auto diags = eng.reload(broken);
    THEN("the reload is refused with a diagnostic and nothing changes") {
      REQUIRE(diags.size() == 1);
      CHECK(diags[0].message.find("no_such_sink") != std::string::npos);
      CHECK(eventually([&] {
        std::lock_guard guard{mutex};
        return std::count(rules.begin(), rules.end(), "engine.reload_failed") == 1;
      }));
      auto before = probe::instance().at("dsink").events.load();
      CHECK(eventually([&] { return probe::instance().at("dsink").events > before; }));
      CHECK(probe::instance().at("dsink").starts == 1);
      CHECK(probe::instance().at("dnew").starts == 0);
    }
  }
  WHEN("the new config loads, but a changed component would not start") {
    auto next = cfg;
    for (auto& d : next.components)
      if (d.name == "dsink") // its factory refuses: what validate and run would both say
        d.settings = component_settings(toml::table{{"fail_factory", "refuse"}});
    next.components.push_back(decl("dnew", component_kind::sink, "collector", {"dgen"}));
    auto diags = eng.reload(next);
    THEN("the running graph stays whole and engine.reload_failed says why") {
      REQUIRE(diags.size() == 1);
      CHECK(diags[0].message == "[sinks.dsink] would not start: factory of dsink refused");
      CHECK(eventually([&] {
        std::lock_guard guard{mutex};
        return std::count(rules.begin(), rules.end(), "engine.reload_failed") == 1;
      }));
      auto before = probe::instance().at("dsink").events.load();
      CHECK(eventually([&] { return probe::instance().at("dsink").events > before; }));
      CHECK(probe::instance().at("dsink").starts == 1); // the old instance, never stopped
      CHECK(probe::instance().at("dsink").stops == 0);
      CHECK(probe::instance().at("dnew").starts == 0); // nothing of the new config started
      CHECK(eng.metrics().find("dnew") == nullptr);
    }
  }
  WHEN("one sink's settings change, one sink is removed and one is added") {
    auto next = cfg;
    next.components.pop_back(); // dold removed
    for (auto& d : next.components)
      if (d.name == "dsink")
        d.settings = component_settings(toml::table{{"sleep_us", 10}});
    next.components.push_back(decl("dnew", component_kind::sink, "collector", {"dgen"}));
    auto diags = eng.reload(next);
    REQUIRE(diags.empty());
    THEN("only the changed one restarts, the removed one stops, the new one receives events") {
      CHECK(eventually([] { return probe::instance().at("dnew").events > 0; }));
      CHECK(eventually([] { return probe::instance().at("dold").stops == 1; }));
      CHECK(probe::instance().at("dsink").starts == 2);
      CHECK(probe::instance().at("dgen").starts == 1);
      CHECK(probe::instance().at("dpass").starts == 1);
      auto before = probe::instance().at("dsink").events.load();
      CHECK(eventually([&] { return probe::instance().at("dsink").events > before; }));
      auto stop_rc = run.stop();
      CHECK(stop_rc == 0);
      std::lock_guard guard{mutex};
      CHECK(std::count(rules.begin(), rules.end(), "engine.reloaded") == 1);
    }
  }
}

SCENARIO("run logs the metrics every metrics_interval", "[engine][run][metrics]") {
  register_test_components();
  probe::instance().reset();
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  spdlog::set_default_logger(logger);
  {
    auto cfg = run_pipeline();
    cfg.engine.metrics_interval = std::chrono::milliseconds(50);
    engine eng(cfg);
    running_engine run(eng);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    run.stop();
  }
  spdlog::set_default_logger(previous);
  auto text = out.str();
  CHECK(text.find("metrics dgen: in=0 out=") != std::string::npos);
  CHECK(text.find("metrics dsink:") != std::string::npos);
}

SCENARIO("a cron-scheduled component waits for its hour, an interval one starts at once",
         "[engine][run]") {
  register_test_components();
  probe::instance().reset();
  auto cfg = base_config();
  auto nightly = decl("nightly", component_kind::source, "generator", {}, toml::table{{"per_tick", 1}});
  // 03:00 on 1 January: never while the test runs (unless it runs then, which it checks).
  nightly.schedule.cron = "0 3 1 1 *";
  cfg.components.push_back(nightly);
  auto often = decl("often", component_kind::source, "generator", {}, toml::table{{"per_tick", 1}});
  often.schedule.interval = std::chrono::milliseconds(50);
  cfg.components.push_back(often);
  cfg.components.push_back(decl("sink", component_kind::sink, "collector", {"nightly", "often"}));
  engine eng(cfg);
  {
    running_engine run(eng);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(run.stop() == 0);
  }
  CHECK(probe::instance().at("often").ticks >= 2);
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  if (!(utc.tm_mon == 0 && utc.tm_mday == 1 && utc.tm_hour == 3 && utc.tm_min == 0))
    CHECK(probe::instance().at("nightly").ticks == 0);
}
