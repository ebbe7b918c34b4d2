// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/prometheus.hpp"
#include "phantomguard/runtime/process_memory.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

namespace pg::runtime {

namespace {

std::string escaped(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// One metric family: its samples are gathered, then written with one HELP and TYPE.
struct family {
  std::string help;
  std::string type;
  std::vector<std::pair<std::string, double>> samples; // "name{labels}", value
};

class exposition {
public:
  void add(const std::string& name, const std::string& type, const std::string& help,
           const std::vector<std::pair<std::string, std::string>>& labels, double value,
           const std::string& suffix = "") {
    auto& f = families_[name];
    if (f.type.empty()) {
      f.type = type;
      f.help = help;
      order_.push_back(name);
    }
    std::string key = name + suffix;
    if (!labels.empty()) {
      key += '{';
      for (std::size_t i = 0; i < labels.size(); ++i)
        key += (i ? "," : "") + labels[i].first + "=\"" + escaped(labels[i].second) + '"';
      key += '}';
    }
    f.samples.emplace_back(std::move(key), value);
  }
  [[nodiscard]] std::string text(exposition_format format) const {
    const bool om = format == exposition_format::openmetrics;
    std::string out;
    for (const auto& name : order_) {
      const auto& f = families_.at(name);
      // OpenMetrics names a counter family without its samples' _total suffix.
      std::string family = name;
      if (om && f.type == "counter" && family.ends_with("_total"))
        family.resize(family.size() - 6);
      out += "# HELP " + family + ' ' + f.help + '\n';
      out += "# TYPE " + family + ' ' + f.type + '\n';
      for (const auto& [k, v] : f.samples)
        out += k + ' ' + number(v) + '\n';
    }
    if (om)
      out += "# EOF\n";
    return out;
  }

private:
  std::map<std::string, family> families_;
  std::vector<std::string> order_;
};

void process_metrics(exposition& x) {
  // /proc/self/stat: utime 14, stime 15, starttime 22, vsize 23, rss 24 (pages).
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  if (close == std::string::npos)
    return;
  std::istringstream rest(all.substr(close + 2));
  std::vector<std::string> f(3);
  for (std::string v; rest >> v;)
    f.push_back(v);
  if (f.size() < 25)
    return;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  x.add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
        {}, (std::stod(f[14]) + std::stod(f[15])) / tick);
  x.add("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", {},
        std::stod(f[23]));
  x.add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", {},
        std::stod(f[24]) * page);
  double boot = 0;
  std::ifstream stat("/proc/stat");
  for (std::string line; std::getline(stat, line);)
    if (line.rfind("btime ", 0) == 0)
      boot = std::stod(line.substr(6));
  x.add("process_start_time_seconds", "gauge",
        "Start time of the process since unix epoch in seconds.", {},
        boot + std::stod(f[22]) / tick);
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  x.add("process_open_fds", "gauge", "Number of open file descriptors.", {}, fds);
  // The malloc heap behind the resident set: held by the program, or free inside the arenas
  // (fragmentation, pages not yet given back). A resident set that grows while in_use stays flat
  // is the heap, not a leak.
  const heap_figures heap = heap_of_this_process();
  if (heap.in_use == 0 && heap.free == 0)
    return; // not glibc's malloc (a sanitizer's allocator): no figures rather than zeros
  x.add("phantomguard_process_heap_bytes", "gauge",
        "The malloc heap: in_use is held by the program, free is kept by the arenas.",
        {{"state", "in_use"}}, static_cast<double>(heap.in_use));
  x.add("phantomguard_process_heap_bytes", "gauge",
        "The malloc heap: in_use is held by the program, free is kept by the arenas.",
        {{"state", "free"}}, static_cast<double>(heap.free));
  if (heap.arenas > 0)
    x.add("phantomguard_process_heap_arenas", "gauge", "malloc arenas (glibc).", {},
          static_cast<double>(heap.arenas));
}

} // namespace

std::string to_prometheus(const metrics_snapshot& m, const std::string& version, bool with_process,
                          exposition_format format) {
  exposition x;
  x.add("phantomguard_build_info", "gauge", "Build information; the value is always 1.",
        {{"version", version}}, 1);
  const std::map<std::string, std::pair<std::string, std::string>> counters = {
      {"events_in", {"phantomguard_component_events_in_total", "Events received."}},
      {"events_out", {"phantomguard_component_events_out_total", "Events emitted."}},
      {"restarts", {"phantomguard_component_restarts_total", "Restarts of the component."}},
      {"failures", {"phantomguard_component_failures_total", "Failed hooks and terminations."}},
      {"ticks", {"phantomguard_component_ticks_total", "Collection ticks run."}},
      {"skipped_ticks",
       {"phantomguard_component_skipped_ticks_total", "Ticks skipped: outputs blocked."}},
      {"throttled_ticks",
       {"phantomguard_component_throttled_ticks_total", "Ticks skipped by a quota throttle."}},
      {"pauses",
       {"phantomguard_component_pauses_total",
        "Pauses of the component's work by its adaptive throttle (load, pressure, battery, "
        "window)."}},
      {"deferred_ticks",
       {"phantomguard_component_deferred_ticks_total",
        "Ticks that came due while the adaptive throttle paused the component."}},
      {"read_bytes",
       {"phantomguard_component_read_bytes_total",
        "Bytes the component's threads read (read(2) and friends, page-cache hits included)."}},
      {"write_bytes",
       {"phantomguard_component_written_bytes_total",
        "Bytes the component's threads wrote (write(2) and friends)."}},
      {"storage_read_bytes",
       {"phantomguard_component_storage_read_bytes_total",
        "Bytes the component's reads had to fetch from a block device."}},
  };
  for (const auto& c : m.components) {
    if (c.name == "engine") {
      // The engine's own counters are named ones (component_stats::count): "custom.<key>".
      auto counter = [&c](const std::string& key) -> std::optional<double> {
        for (const auto& k : {"custom." + key, key})
          if (auto it = c.counters.find(k); it != c.counters.end())
            return static_cast<double>(it->second);
        return std::nullopt;
      };
      if (auto v = counter("findings"))
        x.add("phantomguard_engine_findings_total", "counter", "Engine findings raised.", {}, *v);
      if (auto v = counter("findings_suppressed"))
        x.add("phantomguard_findings_suppressed_total", "counter",
              "Findings a [[suppress]] entry kept from delivery.", {{"component", "engine"}}, *v);
      if (auto v = counter("heap_released_bytes"))
        x.add("phantomguard_process_heap_released_bytes_total", "counter",
              "Free heap pages the engine gave back to the system (engine.heap_release_interval).",
              {}, *v);
      continue;
    }
    const std::vector<std::pair<std::string, std::string>> who = {{"component", c.name}};
    for (const auto& [key, value] : c.counters) {
      if (auto it = counters.find(key); it != counters.end()) {
        x.add(it->second.first, "counter", it->second.second, who, static_cast<double>(value));
      } else if (key == "paused_us") {
        x.add("phantomguard_component_paused_seconds_total", "counter",
              "Time the adaptive throttle held the component's work, seconds.", who,
              static_cast<double>(value) / 1e6);
      } else if (key == "cpu_time_us") {
        x.add("phantomguard_component_cpu_seconds_total", "counter",
              "CPU time of the component's threads (its workers included), seconds.", who,
              static_cast<double>(value) / 1e6);
      } else if (key == "custom.findings_suppressed") {
        x.add("phantomguard_findings_suppressed_total", "counter",
              "Findings a [[suppress]] entry kept from delivery.", who, static_cast<double>(value));
      } else if (key == "custom.delivered" || key == "custom.failed") {
        const bool ok = key == "custom.delivered";
        x.add(ok ? "phantomguard_sink_delivered_total" : "phantomguard_sink_failed_total",
              "counter",
              ok ? "Findings the sink delivered to its destination."
                 : "Deliveries that failed (each retried or counted as lost).",
              {{"sink", c.name}}, static_cast<double>(value));
      } else if (key.rfind("lost_", 0) == 0) {
        x.add("phantomguard_component_events_lost_total", "counter",
              "Events lost outside the edges, by cause.",
              {{"component", c.name}, {"cause", key.substr(5)}}, static_cast<double>(value));
      } else if (key.rfind("edge.", 0) == 0) {
        // edge.<consumer>.produced | delivered | dropped_<reason>
        auto dot = key.rfind('.');
        const std::string consumer = key.substr(5, dot - 5);
        const std::string what = key.substr(dot + 1);
        const std::vector<std::pair<std::string, std::string>> edge = {{"producer", c.name},
                                                                       {"consumer", consumer}};
        if (what == "produced")
          x.add("phantomguard_edge_produced_total", "counter", "Events offered on an edge.", edge,
                static_cast<double>(value));
        else if (what == "delivered")
          x.add("phantomguard_edge_delivered_total", "counter",
                "Events its consumer took off an edge.", edge, static_cast<double>(value));
        else if (what.rfind("dropped_", 0) == 0)
          x.add("phantomguard_edge_dropped_total", "counter",
                "Events dropped on an edge, by reason.",
                {{"producer", c.name}, {"consumer", consumer}, {"reason", what.substr(8)}},
                static_cast<double>(value));
      }
    }
    for (const auto& [key, value] : c.gauges) {
      if (key.rfind("edge.", 0) == 0) {
        // edge.<consumer>.queued_events | window_events: how full the edge's queue is
        auto dot = key.rfind('.');
        const std::string consumer = key.substr(5, dot - 5);
        const std::string what = key.substr(dot + 1);
        const std::vector<std::pair<std::string, std::string>> edge = {{"producer", c.name},
                                                                       {"consumer", consumer}};
        if (what == "queued_events")
          x.add("phantomguard_edge_queued_events", "gauge", "Events queued on an edge.", edge,
                value);
        else if (what == "window_events")
          x.add("phantomguard_edge_capacity_events", "gauge",
                "Events an edge holds before its overflow policy applies.", edge, value);
        continue;
      }
      if (key == "custom.last_success_time") {
        x.add("phantomguard_sink_last_success_timestamp_seconds", "gauge",
              "When the sink last delivered, unix seconds (0: never).", {{"sink", c.name}}, value);
        continue;
      }
      if (key == "cpu_percent")
        x.add("phantomguard_component_cpu_ratio", "gauge",
              "CPU of the component's threads over the last sample, in cores (1 = one core).", who,
              value / 100.0);
      else if (key == "memory_bytes")
        x.add("phantomguard_component_memory_bytes", "gauge",
              "Memory the component holds (heap of its threads plus what it accounts).", who,
              value);
      else if (key == "memory_peak_bytes")
        x.add("phantomguard_component_memory_peak_bytes", "gauge",
              "The most memory the component held since the engine started.", who, value);
      else if (key == "status")
        x.add("phantomguard_component_status", "gauge",
              "0 starting, 1 running, 2 finished, 3 stopped, 4 disabled.", who, value);
      else if (key == "paused")
        x.add("phantomguard_component_paused", "gauge",
              "1 while the adaptive throttle holds the component's work.", who, value);
      else if (key == "quota_level")
        x.add("phantomguard_component_quota_step", "gauge",
              "Quota ladder: 0 ok, 1 throttled, 2 shedding, 3 restarted, 4 disabled.", who, value);
      else if (key == "queued_events")
        x.add("phantomguard_component_queued_events", "gauge",
              "Events queued on the component's input edges.", who, value);
      else if (key == "queued_bytes")
        x.add("phantomguard_component_queued_bytes", "gauge",
              "Bytes queued on the component's input edges.", who, value);
    }
    for (const auto& [key, h] : c.histograms) {
      if (key != "handler_latency_us")
        continue;
      const std::string name = "phantomguard_component_handler_latency_seconds";
      const std::string help = "Hook latency (on_batch, on_tick, start, stop).";
      auto buckets = h.buckets;
      if (buckets.empty()) // nothing recorded yet
        buckets.emplace_back(std::numeric_limits<double>::infinity(), 0);
      for (const auto& [bound, n] : buckets) {
        char le[32];
        std::snprintf(le, sizeof le, "%g", bound / 1e6);
        x.add(name, "histogram", help,
              {{"component", c.name}, {"le", std::isinf(bound) ? "+Inf" : le}},
              static_cast<double>(n), "_bucket");
      }
      x.add(name, "histogram", help, who, h.sum / 1e6, "_sum");
      x.add(name, "histogram", help, who, static_cast<double>(h.count), "_count");
    }
  }
  if (with_process)
    process_metrics(x);
  return x.text(format);
}

} // namespace pg::runtime
