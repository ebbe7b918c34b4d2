// SPDX-License-Identifier: Apache-2.0
// test_flow.cpp — credit-based flow control: conservation per policy under a slow sink, bounded
// queues under a million events, backpressure through an analyzer, drop findings with hysteresis.
#include <catch2/catch.hpp>

#include "skip.hpp"

#include <mutex>

#include "engine_test_support.hpp"
#include "test_components.hpp"

using namespace pg::runtime;
using namespace pg::test;

namespace {

const char* reason_of(overflow_policy p) {
  switch (p) {
  case overflow_policy::drop_newest:
    return "newest";
  case overflow_policy::drop_oldest:
    return "oldest";
  case overflow_policy::sample:
    return "sampled";
  case overflow_policy::block:
    return "";
  }
  return "";
}

} // namespace

SCENARIO("every event is accounted for under each overflow policy", "[engine][flow]") {
  register_test_components();
  auto policy = GENERATE(overflow_policy::block, overflow_policy::drop_newest,
                         overflow_policy::drop_oldest, overflow_policy::sample);
  probe::instance().reset();
  GIVEN(std::string("a source 20000 events at once into a slow sink, policy ") +
        std::string(to_string(policy))) {
    auto cfg = base_config();
    cfg.components.push_back(
        decl("fgen", component_kind::source, "generator", {}, toml::table{{"per_tick", 20000}}));
    auto sink =
        decl("fsink", component_kind::sink, "collector", {"fgen"}, toml::table{{"sleep_us", 300}});
    sink.mailbox.window_events = 256;
    sink.mailbox.window_bytes = 1 << 20;
    sink.mailbox.policy = policy;
    sink.mailbox.sample_every = 10;
    cfg.components.push_back(sink);
    WHEN("the scan completes") {
      engine eng(cfg);
      scan_options opts;
      opts.timeout = std::chrono::seconds(30);
      auto report = eng.scan(opts);
      const auto& m = report.metrics;
      auto produced = m.counter("fgen", "edge.fsink.produced");
      auto delivered = m.counter("fgen", "edge.fsink.delivered");
      auto dropped = edge_dropped(m, "fgen", "fsink");
      THEN("produced = delivered + dropped, nothing left queued, and the sink saw exactly the "
           "delivered events") {
        CHECK_FALSE(report.timed_out);
        CHECK(produced == 20000);
        CHECK(produced == delivered + dropped);
        CHECK(gauge(m, "fgen", "edge.fsink.queued_events") == 0);
        CHECK(gauge(m, "fgen", "edge.fsink.pending_events") == 0);
        CHECK(probe::instance().at("fsink").events == delivered);
        CHECK(gauge(m, "fgen", "edge.fsink.max_queued_events") <= 256);
        CHECK(count_rule(report.findings, "engine.edge_congested") >= 1);
      }
      THEN("block loses nothing; the drop policies drop under their own reason and say so") {
        if (policy == overflow_policy::block) {
          CHECK(delivered == 20000);
          CHECK(dropped == 0);
          CHECK(count_rule(report.findings, "engine.events_dropped") == 0);
        } else {
          auto by_reason =
              m.counter("fgen", std::string("edge.fsink.dropped_") + reason_of(policy));
          CHECK(by_reason > 0);
          CHECK(by_reason == dropped);
          CHECK(count_rule(report.findings, "engine.events_dropped") >= 1);
          // Hysteresis: one drop finding per congestion episode, not one per drop.
          CHECK(count_rule(report.findings, "engine.events_dropped") <=
                count_rule(report.findings, "engine.edge_congested"));
          CHECK(probe::instance().at("fsink").engine_findings >= 1);
        }
        if (policy == overflow_policy::sample) {
          // Thinned to 1 in 10 while full, then bounded by the held window like drop_oldest.
          CHECK(delivered >= 256);
          CHECK(m.counter("fgen", "edge.fsink.dropped_sampled") > 20000 / 2);
        }
      }
    }
  }
}

SCENARIO("a million events into a sleeping sink stay within the window", "[engine][flow]") {
  PG_SKIP_UNDER_SANITIZER("its shadow memory and quarantine make RSS figures meaningless");
  register_test_components();
  probe::instance().reset();
  GIVEN("a generator of 1,000,000 events and a sink that sleeps 2 ms per batch (drop_newest)") {
    auto cfg = base_config();
    cfg.engine.tick_interval = std::chrono::milliseconds(1);
    cfg.components.push_back(decl("mgen", component_kind::source, "generator", {},
                                  toml::table{{"per_tick", 20000}, {"total", 1000000}}));
    auto sink =
        decl("msink", component_kind::sink, "collector", {"mgen"}, toml::table{{"sleep_us", 2000}});
    sink.mailbox.window_events = 1024;
    sink.mailbox.window_bytes = 512 * 1024;
    sink.mailbox.policy = overflow_policy::drop_newest;
    cfg.components.push_back(sink);
    WHEN("all million have been produced") {
      auto rss_before = rss_bytes();
      std::int64_t rss_peak = rss_before;
      double max_seen_queued = 0;
      engine eng(cfg);
      {
        running_engine run(eng);
        bool all = eventually(
            [&] {
              auto m = eng.metrics();
              max_seen_queued = std::max(max_seen_queued, gauge(m, "msink", "queued_events"));
              rss_peak = std::max(rss_peak, rss_bytes());
              return m.counter("mgen", "edge.msink.produced") >= 1000000;
            },
            std::chrono::seconds(30));
        REQUIRE(all);
        CHECK(run.stop() == 0);
      }
      auto m = eng.metrics();
      THEN("queued events and bytes never exceeded the window, and memory stayed flat") {
        CHECK(max_seen_queued <= 1024);
        CHECK(gauge(m, "mgen", "edge.msink.max_queued_events") <= 1024);
        CHECK(gauge(m, "mgen", "edge.msink.max_queued_bytes") <= 512 * 1024);
        CHECK(rss_peak - rss_before < 48ll * 1024 * 1024);
      }
      THEN("all of them are accounted for") {
        auto produced = m.counter("mgen", "edge.msink.produced");
        CHECK(produced == 1000000);
        CHECK(produced == m.counter("mgen", "edge.msink.delivered") +
                              m.counter("mgen", "edge.msink.dropped_newest"));
        CHECK(m.counter("mgen", "edge.msink.dropped_newest") > 900000);
      }
    }
  }
}

SCENARIO("block backpressure propagates through an analyzer to the source", "[engine][flow]") {
  register_test_components();
  probe::instance().reset();
  GIVEN("source -> passthrough -> slow sink, all edges block") {
    auto cfg = base_config();
    cfg.engine.tick_interval = std::chrono::milliseconds(1);
    cfg.components.push_back(
        decl("bgen", component_kind::source, "generator", {}, toml::table{{"per_tick", 256}}));
    auto pass = decl("bpass", component_kind::analyzer, "passthrough", {"bgen"});
    pass.mailbox.window_events = 512;
    cfg.components.push_back(pass);
    auto sink = decl("bsink", component_kind::sink, "collector", {"bpass"},
                     toml::table{{"sleep_us", 2000}});
    sink.mailbox.window_events = 512;
    cfg.components.push_back(sink);
    WHEN("it runs for a second and drains") {
      auto rss_before = rss_bytes();
      engine eng(cfg);
      int rc = 0;
      {
        running_engine run(eng);
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        rc = run.stop();
      }
      auto m = eng.metrics();
      THEN("the source skipped ticks, nothing was dropped, and no queue outgrew its window") {
        CHECK(rc == 0);
        CHECK(m.counter("bgen", "skipped_ticks") > 0);
        CHECK(edge_dropped(m, "bgen", "bpass") == 0);
        CHECK(edge_dropped(m, "bpass", "bsink") == 0);
        CHECK(gauge(m, "bgen", "edge.bpass.max_queued_events") <= 512);
        CHECK(gauge(m, "bpass", "edge.bsink.max_queued_events") <= 512);
        CHECK(m.counter("bgen", "edge.bpass.produced") ==
              m.counter("bgen", "edge.bpass.delivered"));
        CHECK(m.counter("bpass", "edge.bsink.produced") ==
              m.counter("bpass", "edge.bsink.delivered"));
        CHECK(probe::instance().at("bsink").events == m.counter("bgen", "events_out"));
        CHECK(rss_bytes() - rss_before < 32ll * 1024 * 1024);
      }
    }
  }
}
