// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/cron.hpp"

#include <charconv>
#include <ctime>
#include <vector>

namespace pg::runtime {

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == sep) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool to_int(std::string_view s, int& out) {
  if (s.empty())
    return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// Parses one field into `bits` (indices lo..hi). Returns an error text or empty.
template <std::size_t N>
std::string parse_field(std::string_view field, int lo, int hi, std::bitset<N>& bits,
                        bool& restricted) {
  restricted = field != "*";
  for (auto part : split(field, ',')) {
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      if (!to_int(part.substr(slash + 1), step) || step <= 0)
        return "bad step in '" + std::string(part) + "'";
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part == "*") {
      // the whole range
    } else if (auto dash = part.find('-'); dash != std::string_view::npos) {
      if (!to_int(part.substr(0, dash), a) || !to_int(part.substr(dash + 1), b))
        return "bad range '" + std::string(part) + "'";
    } else {
      if (!to_int(part, a))
        return "'" + std::string(part) + "' is not a number";
      b = a;
    }
    if (a < lo || b > hi || a > b)
      return "'" + std::string(part) + "' is outside " + std::to_string(lo) + "-" +
             std::to_string(hi);
    for (int v = a; v <= b; v += step)
      bits.set(static_cast<std::size_t>(v));
  }
  return {};
}

} // namespace

std::optional<cron_expr> parse_cron(std::string_view text, std::string* error) {
  std::vector<std::string_view> fields;
  for (auto f : split(text, ' '))
    if (!f.empty())
      fields.push_back(f);
  auto fail = [&](std::string msg) -> std::optional<cron_expr> {
    if (error)
      *error = std::move(msg);
    return std::nullopt;
  };
  if (fields.size() != 5)
    return fail("a cron schedule has 5 fields (minute hour day month weekday), found " +
                std::to_string(fields.size()));
  cron_expr e;
  bool unused = false;
  std::bitset<8> wd;
  static constexpr const char* names[] = {"minute", "hour", "day of month", "month", "day of week"};
  std::string err;
  if (!(err = parse_field(fields[0], 0, 59, e.minutes, unused)).empty())
    return fail(std::string(names[0]) + ": " + err);
  if (!(err = parse_field(fields[1], 0, 23, e.hours, unused)).empty())
    return fail(std::string(names[1]) + ": " + err);
  if (!(err = parse_field(fields[2], 1, 31, e.days, e.days_restricted)).empty())
    return fail(std::string(names[2]) + ": " + err);
  if (!(err = parse_field(fields[3], 1, 12, e.months, unused)).empty())
    return fail(std::string(names[3]) + ": " + err);
  if (!(err = parse_field(fields[4], 0, 7, wd, e.weekdays_restricted)).empty())
    return fail(std::string(names[4]) + ": " + err);
  for (std::size_t i = 0; i < 7; ++i)
    e.weekdays[i] = wd[i];
  if (wd[7])
    e.weekdays.set(0);
  // Days of the month without the weekday alternative must exist in some month chosen
  // ("0 0 31 2 *" would never run, and the engine would wait for it forever).
  if (e.days_restricted && !e.weekdays_restricted) {
    static constexpr int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m)
      for (int d = 1; d <= longest[m] && !possible; ++d)
        possible = e.months[static_cast<std::size_t>(m)] && e.days[static_cast<std::size_t>(d)];
    if (!possible)
      return fail("day of month: no month chosen has such a day, so the schedule never runs");
  }
  return e;
}

wall_clock::time_point next_after(const cron_expr& e, wall_clock::time_point after) {
  auto t = std::chrono::time_point_cast<std::chrono::minutes>(after) + std::chrono::minutes(1);
  // A valid expression matches within 4 years (29 February is the rarest day); the bound is on
  // the time searched, so no expression walks the clock past what a time_point holds.
  const auto limit = t + std::chrono::hours(24 * (4 * 366 + 1));
  while (t < limit) {
    std::time_t tt = wall_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    bool day_ok;
    bool dom = e.days[static_cast<std::size_t>(tm.tm_mday)];
    bool dow = e.weekdays[static_cast<std::size_t>(tm.tm_wday)];
    if (e.days_restricted && e.weekdays_restricted)
      day_ok = dom || dow;
    else
      day_ok = dom && dow;
    if (!e.months[static_cast<std::size_t>(tm.tm_mon + 1)] || !day_ok) {
      // skip to the next day
      t += std::chrono::minutes(24 * 60 - tm.tm_hour * 60 - tm.tm_min);
      continue;
    }
    if (!e.hours[static_cast<std::size_t>(tm.tm_hour)]) {
      t += std::chrono::minutes(60 - tm.tm_min);
      continue;
    }
    if (e.minutes[static_cast<std::size_t>(tm.tm_min)])
      return t;
    t += std::chrono::minutes(1);
  }
  return wall_clock::time_point::max();
}

} // namespace pg::runtime
