// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/alert.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <sstream>

namespace pg::runtime {

severity severity_for_ratio(double ratio, const severity_bands& b) {
  if (ratio >= b.critical)
    return severity::critical;
  if (ratio >= b.high)
    return severity::high;
  if (ratio >= b.medium)
    return severity::medium;
  return severity::low;
}

threshold_tracker::transition threshold_tracker::update(double value,
                                                        std::chrono::steady_clock::time_point now) {
  if (threshold_ <= 0)
    return transition::none;
  if (!active_) {
    if (value < threshold_) {
      above_since_.reset();
      return transition::none;
    }
    if (!above_since_)
      above_since_ = now;
    if (now - *above_since_ < for_)
      return transition::none; // not sustained yet
    active_ = true;
    level_ = severity_for_ratio(ratio(value), bands_);
    return transition::raised;
  }
  if (value < clear_level()) {
    active_ = false;
    above_since_.reset();
    level_ = severity::info;
    return transition::cleared;
  }
  auto band = severity_for_ratio(ratio(value), bands_);
  if (value >= threshold_ && band > level_) {
    level_ = band;
    return transition::escalated;
  }
  return transition::none;
}

const std::vector<std::string_view>& alert_metrics() {
  static const std::vector<std::string_view> m = {
      "host.cpu_percent",
      "host.memory_percent",
      "host.disk_percent",
      "host.load_per_cpu",
      "engine.cpu_percent",
      "engine.memory_percent",
      "engine.memory_bytes",
      "engine.events_lost_per_second",
      "engine.restarts_per_minute",
      "component.cpu_percent",
      "component.memory_bytes",
      "component.queued_events",
      "component.handler_latency_seconds",
      "component.events_lost_per_second",
      "component.restarts_per_minute",
  };
  return m;
}

std::optional<double> default_alert_threshold(std::string_view metric) {
  if (metric == "host.cpu_percent")
    return 85.0;
  if (metric == "host.memory_percent" || metric == "engine.memory_percent")
    return 90.0;
  if (metric == "host.disk_percent")
    return 95.0;
  return std::nullopt;
}

std::optional<cpu_times> parse_cpu_times(const std::string& text) {
  if (text.rfind("cpu ", 0) != 0)
    return std::nullopt;
  std::istringstream in(text.substr(4, text.find('\n') - 4));
  // user nice system idle iowait irq softirq steal (guest time is already inside user/nice)
  std::uint64_t v[8] = {};
  int n = 0;
  while (n < 8 && in >> v[n])
    ++n;
  if (n < 4)
    return std::nullopt;
  cpu_times t;
  for (int i = 0; i < n; ++i)
    t.total += v[i];
  t.busy = t.total - v[3] - (n > 4 ? v[4] : 0);
  return t;
}

std::optional<double> parse_memory_percent(const std::string& text) {
  std::istringstream in(text);
  std::optional<std::uint64_t> total, available, free_kb, buffers, cached;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string key;
    std::uint64_t value = 0;
    if (!(ls >> key >> value))
      continue;
    if (key == "MemTotal:")
      total = value;
    else if (key == "MemAvailable:")
      available = value;
    else if (key == "MemFree:")
      free_kb = value;
    else if (key == "Buffers:")
      buffers = value;
    else if (key == "Cached:")
      cached = value;
  }
  if (!total || *total == 0)
    return std::nullopt;
  std::uint64_t avail =
      available ? *available : free_kb.value_or(0) + buffers.value_or(0) + cached.value_or(0);
  avail = std::min(avail, *total);
  return 100.0 * static_cast<double>(*total - avail) / static_cast<double>(*total);
}

std::optional<double> disk_used_percent(const std::string& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0)
    return std::nullopt;
  const double used = static_cast<double>(vfs.f_blocks - vfs.f_bfree);
  const double avail = static_cast<double>(vfs.f_bavail);
  if (used + avail <= 0)
    return 0.0;
  return 100.0 * used / (used + avail);
}

} // namespace pg::runtime
