// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "phantomguard/runtime/event.hpp"

using namespace pg::runtime;

SCENARIO("events carry typed fields and travel in shared batches") {
  GIVEN("a process event") {
    event e;
    e.kind = "process";
    e.set("pid", std::int64_t{42}).set("comm", std::string("bash")).set("root", true);
    THEN("typed accessors read the fields and fall back when absent or of another type") {
      CHECK(e.get_int("pid") == 42);
      CHECK(e.get_string("comm") == "bash");
      CHECK(e.get_bool("root"));
      CHECK(e.get_int("comm", -1) == -1);
      CHECK(e.get_string("missing", "x") == "x");
    }
    WHEN("a field is set twice") {
      e.set("pid", std::int64_t{43});
      THEN("the value is replaced, not duplicated") {
        CHECK(e.get_int("pid") == 43);
        CHECK(e.fields.size() == 3);
      }
    }
    WHEN("it is frozen into a batch") {
      auto b = make_batch({e, e});
      THEN("the batch counts its events and bytes") {
        CHECK(b->size() == 2);
        CHECK(b->bytes >= 2 * sizeof(event));
      }
    }
  }
}

SCENARIO("a finding serialises to the stable JSON shape and back") {
  finding f;
  f.time = wall_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  f.host = "h1";
  f.analyzer = "mem";
  f.rule = "memory.memfd_exec";
  f.level = severity::high;
  f.title = "fileless execution";
  f.entity = {{"pid", 42}};
  f.evidence = {{"exe", "/memfd:x (deleted)"}};
  f.mitre = {"T1620"};
  auto j = f.to_json();
  CHECK(j["time"] == "2023-11-14T22:13:20.123Z");
  CHECK(j["severity"] == "high");
  CHECK(j["rule"] == "memory.memfd_exec");
  CHECK(j["entity"]["pid"] == 42);
  auto back = finding::from_json(j);
  REQUIRE(back);
  CHECK(back->time == f.time);
  CHECK(back->level == severity::high);
  CHECK(back->mitre == f.mitre);
  CHECK_FALSE(finding::from_json(nlohmann::json{{"rule", "x"}}));
  CHECK(parse_severity("critical") == severity::critical);
  CHECK_FALSE(parse_severity("severe"));
  CHECK(severity::low < severity::high);
}

SCENARIO(
    "a finding whose time is out of range is refused, not overflowed (found by fuzz_finding)") {
  auto j = nlohmann::json::parse(R"({"time":"202-612-01T00:00:00.123Z","host":"h","analyzer":"a",
    "rule":"r","severity":"high","title":"t","entity":{},"evidence":{},"mitre":[]})");
  CHECK_FALSE(finding::from_json(j));
  j["time"] = "4052-12-01T00:00:00.000Z"; // past what the nanosecond clock holds
  CHECK_FALSE(finding::from_json(j));
  j["time"] = "2026-13-01T00:00:00.000Z";
  CHECK_FALSE(finding::from_json(j));
  j["time"] = "2026-12-01T24:00:00.000Z";
  CHECK_FALSE(finding::from_json(j));
  j["time"] = "2026-12-01T23:59:59.999Z";
  REQUIRE(finding::from_json(j));
  CHECK(format_rfc3339(finding::from_json(j)->time) == "2026-12-01T23:59:59.999Z");
}
