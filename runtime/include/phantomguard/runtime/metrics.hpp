// SPDX-License-Identifier: Apache-2.0
// metrics.hpp — a point-in-time copy of the metrics registry (counters, gauges, histograms per
// component). The live registry lives in the engine; this is what callers get to read.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pg::runtime {

struct histogram_snapshot {
  std::uint64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  /// Cumulative counts: {upper bound, how many were <= it}, ascending (the last bound is +Inf).
  std::vector<std::pair<double, std::uint64_t>> buckets;
};

struct component_metrics {
  std::string name; // component name, or "engine"
  std::map<std::string, std::int64_t>
      counters; // events_in, events_out, dropped_<reason>, restarts ...
  std::map<std::string, double>
      gauges; // queued_events, queued_bytes, memory_bytes, cpu_percent ...
  std::map<std::string, histogram_snapshot> histograms; // handler_latency_us ...
  std::string paused_because; // the adaptive throttle holds its work: why ("" when it does not)
};

struct metrics_snapshot {
  std::vector<component_metrics> components;

  [[nodiscard]] const component_metrics* find(const std::string& name) const {
    for (const auto& c : components)
      if (c.name == name)
        return &c;
    return nullptr;
  }
  /// The counter, or 0 when the component or counter does not exist.
  [[nodiscard]] std::int64_t counter(const std::string& component, const std::string& name) const {
    if (const auto* c = find(component))
      if (auto it = c->counters.find(name); it != c->counters.end())
        return it->second;
    return 0;
  }
};

} // namespace pg::runtime
