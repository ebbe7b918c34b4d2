// SPDX-License-Identifier: Apache-2.0
// cron.hpp — five-field cron expressions ("0 2 * * *") for scheduling analyzers in `run` mode.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "phantomguard/runtime/finding.hpp"

namespace pg::runtime {

/// minute hour day-of-month month day-of-week; each field accepts `*`, numbers, ranges `a-b`,
/// lists `a,b`, and steps `*/n` or `a-b/n`. Day of week 0-7 (0 and 7 are Sunday). As in Vixie
/// cron, when both day fields are restricted a time matches if either matches.
struct cron_expr {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;   // 1..31
  std::bitset<13> months; // 1..12
  std::bitset<7> weekdays; // 0..6, Sunday = 0
  bool days_restricted = false;
  bool weekdays_restricted = false;
};

/// Parses `text`; on failure returns nullopt and, when `error` is given, says which field and why.
std::optional<cron_expr> parse_cron(std::string_view text, std::string* error = nullptr);

/// The first time strictly after `after` (in UTC, whole minutes) that matches `expr`.
wall_clock::time_point next_after(const cron_expr& expr, wall_clock::time_point after);

} // namespace pg::runtime
