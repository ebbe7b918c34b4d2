// SPDX-License-Identifier: Apache-2.0
// quota_governor.hpp — one component's quota ladder as a plain object (no actors): fed a sample
// of what the instance used (CPU, events, memory) a few times per window, it answers with the
// step to take. Excess sustained for a whole window climbs one step; a calm window takes a
// throttled or shedding component back; a component that stays within its quotas for
// healthy_after after a quota restart starts the ladder over (a later excess, days later, is
// throttled again, not disabled outright).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "phantomguard/runtime/config.hpp"

namespace pg::runtime::detail {

enum class quota_step { none, throttle, shed, restart, disable, recover };
std::string_view to_string(quota_step s) noexcept;

/// Where a component stands on its ladder.
enum class quota_level : int { ok = 0, throttled, shedding, restarted, disabled };

struct quota_sample {
  std::chrono::steady_clock::time_point now;
  std::int64_t cpu_ns = 0; // the instance's CPU so far
  std::int64_t events = 0; // the instance's events so far
  std::int64_t memory_bytes = 0;
};

struct quota_verdict {
  quota_step step = quota_step::none;
  std::string quota; // cpu_percent, memory_mb, events_per_second (engine.* for engine-wide)
  double measured = 0;
  double limit = 0;
  quota_level from = quota_level::ok; // for recover: the level left
};

class quota_governor {
public:
  using clock = std::chrono::steady_clock;

  quota_governor(quota_settings q, duration healthy_after) : q_(q), healthy_after_(healthy_after) {}

  /// A new instance started: the windows start over, the ladder is kept.
  void started(clock::time_point at);
  /// Feeds one sample; the verdict says what to do (usually nothing).
  quota_verdict evaluate(const quota_sample& s);
  /// One step up. `engine_wide`: the engine's quota chose this component; it then comes back
  /// only when the engine is within its quota again (engine_calm), not when it looks calm itself.
  quota_verdict climb(std::string quota, double measured, double limit, bool engine_wide = false);
  /// The engine was within its quota for a whole window: a component it throttled or made shed
  /// comes back.
  quota_verdict engine_calm();

  [[nodiscard]] quota_level level() const noexcept { return level_; }
  [[nodiscard]] double cpu_percent() const noexcept { return cpu_pct_; }
  [[nodiscard]] double rate() const noexcept { return rate_; }
  [[nodiscard]] bool in_grace(clock::time_point now) const noexcept {
    return now - started_at_ < q_.grace;
  }

private:
  quota_settings q_;
  duration healthy_after_;
  quota_level level_ = quota_level::ok;
  bool engine_driven_ = false;
  clock::time_point started_at_{};
  std::optional<clock::time_point> excess_since_;
  std::optional<clock::time_point> calm_since_;
  std::deque<std::pair<clock::time_point, std::int64_t>> cpu_samples_;
  std::deque<std::pair<clock::time_point, std::int64_t>> event_samples_;
  double tokens_ = 0;
  std::int64_t bucket_events_ = 0;
  clock::time_point bucket_time_{};
  double cpu_pct_ = 0;
  double rate_ = 0;
};

} // namespace pg::runtime::detail
