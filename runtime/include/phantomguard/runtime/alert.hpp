// SPDX-License-Identifier: Apache-2.0
// alert.hpp — threshold alerts, the one mechanism behind `[alerts.NAME]` (engine and host
// metrics, evaluated by the engine) and host_health's realtime.*_high findings:
//   - a value crosses its threshold and stays there for `for` -> raised, with a severity by the
//     ratio value / threshold (>= 1.1 medium, >= 1.2 high, >= 1.5 critical, below low);
//   - while raised, a worse band -> escalated;
//   - it clears only below threshold * (1 - hysteresis) -> cleared (so a value hovering at the
//     threshold does not flap).
// Plus the host samplers both use (CPU jiffies, memory, disk use), so each is read one way.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/units.hpp"

namespace pg::runtime {

/// Severity bands on ratio = value / threshold: [1, medium) low, [medium, high) medium,
/// [high, critical) high, >= critical critical.
struct severity_bands {
  double medium = 1.1;
  double high = 1.2;
  double critical = 1.5;
  friend bool operator==(const severity_bands&, const severity_bands&) = default;
};

severity severity_for_ratio(double ratio, const severity_bands& bands = {});

class threshold_tracker {
public:
  enum class transition { none, raised, escalated, cleared };

  threshold_tracker(double threshold, double hysteresis, severity_bands bands = {},
                    duration sustained = duration::zero())
      : threshold_(threshold), hysteresis_(hysteresis), bands_(bands), for_(sustained) {}

  /// Feeds one sample taken at `now`. `raised` once it has been at or above the threshold for
  /// `for` (at once when `for` is zero), `escalated` when already raised and the severity grew,
  /// `cleared` when it fell below the clear level.
  transition update(double value,
                    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

  [[nodiscard]] bool active() const noexcept { return active_; }
  [[nodiscard]] severity level() const noexcept { return level_; }
  [[nodiscard]] double threshold() const noexcept { return threshold_; }
  [[nodiscard]] double clear_level() const noexcept { return threshold_ * (1.0 - hysteresis_); }
  [[nodiscard]] double ratio(double value) const noexcept {
    return threshold_ > 0 ? value / threshold_ : 0.0;
  }

private:
  double threshold_;
  double hysteresis_;
  severity_bands bands_;
  duration for_;
  bool active_ = false;
  std::optional<std::chrono::steady_clock::time_point> above_since_;
  severity level_ = severity::info;
};

/// The metrics an alert can watch, and the default thresholds of the monitoring guide.
///   host.cpu_percent        busy share of all CPUs, percent            (default 85)
///   host.memory_percent     (MemTotal - MemAvailable) / MemTotal       (default 90)
///   host.disk_percent       used share of `path` as df counts it       (default 95)
///   host.load_per_cpu       1-minute load average / online CPUs        (no default)
///   engine.cpu_percent      CPU of every component, percent of a core  (no default)
///   engine.memory_percent   resident set / [engine] quota.memory_mb    (default 90)
///   engine.memory_bytes     resident set                               (no default)
///   engine.events_lost_per_second   events lost (all causes)           (no default)
///   engine.restarts_per_minute      component restarts                 (no default)
///   component.cpu_percent, component.memory_bytes, component.queued_events,
///   component.handler_latency_seconds (p99), component.events_lost_per_second,
///   component.restarts_per_minute: of `component` (a name, or "*" for each one)
const std::vector<std::string_view>& alert_metrics();
std::optional<double> default_alert_threshold(std::string_view metric);

/// `[alerts.NAME]`.
struct alert_decl {
  std::string name;
  std::string metric;
  std::string component = "*"; // component.* metrics
  std::string path = "/";      // host.disk_percent
  double threshold = 0;
  duration sustained = duration::zero(); // `for`
  double hysteresis = 0.1;
  severity_bands bands;
  bool enabled = true;
  friend bool operator==(const alert_decl&, const alert_decl&) = default;
};

// -- host samplers ----------------------------------------------------------------------------

/// Jiffies of the "cpu" line of /proc/stat: busy and total.
struct cpu_times {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};
std::optional<cpu_times> parse_cpu_times(const std::string& proc_stat_text);

/// Used memory percent from /proc/meminfo text (MemAvailable, or MemFree+Buffers+Cached).
std::optional<double> parse_memory_percent(const std::string& meminfo_text);

/// Used share of the file system holding `path`, as df counts it (reserved blocks are full);
/// nullopt with errno set when statvfs fails.
std::optional<double> disk_used_percent(const std::string& path);

} // namespace pg::runtime
