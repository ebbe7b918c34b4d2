// SPDX-License-Identifier: Apache-2.0
// loss_tracker.hpp — hysteresis for events lost outside the edges (a kernel queue overflowed, a
// tick was skipped, a sink dropped lines): the first loss of an episode is reported at once, then
// at most one report per interval with what was lost since, and the episode ends after a quiet
// interval. Plain object: the component actor turns its reports into engine.events_lost.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pg::runtime::detail {

class loss_tracker {
public:
  using clock = std::chrono::steady_clock;

  struct report {
    std::string cause;
    std::int64_t count = 0; // lost since the previous report
    std::int64_t total = 0; // lost by this component for this cause, ever
    bool episode_start = false;
  };

  explicit loss_tracker(clock::duration interval) : interval_(interval) {}

  /// Records `n` lost for `cause`; a report when one is due now.
  std::optional<report> record(const std::string& cause, std::int64_t n, clock::time_point now);
  /// Reports whose interval has passed (and ends quiet episodes).
  std::vector<report> due(clock::time_point now);
  /// Everything not reported yet, at once (the end of a scan, a stop).
  std::vector<report> flush();
  /// When due() next has something to say; nullopt when nothing is pending.
  [[nodiscard]] std::optional<clock::time_point> next_due() const;

private:
  struct state {
    std::int64_t total = 0;
    std::int64_t pending = 0;
    clock::time_point last{};
    bool active = false;
  };
  clock::duration interval_;
  std::map<std::string, state> causes_;
};

} // namespace pg::runtime::detail
