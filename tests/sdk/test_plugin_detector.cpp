// SPDX-License-Identifier: Apache-2.0
// The component adapter: a plugin's detector driven exactly as the engine drives a component.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "phantomguard/runtime/plugin_detector.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "scratch_dir.hpp"
#include "test_context.hpp"

using namespace pg::runtime;
using pg::test::fixture;
using pg::test::test_context;

namespace {

plugin_request echo_request(toml::table config = {}) {
  plugin_request r;
  r.plugin = fixture("fixture.so");
  r.detector = "echo";
  r.config = std::move(config);
  return r;
}

event process_event(std::int64_t pid, bool flag) {
  event e;
  e.kind = "process";
  e.source = "procfs";
  e.time = wall_clock::time_point(std::chrono::seconds(1700000000));
  e.set("pid", pid).set("comm", std::string("bash")).set("flag", flag);
  return e;
}

event_batch batch_of(std::vector<event> events) {
  event_batch b;
  b.events = std::move(events);
  return b;
}

} // namespace

SCENARIO("a plugin detector turns subscribed events into findings", "[sdk][adapter]") {
  GIVEN("the echo detector with its declared defaults") {
    auto c = make_plugin_component(echo_request());
    test_context ctx("echo1");
    c->start(ctx);
    THEN("what it logged in create is replayed at start") {
      REQUIRE(ctx.logs.size() == 1);
      CHECK(ctx.logs[0] == "echo created with label default-label");
    }
    WHEN("a batch of process events and an unsubscribed socket event arrives") {
      event sock = process_event(99, true);
      sock.kind = "socket";
      c->on_batch(
          batch_of({process_event(1, true), process_event(2, false), sock, process_event(3, true)}),
          ctx);
      THEN("only the subscribed flagged events become findings, with the defaults as evidence") {
        auto found = ctx.with_rule("fixture.flagged");
        REQUIRE(found.size() == 2);
        const finding& f = *found[0];
        CHECK(f.level == severity::medium);
        CHECK(f.title == "flagged event");
        CHECK(f.analyzer == "echo1");
        CHECK(f.entity["pid"] == 1);
        CHECK(f.entity["kind"] == "process");
        CHECK(f.evidence["label"] == "default-label");
        CHECK(f.evidence["threshold"] == 5);
        CHECK(f.evidence["ratio"] == 0.25);
        CHECK(f.evidence["enabled"] == true);
        CHECK(f.evidence["names"] == 2);
        CHECK(f.evidence["source"] == "procfs");
        CHECK(f.evidence["time_ns"] == std::int64_t{1700000000} * 1000000000);
        CHECK(f.mitre == std::vector<std::string>{"T0000"});
        CHECK(found[1]->entity["pid"] == 3);
        CHECK(ctx.counters["echo_events"] == 3);
      }
      AND_WHEN("the timer fires") {
        c->on_tick(ctx);
        THEN("on_timer runs and the plugin's metrics become counters and gauges") {
          REQUIRE(ctx.with_rule("fixture.timer").size() == 1);
          CHECK(ctx.with_rule("fixture.timer")[0]->evidence["events"] == 3);
          CHECK(ctx.counters["echo_seen"] == 3);
          CHECK(ctx.gauges["echo_level"] == 0.5);
        }
      }
      AND_WHEN("it is stopped") {
        c->stop(ctx);
        THEN("drain runs") {
          REQUIRE(ctx.with_rule("fixture.drain").size() == 1);
          CHECK(ctx.with_rule("fixture.drain")[0]->evidence["events"] == 3);
        }
      }
      AND_WHEN("it is restarted with its snapshot") {
        const std::string state = c->snapshot();
        CHECK(state == "3");
        auto replacement = make_plugin_component(echo_request());
        replacement->restore(state);
        test_context ctx2;
        replacement->start(ctx2);
        replacement->stop(ctx2);
        THEN("the new instance carries the state") {
          REQUIRE(ctx2.with_rule("fixture.drain").size() == 1);
          CHECK(ctx2.with_rule("fixture.drain")[0]->evidence["events"] == 3);
        }
      }
    }
    WHEN("a batch holds only unsubscribed kinds") {
      event e = process_event(5, true);
      e.kind = "file_change";
      c->on_batch(batch_of({e}), ctx);
      THEN("the plugin is not called") {
        CHECK(ctx.findings.empty());
        CHECK(ctx.counters.count("echo_events") == 0);
      }
    }
  }
  GIVEN("the echo detector with an operator config") {
    toml::table cfg;
    cfg.insert("threshold", 7);
    cfg.insert("label", "ops");
    cfg.insert("ratio", 1);
    cfg.insert("enabled", false);
    toml::array names;
    names.push_back("q");
    cfg.insert("names", names);
    auto c = make_plugin_component(echo_request(cfg));
    test_context ctx;
    c->on_batch(batch_of({process_event(1, true)}), ctx);
    THEN("the plugin sees the operator's values") {
      REQUIRE(ctx.findings.size() == 1);
      CHECK(ctx.findings[0].evidence["label"] == "ops");
      CHECK(ctx.findings[0].evidence["threshold"] == 7);
      CHECK(ctx.findings[0].evidence["ratio"] == 1.0);
      CHECK(ctx.findings[0].evidence["enabled"] == false);
      CHECK(ctx.findings[0].evidence["names"] == 1);
    }
  }
}

SCENARIO("a detector that fails in create", "[sdk][adapter][failure]") {
  WHEN("its constructor throws") {
    plugin_request r = echo_request();
    r.detector = "throws";
    THEN("the factory fails with the plugin's message, as a failure the supervisor may retry") {
      try {
        make_plugin_component(r);
        FAIL("create succeeded");
      } catch (const component_refused&) {
        FAIL("an exception in create is a failure, not a refusal");
      } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) ==
              "plugin \"org.phantomguard.test.fixture\" detector \"throws\" (" +
                  fixture("fixture.so") +
                  ") failed in create (code 3): fixture: cannot open its rule database");
      }
    }
  }
  WHEN("it rejects its config") {
    plugin_request r = echo_request();
    r.detector = "rejects";
    THEN("the detector is refused, not retried") {
      try {
        make_plugin_component(r);
        FAIL("create succeeded");
      } catch (const component_refused& e) {
        CHECK(e.rule() == "engine.plugin_refused");
        CHECK(std::string(e.what()) ==
              "plugin \"org.phantomguard.test.fixture\" detector \"rejects\" (" +
                  fixture("fixture.so") +
                  ") failed in create (code 2): threshold must be at least 10; fix: correct the "
                  "detector's config");
      }
    }
    AND_WHEN("the config is corrected") {
      r.config.insert("threshold", 10);
      THEN("it is created") {
        CHECK(make_plugin_component(r) != nullptr);
      }
    }
  }
}

SCENARIO("a detector that fails every Nth batch", "[sdk][adapter][failure]") {
  plugin_request r = echo_request();
  r.detector = "flaky";
  r.config.insert("fail_every", 3);
  auto c = make_plugin_component(r);
  test_context ctx;
  int failures = 0;
  std::vector<std::string> messages;
  for (int i = 1; i <= 7; ++i) {
    try {
      c->on_batch(batch_of({process_event(i, false), process_event(i, false)}), ctx);
    } catch (const std::runtime_error& e) {
      ++failures;
      messages.emplace_back(e.what());
    }
  }
  THEN("batches 3 and 6 throw with the plugin's message, the others are handled") {
    CHECK(failures == 2);
    REQUIRE(messages.size() == 2);
    CHECK(messages[0] == "plugin \"org.phantomguard.test.fixture\" detector \"flaky\": on_batch "
                         "failed (code 3): fixture: batch 3 failed");
    CHECK(messages[1] == "plugin \"org.phantomguard.test.fixture\" detector \"flaky\": on_batch "
                         "failed (code 3): fixture: batch 6 failed");
    CHECK(ctx.with_rule("fixture.batch").size() == 5);
    CHECK(ctx.with_rule("fixture.batch").back()->evidence["batch"] == 7);
    CHECK(ctx.with_rule("fixture.batch").back()->evidence["events"] == 2);
    CHECK(ctx.counters["plugin_errors"] == 2);
  }
}

SCENARIO("the engine grants only the declared capabilities", "[sdk][adapter]") {
  plugin_request r = echo_request();
  r.detector = "mute";
  auto c = make_plugin_component(r);
  test_context ctx;
  c->on_batch(batch_of({process_event(1, true)}), ctx);
  THEN("a finding from a detector without the findings capability is denied and counted") {
    CHECK(ctx.findings.empty());
    CHECK(ctx.counters["plugin_findings_denied"] == 1);
    REQUIRE(ctx.logs.size() == 1);
    CHECK(ctx.logs[0] == "denied 1");
    CHECK(c->snapshot().empty()); // no "state" capability: nothing carried
  }
}

SCENARIO("a detector written against the raw C ABI", "[sdk][adapter][c]") {
  plugin_request r;
  r.plugin = fixture("plain_c.so");
  auto c = make_plugin_component(r);
  test_context ctx;
  c->start(ctx);
  c->on_batch(batch_of({process_event(1, false), process_event(2, false), process_event(3, true)}),
              ctx);
  c->on_batch(batch_of({process_event(4, false)}), ctx);
  c->on_tick(ctx); // NULL on_timer: skipped
  c->stop(ctx);
  THEN("its NULL hooks are skipped and its finding arrives") {
    REQUIRE(ctx.findings.size() == 1);
    CHECK(ctx.findings[0].rule == "fixture.c_count");
    CHECK(ctx.findings[0].level == severity::info);
    CHECK(ctx.findings[0].evidence["events"] == 4);
    CHECK(c->snapshot().empty());
  }
}
