// SPDX-License-Identifier: Apache-2.0
// The console sink: findings printed as they arrive, everything else ignored.
#include <catch2/catch.hpp>

#include <sstream>

#include <nlohmann/json.hpp>

#include "../support/test_context.hpp"
#include "phantomguard/actors/sink/console_sink.hpp"
#include "sink_events.hpp"

using namespace pg::runtime;
using namespace pg::test;
using pg::actors::sink::console_sink;

namespace {

component_settings settings(const char* toml_text) {
  return component_settings(toml::parse(std::string_view(toml_text)));
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

} // namespace

SCENARIO("the console sink prints findings and ignores other events") {
  GIVEN("format jsonl and a batch with two findings and a process event") {
    std::ostringstream out;
    console_sink sink(settings("format = \"jsonl\""), out);
    test_context ctx("console");
    std::vector<event> events;
    events.push_back(make_finding_event(make_finding(1), "gen"));
    events.push_back(process_event(42));
    events.push_back(make_finding_event(make_finding(2, severity::low), "gen"));
    sink.on_batch(*make_batch(std::move(events)), ctx);
    THEN("two JSON lines come out, in order, and the event is counted as ignored") {
      const auto lines = split_lines(out.str());
      REQUIRE(lines.size() == 2);
      CHECK(nlohmann::json::parse(lines[0])["entity"]["name"] == "0001");
      CHECK(nlohmann::json::parse(lines[1])["severity"] == "low");
      CHECK(ctx.counters["findings_written"] == 2);
      CHECK(ctx.counters["ignored"] == 1);
    }
  }
  GIVEN("min_severity = high") {
    std::ostringstream out;
    console_sink sink(settings("format = \"jsonl\"\nmin_severity = \"high\""), out);
    test_context ctx("console");
    sink.on_batch(
        *findings_batch({make_finding(1, severity::medium), make_finding(2, severity::high),
                         make_finding(3, severity::critical)}),
        ctx);
    THEN("only high and critical findings are printed") {
      const auto lines = split_lines(out.str());
      REQUIRE(lines.size() == 2);
      CHECK(nlohmann::json::parse(lines[0])["severity"] == "high");
      CHECK(nlohmann::json::parse(lines[1])["severity"] == "critical");
      CHECK(ctx.counters["below_min_severity"] == 1);
    }
  }
  GIVEN("the table format and two batches") {
    std::ostringstream out;
    console_sink sink(settings(""), out);
    test_context ctx("console");
    sink.on_batch(*findings_batch({make_finding(1)}), ctx);
    sink.on_batch(*findings_batch({make_finding(2, severity::critical, "second")}), ctx);
    THEN("the header is printed once, then one aligned row per finding") {
      const auto lines = split_lines(out.str());
      REQUIRE(lines.size() == 3);
      CHECK(lines[0].rfind("SEVERITY  RULE", 0) == 0);
      CHECK(lines[1].rfind("high      test.rule", 0) == 0);
      CHECK(lines[1].find("name=0001") == 43);
      CHECK(lines[2].rfind("critical  test.rule", 0) == 0);
      CHECK(lines[2].substr(lines[2].size() - 6) == "second");
    }
  }
  GIVEN("the json format") {
    std::ostringstream out;
    console_sink sink(settings("format = \"json\""), out);
    test_context ctx("console");
    sink.on_batch(*findings_batch({make_finding(7)}), ctx);
    THEN("each finding is an indented JSON object") {
      auto j = nlohmann::json::parse(out.str());
      CHECK(j["rule"] == "test.rule");
      CHECK(j["entity"]["name"] == "0007");
      CHECK(out.str().find("\n  \"") != std::string::npos);
    }
  }
}
