// SPDX-License-Identifier: Apache-2.0
// restart_policy.hpp — the plain rules of supervision, with no actors in them (testable alone):
// restart intensity (at most N restarts within a period), the backoff between restarts (doubling,
// capped, reset after a healthy run, with jitter), and the supervision tree: which supervisor a
// component answers to, what a restart under each strategy takes with it, where a supervisor that
// gives up escalates.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "phantomguard/runtime/config.hpp"

namespace pg::runtime::detail {

using steady = std::chrono::steady_clock;

/// At most `max_restarts` within `period` (OTP's intensity). admit() records a restart when it
/// is allowed and says false when it would exceed the intensity.
class restart_intensity {
public:
  restart_intensity() = default;
  restart_intensity(std::uint32_t max_restarts, duration period)
      : max_(max_restarts), period_(period) {}

  [[nodiscard]] bool admit(steady::time_point now);
  void reset() { times_.clear(); }
  [[nodiscard]] std::size_t recent(steady::time_point now);
  [[nodiscard]] std::uint32_t max_restarts() const noexcept { return max_; }
  [[nodiscard]] duration period() const noexcept { return period_; }

private:
  std::uint32_t max_ = 5;
  duration period_ = std::chrono::seconds(60);
  std::deque<steady::time_point> times_;
};

/// Delay before a restart: backoff * 2^(n-1) up to max_backoff, n counting the restarts since
/// the instance last ran `healthy_after`; +-25% jitter keeps components that failed together from
/// restarting in lockstep.
class restart_backoff {
public:
  explicit restart_backoff(const restart_settings& rs) : rs_(rs) {}
  std::chrono::milliseconds next(steady::time_point now, steady::time_point started_at,
                                 std::minstd_rand& rng);
  [[nodiscard]] std::uint32_t attempt() const noexcept { return consecutive_; }

private:
  restart_settings rs_;
  std::uint32_t consecutive_ = 0;
};

/// The supervision tree of a config: `root` (the engine's strategy and intensity) and every
/// [supervisors.NAME], each with its children — components and supervisors — in pipeline order.
class supervision_tree {
public:
  static constexpr const char* root = "root";

  struct group {
    std::string name;
    std::string parent; // empty for the root
    restart_strategy strategy = restart_strategy::one_for_one;
    std::uint32_t max_restarts = 10;
    duration period = std::chrono::seconds(60);
    std::vector<std::string> components; // direct children
    std::vector<std::string> groups;     // direct child supervisors
  };

  /// `order` ranks components (topological position): a child supervisor ranks as its first
  /// component, for rest_for_one.
  supervision_tree(const pipeline_config& cfg, const std::map<std::string, std::size_t>& order);

  [[nodiscard]] const group& at(const std::string& name) const;
  [[nodiscard]] const std::map<std::string, group>& groups() const noexcept { return groups_; }
  /// The supervisor a component answers to.
  [[nodiscard]] const std::string& supervisor_of(const std::string& component) const;
  /// Every component under `g`, its child supervisors' included.
  [[nodiscard]] std::vector<std::string> members(const std::string& g) const;
  /// Every supervisor under `g`, `g` included.
  [[nodiscard]] std::vector<std::string> subtree(const std::string& g) const;

  /// What restarts with child `child` of supervisor `g` (a component name, or a supervisor name
  /// when `child_is_group`) under g's strategy: the child itself (a supervisor: all its members),
  /// plus every other child for one_for_all, the children after it for rest_for_one.
  [[nodiscard]] std::vector<std::string> restart_set(const std::string& g, const std::string& child,
                                                     bool child_is_group) const;

private:
  [[nodiscard]] std::size_t rank_of_group(const std::string& g) const;

  std::map<std::string, group> groups_;
  std::map<std::string, std::string> supervisor_of_;
  std::map<std::string, std::size_t> order_;
};

} // namespace pg::runtime::detail
