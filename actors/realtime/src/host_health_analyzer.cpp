// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/realtime/host_health_analyzer.hpp"

#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"

namespace pg::actors::realtime {

namespace {

using runtime::option_spec;
using runtime::option_type;

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(3);
  o << v;
  return o.str();
}

} // namespace

std::vector<option_spec> host_health_options() {
  std::vector<option_spec> v;
  v.push_back({"cpu_percent",
               option_type::floating,
               "85",
               "CPU busy threshold (percent, 0 = off)",
               false,
               0,
               100,
               {}});
  v.push_back({"memory_percent",
               option_type::floating,
               "90",
               "used memory threshold (percent of MemTotal, 0 = off)",
               false,
               0,
               100,
               {}});
  v.push_back({"load_per_cpu",
               option_type::floating,
               "2.0",
               "1-minute load average per CPU threshold (0 = off)",
               false,
               0,
               1000,
               {}});
  v.push_back({"disk_percent",
               option_type::floating,
               "95",
               "used disk threshold (percent, 0 = off)",
               false,
               0,
               100,
               {}});
  v.push_back({"disk_paths",
               option_type::string_list,
               "/",
               "mount points whose use is measured",
               false,
               {},
               {},
               {}});
  v.push_back({"hysteresis",
               option_type::floating,
               "0.1",
               "a raised threshold clears below threshold * (1 - hysteresis)",
               false,
               0,
               0.9,
               {}});
  v.push_back({"ratio_medium",
               option_type::floating,
               "1.1",
               "value / threshold from which a finding is medium (below: low)",
               false,
               1,
               100,
               {}});
  v.push_back({"ratio_high",
               option_type::floating,
               "1.2",
               "value / threshold from which a finding is high",
               false,
               1,
               100,
               {}});
  v.push_back({"ratio_critical",
               option_type::floating,
               "1.5",
               "value / threshold from which a finding is critical",
               false,
               1,
               100,
               {}});
  v.push_back({"for",
               option_type::duration,
               "0s",
               "a value must stay over its threshold this long before it is raised",
               false,
               0,
               86400,
               {}});
  v.push_back({"cpu_sample",
               option_type::duration,
               "200ms",
               "first tick (and scan mode): CPU measured over this long",
               false,
               0.01,
               5,
               {}});
  return v;
}

host_health_settings host_health_settings::from(const runtime::component_settings& s) {
  host_health_settings r;
  r.cpu_percent = s.get_double("cpu_percent", r.cpu_percent);
  r.memory_percent = s.get_double("memory_percent", r.memory_percent);
  r.load_per_cpu = s.get_double("load_per_cpu", r.load_per_cpu);
  r.disk_percent = s.get_double("disk_percent", r.disk_percent);
  r.disk_paths = s.get_string_list("disk_paths", r.disk_paths);
  r.hysteresis = s.get_double("hysteresis", r.hysteresis);
  r.bands.medium = s.get_double("ratio_medium", r.bands.medium);
  r.bands.high = s.get_double("ratio_high", r.bands.high);
  r.bands.critical = s.get_double("ratio_critical", r.bands.critical);
  r.sustained = s.get_duration("for", runtime::duration::zero());
  r.cpu_sample = std::chrono::duration_cast<std::chrono::milliseconds>(
      s.get_duration("cpu_sample", std::chrono::milliseconds(200)));
  r.proc_root = s.get_string("proc_root", "/proc");
  return r;
}

host_health_analyzer::host_health_analyzer(host_health_settings settings)
    : settings_(std::move(settings)) {}

void host_health_analyzer::judge(runtime::context& ctx, const std::string& resource,
                                 const std::string& entity_key, const std::string& entity_value,
                                 double value, double threshold, const char* unit) {
  if (threshold <= 0)
    return;
  auto key = resource + "|" + entity_value;
  auto& tracker = trackers_[key];
  if (!tracker)
    tracker = std::make_unique<threshold_tracker>(threshold, settings_.hysteresis, settings_.bands,
                                                  settings_.sustained);
  auto t = tracker->update(value);
  if (t == threshold_tracker::transition::none)
    return;
  runtime::finding f;
  f.entity = {{"resource", resource}};
  if (!entity_key.empty())
    f.entity[entity_key] = entity_value;
  f.evidence = {{"value", value},
                {"threshold", threshold},
                {"ratio", tracker->ratio(value)},
                {"unit", unit},
                {"clear_below", tracker->clear_level()}};
  if (t == threshold_tracker::transition::cleared) {
    f.rule = "realtime.threshold_cleared";
    f.level = runtime::severity::info;
    f.title = resource + (entity_value.empty() ? "" : " " + entity_value) + " back to " +
              fmt(value) + unit + " (below " + fmt(tracker->clear_level()) + unit + ")";
    ctx.count("thresholds_cleared");
  } else {
    f.rule = "realtime." + resource + "_high";
    f.level = tracker->level();
    f.mitre = resource == "cpu" ? std::vector<std::string>{"T1496"} : std::vector<std::string>{};
    f.title = resource + (entity_value.empty() ? "" : " " + entity_value) + " at " + fmt(value) +
              unit + ", threshold " + fmt(threshold) + unit +
              (t == threshold_tracker::transition::escalated ? " (worse)" : "");
    f.evidence["transition"] = t == threshold_tracker::transition::raised ? "raised" : "escalated";
    ctx.count("thresholds_exceeded");
  }
  ctx.emit_finding(std::move(f));
}

void host_health_analyzer::on_tick(runtime::context& ctx) {
  const auto& root = settings_.proc_root;
  // CPU: the busy share of the jiffies elapsed since the previous tick. The first tick (and a
  // scan) has no previous sample, so it measures over cpu_sample.
  auto read_cpu = [&] {
    auto text = host::read_file(root + "/stat", 1 << 20);
    return text ? runtime::parse_cpu_times(*text) : std::nullopt;
  };
  auto now_cpu = read_cpu();
  if (now_cpu && !last_cpu_) {
    last_cpu_ = now_cpu;
    std::this_thread::sleep_for(settings_.cpu_sample);
    now_cpu = read_cpu();
  }
  if (now_cpu && last_cpu_ && now_cpu->total > last_cpu_->total) {
    double busy = static_cast<double>(now_cpu->busy - last_cpu_->busy);
    double total = static_cast<double>(now_cpu->total - last_cpu_->total);
    double pct = 100.0 * busy / total;
    ctx.gauge("cpu_percent", pct);
    judge(ctx, "cpu", "", "", pct, settings_.cpu_percent, "%");
  } else if (!now_cpu) {
    ctx.count("read_errors");
  }
  if (now_cpu)
    last_cpu_ = now_cpu;

  if (auto mem = host::read_file(root + "/meminfo", 1 << 20)) {
    if (auto pct = runtime::parse_memory_percent(*mem)) {
      ctx.gauge("memory_percent", *pct);
      judge(ctx, "memory", "", "", *pct, settings_.memory_percent, "%");
    } else {
      ctx.count("read_errors");
    }
  }

  if (auto load = host::read_file(root + "/loadavg", 4096)) {
    double l1 = 0, l5 = 0, l15 = 0;
    std::istringstream in(*load);
    if (in >> l1 >> l5 >> l15) {
      long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
      double per_cpu = l1 / static_cast<double>(cpus > 0 ? cpus : 1);
      ctx.gauge("load1", l1);
      ctx.gauge("load5", l5);
      ctx.gauge("load15", l15);
      ctx.gauge("load_per_cpu", per_cpu);
      judge(ctx, "load", "", "", per_cpu, settings_.load_per_cpu, " per CPU");
    }
  }

  for (const auto& path : settings_.disk_paths) {
    auto pct = runtime::disk_used_percent(path);
    if (!pct) {
      ctx.count("read_errors");
      ctx.log(runtime::log_level::warn,
              "host_health: statvfs " + path + ": " + std::strerror(errno));
      continue;
    }
    ctx.gauge("disk_percent." + path, *pct);
    judge(ctx, "disk", "path", path, *pct, settings_.disk_percent, "%");
  }
}

} // namespace pg::actors::realtime
