// threshold_tracker.hpp — the decision behind host_health findings: when a value crosses its
// threshold, how bad it is (by the ratio value / threshold), and when it is back to normal
// (below threshold * (1 - hysteresis), so a value hovering at the threshold does not flap).
#pragma once

#include <optional>

#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::realtime {

/// Severity bands on ratio = value / threshold: [1, medium) low, [medium, high) medium,
/// [high, critical) high, >= critical critical.
struct severity_bands {
  double medium = 1.05;
  double high = 1.15;
  double critical = 1.30;
};

runtime::severity severity_for_ratio(double ratio, const severity_bands& bands = {});

class threshold_tracker {
public:
  enum class transition { none, raised, escalated, cleared };

  threshold_tracker(double threshold, double hysteresis, severity_bands bands = {})
      : threshold_(threshold), hysteresis_(hysteresis), bands_(bands) {}

  /// Feeds one sample. `raised` when it first crosses, `escalated` when already raised and the
  /// severity grew (a finding is due each time), `cleared` when it fell below the clear level.
  transition update(double value);

  [[nodiscard]] bool active() const noexcept { return active_; }
  [[nodiscard]] runtime::severity level() const noexcept { return level_; }
  [[nodiscard]] double threshold() const noexcept { return threshold_; }
  [[nodiscard]] double clear_level() const noexcept { return threshold_ * (1.0 - hysteresis_); }
  [[nodiscard]] double ratio(double value) const noexcept {
    return threshold_ > 0 ? value / threshold_ : 0.0;
  }

private:
  double threshold_;
  double hysteresis_;
  severity_bands bands_;
  bool active_ = false;
  runtime::severity level_ = runtime::severity::info;
};

} // namespace pg::actors::realtime
