// SPDX-License-Identifier: Apache-2.0
// alert_evaluator.hpp — evaluates `[alerts.NAME]` once a second on the supervisor: reads the
// metric (the engine's snapshot, or the host's /proc and statvfs), feeds one threshold_tracker
// per watched entity (a component, or the alert itself) and returns the findings due:
// alert.NAME when raised or escalated, alert.cleared when back below the clear level.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/runtime/alert.hpp"
#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/metrics.hpp"

namespace pg::runtime::detail {

class alert_evaluator {
public:
  using clock = std::chrono::steady_clock;

  /// `memory_quota_mb`: [engine] quota.memory_mb (engine.memory_percent is a share of it).
  alert_evaluator(std::vector<alert_decl> alerts, std::optional<std::uint64_t> memory_quota_mb,
                  std::string proc_root = "/proc");

  /// A reloaded config: alerts declared the same keep their state (a raised one stays raised
  /// and is not raised again); the others start afresh.
  void replace(std::vector<alert_decl> alerts, std::optional<std::uint64_t> memory_quota_mb);

  /// Whether a second has passed since the last evaluation.
  [[nodiscard]] bool due(clock::time_point now) const;

  /// The findings due now (time, rule, level, title, entity, evidence; host and analyzer are
  /// the caller's).
  std::vector<finding> evaluate(const metrics_snapshot& m, clock::time_point now);

  [[nodiscard]] bool empty() const noexcept { return alerts_.empty(); }

private:
  struct watched {
    alert_decl decl;
    std::map<std::string, threshold_tracker> trackers; // by entity ("" for one value)
  };
  /// Increase of a counter over a sliding window.
  struct counter_window {
    std::deque<std::pair<clock::time_point, double>> samples;
    double increase(clock::time_point now, double value, clock::duration window);
  };

  std::vector<std::pair<std::string, double>> values(const alert_decl& a,
                                                     const metrics_snapshot& m,
                                                     clock::time_point now);
  std::optional<double> host_cpu();

  std::vector<watched> alerts_;
  std::optional<std::uint64_t> memory_quota_mb_;
  std::string proc_root_;
  std::optional<clock::time_point> last_;
  std::optional<cpu_times> last_cpu_;
  std::optional<double> cpu_now_; // this round's host CPU (several alerts may read it)
  std::map<std::string, counter_window> windows_;
  std::map<std::string, bool> warned_; // a metric that could not be read, logged once
};

} // namespace pg::runtime::detail
