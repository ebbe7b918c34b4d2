// SPDX-License-Identifier: Apache-2.0
// test_scan.cpp — scan mode end to end: start, tick once, end-of-stream in topological order,
// findings collected and delivered, disabled components left out.
#include <catch2/catch.hpp>

#include "phantomguard/runtime/engine.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using pg::test::decl;
using pg::test::probe;

SCENARIO("a scan runs every component once and drains the graph", "[engine][scan]") {
  pg::test::register_test_components();
  probe::instance().reset();
  GIVEN("generator -> passthrough (emits a finding) -> sink, and a disabled sink") {
    auto cfg = pg::test::base_config();
    cfg.components.push_back(
        decl("s1gen", component_kind::source, "generator", {}, toml::table{{"per_tick", 1000}}));
    cfg.components.push_back(decl("s1pass", component_kind::analyzer, "passthrough", {"s1gen"},
                                  toml::table{{"finding", true}}));
    cfg.components.push_back(decl("s1sink", component_kind::sink, "collector", {"s1pass"}));
    auto off = decl("s1off", component_kind::sink, "collector", {"s1pass"});
    off.enabled = false;
    cfg.components.push_back(off);
    WHEN("the engine scans") {
      engine eng(cfg);
      std::vector<std::string> seen;
      scan_options opts;
      opts.timeout = std::chrono::seconds(20);
      opts.on_finding = [&](const finding& f) { seen.push_back(f.rule); };
      auto report = eng.scan(opts);
      for (const auto& f : report.findings)
        INFO(f.rule << ": " << f.title);
      std::string all;
      for (const auto& f : report.findings)
        all += f.rule + ": " + f.title + "\n";
      INFO(all);
      THEN("every event reaches the sink and every hook ran in order") {
        CHECK_FALSE(report.timed_out);
        CHECK(probe::instance().at("s1sink").events == 1000);
        CHECK(probe::instance().at("s1sink").finding_events == 1);
        CHECK(probe::instance().at("s1gen").ticks == 1);
        CHECK(probe::instance().at("s1pass").ticks == 1);
        CHECK(probe::instance().at("s1gen").stops == 1);
        CHECK(probe::instance().at("s1pass").stops == 1);
        CHECK(probe::instance().at("s1sink").stops == 1);
        CHECK(probe::instance().at("s1off").starts == 0);
      }
      THEN("the finding is in the report, stamped, and was passed to on_finding") {
        REQUIRE(report.findings.size() >= 1);
        const finding* f = nullptr;
        for (const auto& x : report.findings)
          if (x.rule == "test.tick_finding")
            f = &x;
        REQUIRE(f != nullptr);
        CHECK(f->host == "testhost");
        CHECK(f->analyzer == "s1pass");
        CHECK(f->time != wall_clock::time_point{});
        CHECK(std::count(seen.begin(), seen.end(), "test.tick_finding") == 1);
      }
      THEN("metrics count the events on every edge") {
        CHECK(report.metrics.counter("s1gen", "events_out") == 1000);
        CHECK(report.metrics.counter("s1pass", "events_in") == 1000);
        CHECK(report.metrics.counter("s1sink", "events_in") == 1001);
        CHECK(report.metrics.counter("s1gen", "edge.s1pass.produced") == 1000);
        CHECK(report.metrics.counter("s1gen", "edge.s1pass.delivered") == 1000);
        const auto* m = report.metrics.find("s1sink");
        REQUIRE(m != nullptr);
        CHECK(m->histograms.at("handler_latency_us").count > 0);
      }
    }
  }
}
