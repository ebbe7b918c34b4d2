// SPDX-License-Identifier: Apache-2.0
#include "engine/loss_tracker.hpp"

namespace pg::runtime::detail {

std::optional<loss_tracker::report> loss_tracker::record(const std::string& cause, std::int64_t n,
                                                         clock::time_point now) {
  if (n <= 0)
    return std::nullopt;
  auto& s = causes_[cause];
  s.total += n;
  if (s.active && now - s.last < interval_) {
    s.pending += n;
    return std::nullopt;
  }
  report r{cause, s.pending + n, s.total, !s.active};
  s.pending = 0;
  s.last = now;
  s.active = true;
  return r;
}

std::vector<loss_tracker::report> loss_tracker::due(clock::time_point now) {
  std::vector<report> out;
  for (auto& [cause, s] : causes_) {
    if (!s.active || now - s.last < interval_)
      continue;
    if (s.pending == 0) {
      s.active = false; // a quiet interval: the next loss starts a new episode
      continue;
    }
    out.push_back({cause, s.pending, s.total, false});
    s.pending = 0;
    s.last = now;
  }
  return out;
}

std::vector<loss_tracker::report> loss_tracker::flush() {
  std::vector<report> out;
  for (auto& [cause, s] : causes_) {
    if (s.pending == 0)
      continue;
    out.push_back({cause, s.pending, s.total, false});
    s.pending = 0;
  }
  return out;
}

std::optional<loss_tracker::clock::time_point> loss_tracker::next_due() const {
  std::optional<clock::time_point> next;
  for (const auto& [cause, s] : causes_)
    if (s.active && (!next || s.last + interval_ < *next))
      next = s.last + interval_;
  return next;
}

} // namespace pg::runtime::detail
