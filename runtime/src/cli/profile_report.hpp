// SPDX-License-Identifier: Apache-2.0
// profile_report.hpp — what `phantomguard profile` measured, per component and for the whole
// process, the recommendations drawn from it, and the two ways it is written: JSON for scripts,
// and one self-contained HTML page (inline CSS and SVG charts, no script, no external asset).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/process_usage.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/metrics.hpp"

namespace pg::cli {

struct component_profile {
  std::string name;
  std::string kind;
  std::string type;
  double cpu_seconds = 0;
  double hook_seconds = 0; // wall time inside its hooks (on_tick, on_batch, start, stop)
  std::uint64_t hook_calls = 0;
  double p50_us = 0, p95_us = 0, p99_us = 0, max_us = 0;
  std::int64_t events_in = 0, events_out = 0, findings = 0;
  std::int64_t dropped = 0, lost = 0, restarts = 0, failures = 0;
  double memory_peak_bytes = 0;
  std::int64_t read_bytes = 0, write_bytes = 0, storage_read_bytes = 0;
  std::optional<std::int64_t> cache_hits, cache_misses;
  std::int64_t pauses = 0;
  double paused_seconds = 0;
  std::optional<double> quota_cpu_percent;
  std::optional<std::uint64_t> quota_memory_mb;

  /// hits / (hits + misses), when the component counts both and looked anything up.
  [[nodiscard]] std::optional<double> cache_hit_rate() const;
};

struct recommendation {
  std::string component; // "engine" for the process as a whole
  std::string measured;  // what the figures say
  std::string advice;    // what to change, naming the key
};

struct profile_report {
  std::string version;
  std::string host;
  std::string config; // the file, or "<default>"
  std::string profile;
  std::string mode;    // "scan" or "run"
  std::string started; // UTC, ISO 8601
  double wall_seconds = 0;
  bool timed_out = false;
  process_usage used; // the process's use over the profiled span (deltas)
  std::uint64_t peak_rss_bytes = 0;
  bool peak_from_start = false; // the kernel would not reset the peak: it counts from exec
  std::uint64_t rss_end_bytes = 0;
  std::size_t findings = 0;
  std::vector<component_profile> components; // declaration order
  std::vector<recommendation> recommendations;

  /// CPU of the process not spent by any component: the actor system, the supervisor, the CLI.
  [[nodiscard]] double engine_cpu_seconds() const;
};

/// Fills `components` from the engine's metrics and the declarations, `findings` per component
/// from `findings_by_component`, then draws the recommendations.
void fill_components(profile_report& r, const runtime::pipeline_config& cfg,
                     const runtime::metrics_snapshot& metrics,
                     const std::map<std::string, std::size_t>& findings_by_component);

nlohmann::json to_json(const profile_report& r);
std::string to_html(const profile_report& r);

} // namespace pg::cli
