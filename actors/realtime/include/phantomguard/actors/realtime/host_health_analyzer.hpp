// host_health_analyzer.hpp — the `host_health` analyzer: CPU, memory, load and disk use of the
// host as gauges each tick, and realtime.cpu_high / memory_high / load_high / disk_high when a
// configured threshold is crossed (severity by value / threshold, with hysteresis), plus
// realtime.threshold_cleared (info) when the value is back below the clear level.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/actors/realtime/threshold_tracker.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::realtime {

struct host_health_settings {
  double cpu_percent = 90;    // whole-host busy time, percent
  double memory_percent = 90; // (MemTotal - MemAvailable) / MemTotal, percent
  double load_per_cpu = 2.0;  // 1-minute load average divided by the CPU count
  double disk_percent = 90;   // used / (used + available to unprivileged users), percent
  std::vector<std::string> disk_paths{"/"};
  double hysteresis = 0.10; // clear below threshold * (1 - hysteresis)
  severity_bands bands;
  std::chrono::milliseconds cpu_sample{200}; // first tick: measure CPU over this long
  std::string proc_root = "/proc";

  static host_health_settings from(const runtime::component_settings& s);
};

std::vector<runtime::option_spec> host_health_options();

/// Jiffies of the "cpu" line of /proc/stat: busy and total.
struct cpu_times {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};
std::optional<cpu_times> parse_cpu_times(const std::string& proc_stat_text);

/// Used memory percent from /proc/meminfo text (MemAvailable, or MemFree+Buffers+Cached).
std::optional<double> parse_memory_percent(const std::string& meminfo_text);

class host_health_analyzer final : public runtime::component {
public:
  explicit host_health_analyzer(host_health_settings settings);

  void on_tick(runtime::context& ctx) override;

private:
  void judge(runtime::context& ctx, const std::string& resource, const std::string& entity_key,
             const std::string& entity_value, double value, double threshold, const char* unit);

  host_health_settings settings_;
  std::optional<cpu_times> last_cpu_;
  std::map<std::string, std::unique_ptr<threshold_tracker>> trackers_; // by resource + entity
};

} // namespace pg::actors::realtime
