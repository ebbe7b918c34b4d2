// SPDX-License-Identifier: Apache-2.0
// The http sink's presets, checked against each collector's request format: Splunk HEC's
// stacked events, Elasticsearch's _bulk action/document pairs, Loki's push streams.
#include <catch2/catch.hpp>

#include <sstream>

#include "phantomguard/actors/sink/http_sink.hpp"

using namespace pg::actors::sink;
using pg::runtime::finding;
using pg::runtime::severity;

namespace {

finding sample(int i, severity s = severity::high) {
  finding f;
  f.time = pg::runtime::wall_clock::time_point(std::chrono::milliseconds(1764547200000 + i));
  f.host = "web-1";
  f.analyzer = "process";
  f.rule = "memory.memfd_exec";
  f.level = s;
  f.title = "finding " + std::to_string(i);
  return f;
}

http_sink_settings preset(const std::string& name) {
  http_sink_settings s;
  s.url = "http://collector/";
  s.preset = name;
  return s;
}

std::vector<std::string> lines(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

} // namespace

SCENARIO("splunk_hec: stacked HEC event objects with time, host, source, sourcetype and event") {
  const auto s = preset("splunk_hec");
  const auto [body, type] =
      http_sink::body({http_sink::record(sample(1), s), http_sink::record(sample(2), s)}, s);
  CHECK(type == "application/json");
  const auto ls = lines(body);
  REQUIRE(ls.size() == 2);
  for (const auto& l : ls) {
    const auto j = nlohmann::json::parse(l);
    CHECK(j["time"].is_number());
    CHECK(j["time"].get<double>() == Approx(1764547200.0).epsilon(1e-6));
    CHECK(j["host"] == "web-1");
    CHECK(j["source"] == "phantomguard");
    CHECK(j["sourcetype"] == "phantomguard:finding");
    CHECK(j["event"]["rule"] == "memory.memfd_exec");
    CHECK(j["event"]["id"].get<std::string>().size() == 32);
  }
}

SCENARIO("elasticsearch: _bulk pairs, each create action carrying the document's id") {
  auto s = preset("elasticsearch");
  s.schema = finding_schema::ecs;
  const auto [body, type] =
      http_sink::body({http_sink::record(sample(1), s), http_sink::record(sample(2), s)}, s);
  CHECK(type == "application/x-ndjson");
  CHECK(body.back() == '\n'); // _bulk wants the final newline
  const auto ls = lines(body);
  REQUIRE(ls.size() == 4);
  for (std::size_t i = 0; i < ls.size(); i += 2) {
    const auto action = nlohmann::json::parse(ls[i]);
    const auto doc = nlohmann::json::parse(ls[i + 1]);
    REQUIRE(action.contains("create"));
    CHECK(action["create"]["_id"] == doc["event"]["id"]); // a redelivery is a 409, not a copy
    CHECK(doc["ecs"]["version"] == "8.11.0");
  }
}

SCENARIO("loki: one stream per label set, values as [nanoseconds, line]") {
  const auto s = preset("loki");
  const auto [body, type] = http_sink::body({http_sink::record(sample(1, severity::high), s),
                                             http_sink::record(sample(2, severity::low), s),
                                             http_sink::record(sample(3, severity::high), s)},
                                            s);
  CHECK(type == "application/json");
  const auto j = nlohmann::json::parse(body);
  REQUIRE(j["streams"].size() == 2);
  const auto& high = j["streams"][0];
  CHECK(high["stream"]["job"] == "phantomguard");
  CHECK(high["stream"]["host"] == "web-1");
  CHECK(high["stream"]["severity"] == "high");
  REQUIRE(high["values"].size() == 2);
  CHECK(high["values"][0][0] == "1764547200001000000"); // a string of nanoseconds
  CHECK(nlohmann::json::parse(high["values"][1][1].get<std::string>())["title"] == "finding 3");
  CHECK(j["streams"][1]["stream"]["severity"] == "low");
}

SCENARIO("without a preset, encoding decides: NDJSON lines or one JSON array") {
  auto s = preset("none");
  auto [nd, t1] = http_sink::body({http_sink::record(sample(1), s)}, s);
  CHECK(t1 == "application/x-ndjson");
  CHECK(nlohmann::json::parse(lines(nd)[0])["title"] == "finding 1");
  s.encoding = "json";
  auto [arr, t2] =
      http_sink::body({http_sink::record(sample(1), s), http_sink::record(sample(2), s)}, s);
  CHECK(t2 == "application/json");
  CHECK(nlohmann::json::parse(arr).size() == 2);
}
