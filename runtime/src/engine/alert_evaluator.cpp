// SPDX-License-Identifier: Apache-2.0
#include "engine/alert_evaluator.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "phantomguard/runtime/process_memory.hpp"

namespace pg::runtime::detail {

namespace {

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(4);
  o << v;
  return o.str();
}

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

double gauge_of(const component_metrics& c, const char* key) {
  auto it = c.gauges.find(key);
  return it == c.gauges.end() ? 0.0 : it->second;
}

double counter_of(const component_metrics& c, const char* key) {
  auto it = c.counters.find(key);
  return it == c.counters.end() ? 0.0 : static_cast<double>(it->second);
}

const char* unit_of(const std::string& metric) {
  if (metric.ends_with("_percent"))
    return "%";
  if (metric.ends_with("_bytes"))
    return " bytes";
  if (metric.ends_with("_seconds"))
    return " s";
  if (metric.ends_with("_per_second"))
    return "/s";
  if (metric.ends_with("_per_minute"))
    return "/min";
  return "";
}

} // namespace

double alert_evaluator::counter_window::increase(clock::time_point now, double value,
                                                 clock::duration window) {
  samples.emplace_back(now, value);
  while (samples.size() > 1 && now - samples[1].first >= window)
    samples.pop_front();
  // A counter that went down (a restarted component starts from 0) counts from there.
  return std::max(0.0, value - samples.front().second);
}

alert_evaluator::alert_evaluator(std::vector<alert_decl> alerts,
                                 std::optional<std::uint64_t> memory_quota_mb,
                                 std::string proc_root)
    : proc_root_(std::move(proc_root)) {
  replace(std::move(alerts), memory_quota_mb);
}

void alert_evaluator::replace(std::vector<alert_decl> alerts,
                              std::optional<std::uint64_t> memory_quota_mb) {
  std::vector<watched> next;
  for (auto& a : alerts) {
    if (!a.enabled)
      continue;
    watched w{std::move(a), {}};
    for (auto& old : alerts_)
      if (old.decl == w.decl && memory_quota_mb == memory_quota_mb_)
        w.trackers = std::move(old.trackers);
    next.push_back(std::move(w));
  }
  alerts_ = std::move(next);
  memory_quota_mb_ = memory_quota_mb;
}

bool alert_evaluator::due(clock::time_point now) const {
  return !alerts_.empty() && (!last_ || now - *last_ >= std::chrono::seconds(1));
}

std::optional<double> alert_evaluator::host_cpu() {
  if (cpu_now_)
    return cpu_now_;
  auto text = slurp(proc_root_ + "/stat");
  auto now = text ? parse_cpu_times(*text) : std::nullopt;
  std::optional<double> pct;
  if (now && last_cpu_ && now->total > last_cpu_->total)
    pct = 100.0 * static_cast<double>(now->busy - last_cpu_->busy) /
          static_cast<double>(now->total - last_cpu_->total);
  if (now)
    last_cpu_ = now;
  cpu_now_ = pct;
  return pct;
}

std::vector<std::pair<std::string, double>>
alert_evaluator::values(const alert_decl& a, const metrics_snapshot& m, clock::time_point now) {
  std::vector<std::pair<std::string, double>> out;
  const auto& metric = a.metric;
  auto rate = [&](const std::string& key, double value, clock::duration window, double per) {
    auto& w = windows_[a.name + "|" + key];
    return w.increase(now, value, window) * per / std::chrono::duration<double>(window).count();
  };
  if (metric == "host.cpu_percent") {
    if (auto v = host_cpu()) // the first round has no previous sample
      out.emplace_back("", *v);
  } else if (metric == "host.memory_percent") {
    if (auto text = slurp(proc_root_ + "/meminfo"))
      if (auto v = parse_memory_percent(*text))
        out.emplace_back("", *v);
  } else if (metric == "host.disk_percent") {
    if (auto v = disk_used_percent(a.path))
      out.emplace_back(a.path, *v);
    else if (!warned_[a.name]) {
      warned_[a.name] = true;
      spdlog::warn("alert {}: cannot measure {}: {}", a.name, a.path, std::strerror(errno));
    }
  } else if (metric == "host.load_per_cpu") {
    if (auto text = slurp(proc_root_ + "/loadavg")) {
      double l1 = 0;
      std::istringstream in(*text);
      const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
      if (in >> l1)
        out.emplace_back("", l1 / static_cast<double>(cpus > 0 ? cpus : 1));
    }
  } else if (metric.rfind("engine.", 0) == 0) {
    double cpu = 0;
    double lost = 0;
    double restarts = 0;
    for (const auto& c : m.components) {
      if (c.name == "engine")
        continue;
      cpu += gauge_of(c, "cpu_percent");
      lost += counter_of(c, "events_lost");
      restarts += counter_of(c, "restarts");
    }
    const double rss = static_cast<double>(process_rss_bytes());
    if (metric == "engine.cpu_percent")
      out.emplace_back("", cpu);
    else if (metric == "engine.memory_bytes")
      out.emplace_back("", rss);
    else if (metric == "engine.memory_percent" && memory_quota_mb_)
      out.emplace_back("", 100.0 * rss / static_cast<double>(*memory_quota_mb_ << 20));
    else if (metric == "engine.events_lost_per_second")
      out.emplace_back("", rate("", lost, std::chrono::seconds(10), 1.0));
    else if (metric == "engine.restarts_per_minute")
      out.emplace_back("", rate("", restarts, std::chrono::seconds(60), 60.0));
  } else if (metric.rfind("component.", 0) == 0) {
    for (const auto& c : m.components) {
      if (c.name == "engine" || (a.component != "*" && a.component != c.name))
        continue;
      if (metric == "component.cpu_percent")
        out.emplace_back(c.name, gauge_of(c, "cpu_percent"));
      else if (metric == "component.memory_bytes")
        out.emplace_back(c.name, gauge_of(c, "memory_bytes"));
      else if (metric == "component.queued_events")
        out.emplace_back(c.name, gauge_of(c, "queued_events"));
      else if (metric == "component.handler_latency_seconds") {
        auto it = c.histograms.find("handler_latency_us");
        out.emplace_back(c.name, it == c.histograms.end() ? 0.0 : it->second.p99 / 1e6);
      } else if (metric == "component.events_lost_per_second")
        out.emplace_back(c.name,
                         rate(c.name, counter_of(c, "events_lost"), std::chrono::seconds(10), 1.0));
      else if (metric == "component.restarts_per_minute")
        out.emplace_back(c.name,
                         rate(c.name, counter_of(c, "restarts"), std::chrono::seconds(60), 60.0));
    }
  }
  return out;
}

std::vector<finding> alert_evaluator::evaluate(const metrics_snapshot& m, clock::time_point now) {
  std::vector<finding> due_now;
  last_ = now;
  cpu_now_.reset();
  for (auto& w : alerts_) {
    const auto& a = w.decl;
    for (const auto& [entity, value] : values(a, m, now)) {
      auto it = w.trackers.find(entity);
      if (it == w.trackers.end())
        it =
            w.trackers
                .emplace(entity, threshold_tracker(a.threshold, a.hysteresis, a.bands, a.sustained))
                .first;
      auto& t = it->second;
      const auto step = t.update(value, now);
      if (step == threshold_tracker::transition::none)
        continue;
      const char* unit = unit_of(a.metric);
      finding f;
      f.time = wall_clock::now();
      f.entity = {{"alert", a.name}, {"metric", a.metric}};
      const std::string subject = entity.empty() ? a.metric : a.metric + " of " + entity;
      if (!entity.empty())
        f.entity[a.metric.rfind("host.", 0) == 0 ? "path" : "component"] = entity;
      f.evidence = {{"value", value},
                    {"threshold", a.threshold},
                    {"ratio", t.ratio(value)},
                    {"clear_below", t.clear_level()},
                    {"for_seconds", std::chrono::duration<double>(a.sustained).count()}};
      if (step == threshold_tracker::transition::cleared) {
        f.rule = "alert.cleared";
        f.level = severity::info;
        f.title = "alert " + a.name + " cleared: " + subject + " back to " + fmt(value) + unit +
                  " (below " + fmt(t.clear_level()) + unit + ")";
        f.evidence["transition"] = "cleared";
      } else {
        f.rule = "alert." + a.name;
        f.level = t.level();
        f.title = "alert " + a.name + ": " + subject + " at " + fmt(value) + unit + ", threshold " +
                  fmt(a.threshold) + unit +
                  (a.sustained > duration::zero()
                       ? " for " + fmt(std::chrono::duration<double>(a.sustained).count()) + "s"
                       : std::string()) +
                  (step == threshold_tracker::transition::escalated ? " (worse)" : "");
        f.evidence["transition"] =
            step == threshold_tracker::transition::raised ? "raised" : "escalated";
      }
      due_now.push_back(std::move(f));
    }
  }
  return due_now;
}

} // namespace pg::runtime::detail
