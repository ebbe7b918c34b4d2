// SPDX-License-Identifier: Apache-2.0
// test_supervision.cpp — OTP supervision: restarts with state carried and edges re-wired,
// intensity, restart types, strategies, backoff, refusals, and hooks that never return.
#include <catch2/catch.hpp>

#include "engine_test_support.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using namespace pg::test;

namespace {

std::vector<std::string> rules_for(const std::vector<finding>& fs, const std::string& component) {
  std::vector<std::string> out;
  for (const auto& f : fs)
    if (f.rule.rfind("engine.", 0) == 0 && f.entity.value("component", "") == component &&
        f.rule.find("edge_") == std::string::npos && f.rule != "engine.events_dropped")
      out.push_back(f.rule);
  return out;
}

pipeline_config two_sinks(toml::table failing, restart_settings rs = {}) {
  auto cfg = base_config();
  cfg.components.push_back(
      decl("gen", component_kind::source, "generator", {}, toml::table{{"per_tick", 640}}));
  auto bad = decl("bad", component_kind::sink, "collector", {"gen"}, std::move(failing));
  bad.restart = rs;
  cfg.components.push_back(bad);
  cfg.components.push_back(decl("good", component_kind::sink, "collector", {"gen"}));
  return cfg;
}

restart_settings fast_restarts(std::uint32_t max_restarts) {
  restart_settings rs;
  rs.backoff = std::chrono::milliseconds(10);
  rs.max_backoff = std::chrono::milliseconds(200);
  rs.max_restarts = max_restarts;
  rs.shutdown_timeout = std::chrono::seconds(1);
  return rs;
}

scan_report scan_of(const pipeline_config& cfg) {
  engine eng(cfg);
  scan_options opts;
  opts.timeout = std::chrono::seconds(30);
  return eng.scan(opts);
}

} // namespace

SCENARIO("a sink that throws every 3rd batch is restarted with its state",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  GIVEN("640 events in batches of 64 into a sink failing on batches 3, 6 and 9") {
    auto report = scan_of(two_sinks(toml::table{{"fail_every", 3}}, fast_restarts(10)));
    const auto& m = report.metrics;
    THEN("three failures, three restarts, each a finding, and the scan completes") {
      CHECK_FALSE(report.timed_out);
      CHECK(m.counter("bad", "failures") == 3);
      CHECK(m.counter("bad", "restarts") == 3);
      CHECK(rules_for(report.findings, "bad") ==
            std::vector<std::string>{"engine.component_failed", "engine.component_restarted",
                                     "engine.component_failed", "engine.component_restarted",
                                     "engine.component_failed", "engine.component_restarted"});
    }
    THEN("snapshot() is carried into restore(), so the count continues across restarts") {
      CHECK(probe::instance().at("bad").restored == 3);
      CHECK(probe::instance().at("bad").last_restored_value == 9);
    }
    THEN("only the poison batches are lost: the unconsumed ones were re-sent to the new instance") {
      CHECK(m.counter("gen", "edge.bad.dropped_failure") == 3 * 64);
      CHECK(m.counter("gen", "edge.bad.delivered") == 640 - 3 * 64);
      CHECK(probe::instance().at("bad").events == 640 - 3 * 64);
      CHECK(m.counter("gen", "edge.bad.produced") ==
            m.counter("gen", "edge.bad.delivered") + edge_dropped(m, "gen", "bad"));
      CHECK(probe::instance().at("good").events == 640);
    }
  }
}

SCENARIO("restart intensity exhausted disables the component, the rest keeps running",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  GIVEN("a sink that fails on every batch, at most 2 restarts per minute") {
    auto report = scan_of(two_sinks(toml::table{{"fail_every", 1}}, fast_restarts(2)));
    THEN("it fails three times and is disabled, not looped") {
      CHECK_FALSE(report.timed_out);
      CHECK(rules_for(report.findings, "bad") ==
            std::vector<std::string>{"engine.component_failed", "engine.component_restarted",
                                     "engine.component_failed", "engine.component_restarted",
                                     "engine.component_failed", "engine.component_disabled"});
      CHECK(report.metrics.counter("bad", "restarts") == 2);
      CHECK(probe::instance().at("good").events == 640);
      // The producer dropped what it still held for the disabled sink, and counted it.
      const auto& m = report.metrics;
      CHECK(m.counter("gen", "edge.bad.produced") ==
            m.counter("gen", "edge.bad.delivered") + edge_dropped(m, "gen", "bad"));
    }
  }
}

SCENARIO("exponential backoff with jitter, reset after a healthy period", "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto backoffs = [](const scan_report& r) {
    std::vector<std::int64_t> out;
    for (const auto& f : r.findings)
      if (f.rule == "engine.component_restarted")
        out.push_back(f.evidence.at("backoff_ms").get<std::int64_t>());
    return out;
  };
  GIVEN("a failing sink with backoff 20 ms, max_backoff 60 ms") {
    auto rs = fast_restarts(4);
    rs.backoff = std::chrono::milliseconds(20);
    rs.max_backoff = std::chrono::milliseconds(60);
    WHEN("it never stays up for healthy_after") {
      auto b = backoffs(scan_of(two_sinks(toml::table{{"fail_every", 1}}, rs)));
      THEN("the delay doubles up to the cap, within +-25% jitter") {
        REQUIRE(b.size() == 4);
        CHECK((b[0] >= 15 && b[0] <= 25));
        CHECK((b[1] >= 30 && b[1] <= 50));
        CHECK((b[2] >= 45 && b[2] <= 75));
        CHECK((b[3] >= 45 && b[3] <= 75));
      }
    }
    WHEN("healthy_after is zero (every run counts as healthy)") {
      rs.healthy_after = std::chrono::milliseconds(0);
      auto b = backoffs(scan_of(two_sinks(toml::table{{"fail_every", 1}}, rs)));
      THEN("every restart starts the backoff over") {
        REQUIRE(b.size() == 4);
        for (auto x : b)
          CHECK((x >= 15 && x <= 25));
      }
    }
  }
}

SCENARIO("a refused component is disabled at once and never restarted", "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto where = GENERATE(std::string("fail_start"), std::string("fail_factory"));
  GIVEN("a sink whose " + where + " throws component_refused") {
    auto report = scan_of(two_sinks(toml::table{{where, "refuse"}}, fast_restarts(5)));
    THEN("one finding with the refusal's rule, no restart, the rest of the pipeline ran") {
      CHECK_FALSE(report.timed_out);
      CHECK(rules_for(report.findings, "bad") == std::vector<std::string>{"engine.plugin_refused"});
      CHECK(report.metrics.counter("bad", "restarts") == 0);
      CHECK(probe::instance().at("good").events == 640);
      for (const auto& f : report.findings)
        if (f.rule == "engine.plugin_refused")
          CHECK(f.title.find("refused") != std::string::npos);
    }
  }
}

SCENARIO("a component that throws in start() is retried, then disabled", "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto report = scan_of(two_sinks(toml::table{{"fail_start", "throw"}}, fast_restarts(2)));
  CHECK_FALSE(report.timed_out);
  CHECK(probe::instance().at("bad").starts == 3);
  CHECK(rules_for(report.findings, "bad").back() == "engine.component_disabled");
  CHECK(probe::instance().at("good").events == 640);
}

SCENARIO("restart types: temporary is never restarted, transient is on failure",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto rs = fast_restarts(5);
  WHEN("temporary") {
    rs.type = restart_type::temporary;
    auto report = scan_of(two_sinks(toml::table{{"fail_every", 2}}, rs));
    CHECK_FALSE(report.timed_out);
    CHECK(rules_for(report.findings, "bad") ==
          std::vector<std::string>{"engine.component_failed", "engine.component_stopped"});
    CHECK(report.metrics.counter("bad", "restarts") == 0);
    CHECK(probe::instance().at("good").events == 640);
  }
  WHEN("transient") {
    rs.type = restart_type::transient;
    auto report = scan_of(two_sinks(toml::table{{"fail_every", 4}}, rs));
    CHECK(report.metrics.counter("bad", "restarts") == 2);
  }
}

SCENARIO("strategies decide which siblings restart with a failing component",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  auto strategy = GENERATE(restart_strategy::one_for_one, restart_strategy::one_for_all,
                           restart_strategy::rest_for_one);
  GIVEN(std::string("strategy ") + std::string(to_string(strategy))) {
    // Declaration (= start) order: gen, bad, good. `bad` fails once.
    auto cfg = two_sinks(toml::table{{"fail_every", 5}}, fast_restarts(5));
    cfg.components[1].restart.max_restarts = 1;
    cfg.engine.strategy = strategy;
    auto report = scan_of(cfg);
    CHECK_FALSE(report.timed_out);
    auto good_starts = probe::instance().at("good").starts.load();
    auto gen_starts = probe::instance().at("gen").starts.load();
    CHECK(probe::instance().at("bad").starts >= 2);
    switch (strategy) {
    case restart_strategy::one_for_one:
      CHECK(good_starts == 1);
      CHECK(gen_starts == 1);
      break;
    case restart_strategy::one_for_all:
      CHECK(good_starts >= 2);
      CHECK(gen_starts >= 2);
      break;
    case restart_strategy::rest_for_one:
      CHECK(good_starts >= 2);
      CHECK(gen_starts == 1);
      break;
    }
  }
}

SCENARIO("a hook that never returns is abandoned and replaced, then disabled",
         "[engine][supervision][quota]") {
  register_test_components();
  probe::instance().reset();
  GIVEN("a sink that hangs in on_batch, handler_timeout 150 ms") {
    auto cfg = two_sinks(toml::table{{"hang", true}}, fast_restarts(5));
    cfg.components[1].quota.handler_timeout = std::chrono::milliseconds(150);
    auto report = scan_of(cfg);
    THEN("the watchdog's findings come in order: restart, then disable; the scan completes") {
      CHECK_FALSE(report.timed_out);
      CHECK(rules_for(report.findings, "bad") ==
            std::vector<std::string>{"engine.quota_restart", "engine.quota_disable"});
      for (const auto& f : report.findings)
        if (f.rule == "engine.quota_restart") {
          CHECK(f.evidence.at("quota") == "handler_timeout");
          CHECK(f.evidence.at("measured").get<double>() >= 150.0);
          CHECK(f.evidence.at("limit").get<double>() == Approx(150.0));
        }
      CHECK(probe::instance().at("bad").starts == 2);
      CHECK(probe::instance().at("good").events == 640);
      const auto& m = report.metrics;
      CHECK(m.counter("gen", "edge.bad.dropped_timeout") >= 64);
      CHECK(m.counter("gen", "edge.bad.produced") ==
            m.counter("gen", "edge.bad.delivered") + edge_dropped(m, "gen", "bad"));
    }
  }
}

SCENARIO("in run mode a restarted producer is re-wired and its consumer keeps receiving",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  GIVEN("gen (every 5 ms) -> bad (fails every 10th batch) and good, one_for_all") {
    auto cfg = base_config();
    cfg.engine.tick_interval = std::chrono::milliseconds(5);
    cfg.engine.strategy = restart_strategy::one_for_all;
    cfg.components.push_back(
        decl("rgen", component_kind::source, "generator", {}, toml::table{{"per_tick", 64}}));
    auto bad =
        decl("rbad", component_kind::sink, "collector", {"rgen"}, toml::table{{"fail_every", 10}});
    bad.restart = fast_restarts(50);
    cfg.components.push_back(bad);
    cfg.components.push_back(decl("rgood", component_kind::sink, "collector", {"rgen"}));
    engine eng(cfg);
    std::int64_t after_first_restart = 0;
    int rc = 0;
    {
      running_engine run(eng);
      REQUIRE(eventually([&] { return probe::instance().at("rgen").starts >= 2; }));
      after_first_restart = probe::instance().at("rgood").events;
      REQUIRE(eventually([&] { return probe::instance().at("rgen").starts >= 3; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      rc = run.stop();
    }
    auto m = eng.metrics();
    THEN("both sinks kept receiving from the new producer instances and the edges balance") {
      CHECK(rc == 0);
      CHECK(probe::instance().at("rgood").events > after_first_restart);
      CHECK(probe::instance().at("rgood").starts >= 3);
      for (const char* c : {"rbad", "rgood"}) {
        std::string e = std::string("edge.") + c + ".";
        CHECK(m.counter("rgen", e + "produced") ==
              m.counter("rgen", e + "delivered") + edge_dropped(m, "rgen", c));
      }
    }
  }
}

SCENARIO("a sibling that does not stop within shutdown_timeout is killed and restarted",
         "[engine][supervision]") {
  register_test_components();
  probe::instance().reset();
  GIVEN("one_for_all; `bad` fails once; `good` takes 600 ms in stop(), deadline 100 ms") {
    auto cfg = two_sinks(toml::table{{"fail_every", 5}}, fast_restarts(1));
    cfg.engine.strategy = restart_strategy::one_for_all;
    cfg.components[2].settings = component_settings(toml::table{{"stop_sleep_ms", 600}});
    cfg.components[2].restart = fast_restarts(5);
    cfg.components[2].restart.shutdown_timeout = std::chrono::milliseconds(100);
    auto report = scan_of(cfg);
    THEN("the deadline is reported, the sibling is replaced anyway, and the scan completes") {
      CHECK_FALSE(report.timed_out);
      CHECK(rules_for(report.findings, "good").front() == "engine.shutdown_timeout");
      CHECK(probe::instance().at("good").starts >= 2);
    }
  }
}
