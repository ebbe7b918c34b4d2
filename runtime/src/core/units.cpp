// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace pg::runtime {

namespace {

// Splits "1.5ms" into 1.5 and "ms". False when there is no leading number.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
    ++i;
  if (i == 0)
    return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc{} || ptr != text.data() + i)
    return false;
  unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  return std::isfinite(number);
}

} // namespace

std::optional<duration> parse_duration(std::string_view text) noexcept {
  double n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit))
    return std::nullopt;
  double ns_per = 0;
  if (unit == "ns")
    ns_per = 1;
  else if (unit == "us")
    ns_per = 1e3;
  else if (unit == "ms")
    ns_per = 1e6;
  else if (unit == "s")
    ns_per = 1e9;
  else if (unit == "m" || unit == "min")
    ns_per = 60e9;
  else if (unit == "h")
    ns_per = 3600e9;
  else if (unit == "d")
    ns_per = 86400e9;
  else
    return std::nullopt;
  double total = n * ns_per;
  if (total > 9.2e18)
    return std::nullopt;
  return duration(static_cast<std::int64_t>(std::llround(total)));
}

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
  double n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit))
    return std::nullopt;
  double mult = 0;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KB")
    mult = 1e3;
  else if (unit == "MB")
    mult = 1e6;
  else if (unit == "GB")
    mult = 1e9;
  else if (unit == "KiB" || unit == "K")
    mult = 1024.0;
  else if (unit == "MiB" || unit == "M")
    mult = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G")
    mult = 1024.0 * 1024 * 1024;
  else
    return std::nullopt;
  double total = n * mult;
  if (total > 1.8e19)
    return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(total));
}

std::string format_duration(duration d) {
  auto ns = d.count();
  struct unit {
    std::int64_t ns;
    const char* name;
  };
  static constexpr unit units[] = {{86400'000'000'000, "d"}, {3600'000'000'000, "h"},
                                   {60'000'000'000, "m"},    {1'000'000'000, "s"},
                                   {1'000'000, "ms"},        {1'000, "us"}};
  for (const auto& u : units) {
    if (ns != 0 && ns % u.ns == 0)
      return std::to_string(ns / u.ns) + u.name;
  }
  for (const auto& u : units) {
    if (ns >= u.ns) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g%s", static_cast<double>(ns) / static_cast<double>(u.ns),
                    u.name);
      return buf;
    }
  }
  return std::to_string(ns) + "ns";
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int i = 0;
  while (v >= 1024.0 && i < 4) {
    v /= 1024.0;
    ++i;
  }
  char buf[32];
  if (i == 0)
    std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.4g%s", v, names[i]);
  return buf;
}

} // namespace pg::runtime
