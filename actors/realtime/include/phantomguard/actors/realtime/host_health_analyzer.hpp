// SPDX-License-Identifier: Apache-2.0
// host_health_analyzer.hpp — the `host_health` analyzer: CPU, memory, load and disk use of the
// host as gauges each tick, and realtime.cpu_high / memory_high / load_high / disk_high when a
// configured threshold is crossed, plus realtime.threshold_cleared (info) when the value is back
// below the clear level. Judged by the engine's alert mechanism (runtime/alert.hpp): the same
// tracker, severity bands, `for` and hysteresis as `[alerts.NAME]`, and its default thresholds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/runtime/alert.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::realtime {

using runtime::severity_bands;
using runtime::threshold_tracker;

struct host_health_settings {
  // The defaults are the alert mechanism's (runtime::default_alert_threshold).
  double cpu_percent = *runtime::default_alert_threshold("host.cpu_percent");       // 85
  double memory_percent = *runtime::default_alert_threshold("host.memory_percent"); // 90
  double load_per_cpu = 2.0; // 1-minute load average divided by the CPU count
  double disk_percent = *runtime::default_alert_threshold("host.disk_percent");     // 95
  std::vector<std::string> disk_paths{"/"};
  double hysteresis = 0.10; // clear below threshold * (1 - hysteresis)
  severity_bands bands;
  runtime::duration sustained = runtime::duration::zero(); // `for`: over the threshold this long
  std::chrono::milliseconds cpu_sample{200}; // first tick: measure CPU over this long
  std::string proc_root = "/proc";

  static host_health_settings from(const runtime::component_settings& s);
};

std::vector<runtime::option_spec> host_health_options();

class host_health_analyzer final : public runtime::component {
public:
  explicit host_health_analyzer(host_health_settings settings);

  void on_tick(runtime::context& ctx) override;

private:
  void judge(runtime::context& ctx, const std::string& resource, const std::string& entity_key,
             const std::string& entity_value, double value, double threshold, const char* unit);

  host_health_settings settings_;
  std::optional<runtime::cpu_times> last_cpu_;
  std::map<std::string, std::unique_ptr<threshold_tracker>> trackers_; // by resource + entity
};

} // namespace pg::actors::realtime
