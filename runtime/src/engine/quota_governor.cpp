// SPDX-License-Identifier: Apache-2.0
#include "engine/quota_governor.hpp"

#include <algorithm>

namespace pg::runtime::detail {

namespace {

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

std::string_view to_string(quota_step s) noexcept {
  switch (s) {
  case quota_step::none:
    return "none";
  case quota_step::throttle:
    return "throttle";
  case quota_step::shed:
    return "shed";
  case quota_step::restart:
    return "restart";
  case quota_step::disable:
    return "disable";
  case quota_step::recover:
    return "recover";
  }
  return "none";
}

void quota_governor::started(clock::time_point at) {
  started_at_ = at;
  cpu_samples_.clear();
  event_samples_.clear();
  excess_since_.reset();
  calm_since_.reset();
  bucket_time_ = at;
  bucket_events_ = 0;
  tokens_ = q_.events_per_second.value_or(0);
  cpu_pct_ = 0;
  rate_ = 0;
}

quota_verdict quota_governor::engine_calm() {
  quota_verdict v;
  if (!engine_driven_ || (level_ != quota_level::throttled && level_ != quota_level::shedding))
    return v;
  v.step = quota_step::recover;
  v.from = level_;
  level_ = quota_level::ok;
  engine_driven_ = false;
  return v;
}

quota_verdict quota_governor::climb(std::string quota, double measured, double limit,
                                    bool engine_wide) {
  engine_driven_ = engine_wide;
  quota_verdict v;
  v.quota = std::move(quota);
  v.measured = measured;
  v.limit = limit;
  v.from = level_;
  switch (level_) {
  case quota_level::ok:
    level_ = quota_level::throttled;
    v.step = quota_step::throttle;
    break;
  case quota_level::throttled:
    level_ = quota_level::shedding;
    v.step = quota_step::shed;
    break;
  case quota_level::shedding:
    level_ = quota_level::restarted;
    v.step = quota_step::restart;
    break;
  case quota_level::restarted:
  case quota_level::disabled:
    level_ = quota_level::disabled;
    v.step = quota_step::disable;
    break;
  }
  return v;
}

quota_verdict quota_governor::evaluate(const quota_sample& s) {
  if (level_ == quota_level::disabled)
    return {}; // the end of the ladder: nothing more to decide
  const auto now = s.now;
  cpu_samples_.emplace_back(now, s.cpu_ns);
  event_samples_.emplace_back(now, s.events);
  while (cpu_samples_.size() > 2 && now - cpu_samples_[1].first >= q_.window)
    cpu_samples_.pop_front();
  while (event_samples_.size() > 2 && now - event_samples_[1].first >= q_.window)
    event_samples_.pop_front();
  const auto span = seconds(now - cpu_samples_.front().first);
  cpu_pct_ = span > 0
                 ? static_cast<double>(s.cpu_ns - cpu_samples_.front().second) / 1e9 / span * 100.0
                 : 0.0;
  const auto espan = seconds(now - event_samples_.front().first);
  rate_ = espan > 0 ? static_cast<double>(s.events - event_samples_.front().second) / espan : 0.0;
  const double mem_mb = static_cast<double>(s.memory_bytes) / (1024.0 * 1024.0);
  // Token bucket for events_per_second: one second of burst, refilled at the limit.
  bool over_rate = false;
  if (q_.events_per_second) {
    const double limit = *q_.events_per_second;
    tokens_ = std::min(limit, tokens_ + seconds(now - bucket_time_) * limit);
    tokens_ -= static_cast<double>(s.events - bucket_events_);
    bucket_time_ = now;
    bucket_events_ = s.events;
    over_rate = tokens_ < 0;
    tokens_ = std::max(tokens_, -limit); // a bounded debt: recovery is possible within a second
  }
  quota_verdict v;
  if (in_grace(now) || span < seconds(q_.window) / 2)
    return v; // start-up grace, and not enough history for a sliding window yet
  std::optional<quota_verdict> over;
  auto excess = [&](const char* quota, double measured, double limit) {
    quota_verdict x;
    x.quota = quota;
    x.measured = measured;
    x.limit = limit;
    over = x;
  };
  if (q_.cpu_percent && cpu_pct_ > *q_.cpu_percent)
    excess("cpu_percent", cpu_pct_, *q_.cpu_percent);
  else if (q_.memory_mb && mem_mb > static_cast<double>(*q_.memory_mb))
    excess("memory_mb", mem_mb, static_cast<double>(*q_.memory_mb));
  else if (over_rate)
    excess("events_per_second", rate_, *q_.events_per_second);
  if (over) {
    calm_since_.reset();
    if (!excess_since_)
      excess_since_ = now;
    if (now - *excess_since_ >= q_.window) {
      // Sustained for a whole window: one step up; the next step needs another window.
      excess_since_ = now;
      return climb(over->quota, over->measured, over->limit);
    }
    return v;
  }
  excess_since_.reset();
  if (!calm_since_)
    calm_since_ = now;
  const bool back = ((level_ == quota_level::throttled || level_ == quota_level::shedding) &&
                     !engine_driven_ && now - *calm_since_ >= q_.window) ||
                    (level_ == quota_level::restarted && now - *calm_since_ >= healthy_after_);
  if (back) {
    v.step = quota_step::recover;
    v.from = level_;
    level_ = quota_level::ok;
    engine_driven_ = false;
  }
  return v;
}

} // namespace pg::runtime::detail
