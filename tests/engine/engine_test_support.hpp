// SPDX-License-Identifier: Apache-2.0
// engine_test_support.hpp — small helpers shared by the engine's test files.
#pragma once

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <mutex>

#include "phantomguard/runtime/engine.hpp"

namespace pg::test {

/// Resident set size of this process in bytes (VmRSS).
inline std::int64_t rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6)) * 1024;
  return 0;
}

/// Polls `pred` every 5 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

inline std::vector<std::string> rules_of(const std::vector<runtime::finding>& fs,
                                         const std::string& prefix = "engine.") {
  std::vector<std::string> out;
  for (const auto& f : fs)
    if (f.rule.rfind(prefix, 0) == 0)
      out.push_back(f.rule);
  return out;
}

inline std::size_t count_rule(const std::vector<runtime::finding>& fs, const std::string& rule) {
  return static_cast<std::size_t>(
      std::count_if(fs.begin(), fs.end(), [&](const auto& f) { return f.rule == rule; }));
}

/// Sum of dropped_<reason> counters on edge producer -> consumer.
inline std::int64_t edge_dropped(const runtime::metrics_snapshot& m, const std::string& producer,
                                 const std::string& consumer) {
  std::int64_t n = 0;
  for (const char* r :
       {"newest", "oldest", "sampled", "shed", "failure", "timeout", "restart", "disabled"})
    n += m.counter(producer, "edge." + consumer + ".dropped_" + r);
  return n;
}

inline double gauge(const runtime::metrics_snapshot& m, const std::string& component,
                    const std::string& name) {
  if (const auto* c = m.find(component))
    if (auto it = c->gauges.find(name); it != c->gauges.end())
      return it->second;
  return 0;
}

/// Findings collected from a running engine (on_finding), safe to read while it runs.
struct finding_log {
  std::mutex mutex;
  std::vector<runtime::finding> all;
  runtime::run_options options() {
    runtime::run_options o;
    o.on_finding = [this](const runtime::finding& f) {
      std::lock_guard guard{mutex};
      all.push_back(f);
    };
    return o;
  }
  std::vector<runtime::finding> matching(const std::function<bool(const runtime::finding&)>& pred) {
    std::lock_guard guard{mutex};
    std::vector<runtime::finding> out;
    for (const auto& f : all)
      if (pred(f))
        out.push_back(f);
    return out;
  }
  std::vector<runtime::finding> with_rule(const std::string& rule) {
    return matching([&](const runtime::finding& f) { return f.rule == rule; });
  }
  /// engine.quota_* findings about `component`, in order.
  std::vector<runtime::finding> quota_findings(const std::string& component) {
    return matching([&](const runtime::finding& f) {
      return f.rule.rfind("engine.quota_", 0) == 0 && f.entity.value("component", "") == component;
    });
  }
  std::vector<std::string> quota_rules(const std::string& component) {
    std::vector<std::string> out;
    for (const auto& f : quota_findings(component))
      out.push_back(f.rule);
    return out;
  }
  /// engine.events_lost findings of `component` for `cause`.
  std::vector<runtime::finding> losses(const std::string& component, const std::string& cause) {
    return matching([&](const runtime::finding& f) {
      return f.rule == "engine.events_lost" && f.entity.value("component", "") == component &&
             f.evidence.value("cause", "") == cause;
    });
  }
};

/// Runs `eng.run()` on a thread; the destructor stops it and joins.
class running_engine {
public:
  explicit running_engine(runtime::engine& eng, runtime::run_options opts = {})
      : eng_(eng), thread_([this, opts] { rc_ = eng_.run(opts); }) {}
  ~running_engine() { stop(); }
  int stop() {
    if (thread_.joinable()) {
      eng_.request_stop();
      thread_.join();
    }
    return rc_;
  }

private:
  runtime::engine& eng_;
  int rc_ = -1;
  std::thread thread_;
};

} // namespace pg::test
