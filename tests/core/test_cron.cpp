// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include "phantomguard/runtime/cron.hpp"

using namespace pg::runtime;

namespace {
wall_clock::time_point utc(int y, int mo, int d, int h, int mi) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return wall_clock::from_time_t(timegm(&tm));
}
} // namespace

SCENARIO("cron schedules fire at the next matching minute") {
  GIVEN("a nightly schedule at 02:00") {
    auto e = parse_cron("0 2 * * *");
    REQUIRE(e);
    THEN("the next run after 01:30 is 02:00 the same day, after 02:00 it is the next day") {
      CHECK(next_after(*e, utc(2026, 11, 22, 1, 30)) == utc(2026, 11, 22, 2, 0));
      CHECK(next_after(*e, utc(2026, 11, 22, 2, 0)) == utc(2026, 11, 23, 2, 0));
    }
  }
  GIVEN("every 15 minutes on weekdays") {
    auto e = parse_cron("*/15 * * * 1-5");
    REQUIRE(e);
    THEN("Saturday 2026-11-21 skips to Monday 00:00") {
      CHECK(next_after(*e, utc(2026, 11, 21, 10, 7)) == utc(2026, 11, 23, 0, 0));
      CHECK(next_after(*e, utc(2026, 11, 23, 0, 0)) == utc(2026, 11, 23, 0, 15));
    }
  }
  GIVEN("29 February") {
    auto e = parse_cron("0 0 29 2 *");
    REQUIRE(e);
    CHECK(next_after(*e, utc(2026, 3, 1, 0, 0)) == utc(2028, 2, 29, 0, 0));
  }
  GIVEN("broken expressions") {
    std::string err;
    CHECK_FALSE(parse_cron("0 2 * *", &err));
    CHECK(err.find("5 fields") != std::string::npos);
    CHECK_FALSE(parse_cron("61 * * * *", &err));
    CHECK(err.find("minute") != std::string::npos);
    CHECK_FALSE(parse_cron("* * * * mon", &err));
    CHECK(err.find("day of week") != std::string::npos);
  }
}

SCENARIO("a schedule that can never run is refused, not waited for") {
  // Found by fuzz_cron: "30 2,2 31 2 *" was accepted, and the search for its next run walked
  // the clock past what a time_point holds (signed overflow).
  for (const char* never : {"30 2,2 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30,31 2 *"}) {
    std::string error;
    INFO(never);
    CHECK_FALSE(parse_cron(never, &error).has_value());
    CHECK(error.find("never runs") != std::string::npos);
  }
  // A day that exists in one of the months chosen, or a weekday alternative, is fine.
  CHECK(parse_cron("0 0 31 2,3 *").has_value());
  CHECK(parse_cron("0 0 29 2 *").has_value());
  auto either = parse_cron("0 0 31 2 1"); // the 31st or a Monday: Mondays in February
  REQUIRE(either);
  CHECK(next_after(*either, utc(2027, 2, 1, 12, 0)) == utc(2027, 2, 8, 0, 0));
}
