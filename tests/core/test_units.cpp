// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "phantomguard/runtime/units.hpp"

using namespace pg::runtime;
using namespace std::chrono_literals;

SCENARIO("durations are strings with units") {
  GIVEN("the units an operator writes") {
    THEN("each parses to its length") {
      CHECK(parse_duration("250ms") == duration(250ms));
      CHECK(parse_duration("5s") == duration(5s));
      CHECK(parse_duration("10m") == duration(10min));
      CHECK(parse_duration("1.5h") == duration(90min));
      CHECK(parse_duration("2d") == duration(48h));
    }
    THEN("a number without a unit, an unknown unit or garbage is refused") {
      CHECK_FALSE(parse_duration("5"));
      CHECK_FALSE(parse_duration("5 parsecs"));
      CHECK_FALSE(parse_duration("s"));
      CHECK_FALSE(parse_duration("-5s"));
    }
    THEN("printing gives back the shortest exact form") {
      CHECK(format_duration(90min) == "90m");
      CHECK(format_duration(1500ms) == "1500ms");
      CHECK(format_duration(2s) == "2s");
    }
  }
}

SCENARIO("sizes are bytes or numbers with units") {
  CHECK(parse_size("512") == 512u);
  CHECK(parse_size("64KiB") == 64u * 1024);
  CHECK(parse_size("1MB") == 1000000u);
  CHECK(parse_size("1.5GiB") == 1610612736u);
  CHECK_FALSE(parse_size("12 furlongs"));
  CHECK_FALSE(parse_size(""));
  CHECK(format_size(64u * 1024 * 1024) == "64MiB");
  CHECK(format_size(12) == "12B");
}
