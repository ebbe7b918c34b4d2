#include "phantomguard/actors/realtime/threshold_tracker.hpp"

namespace pg::actors::realtime {

runtime::severity severity_for_ratio(double ratio, const severity_bands& b) {
  using runtime::severity;
  if (ratio >= b.critical)
    return severity::critical;
  if (ratio >= b.high)
    return severity::high;
  if (ratio >= b.medium)
    return severity::medium;
  return severity::low;
}

threshold_tracker::transition threshold_tracker::update(double value) {
  if (threshold_ <= 0)
    return transition::none;
  if (!active_) {
    if (value < threshold_)
      return transition::none;
    active_ = true;
    level_ = severity_for_ratio(ratio(value), bands_);
    return transition::raised;
  }
  if (value < clear_level()) {
    active_ = false;
    level_ = runtime::severity::info;
    return transition::cleared;
  }
  auto now = severity_for_ratio(ratio(value), bands_);
  if (value >= threshold_ && now > level_) {
    level_ = now;
    return transition::escalated;
  }
  return transition::none;
}

} // namespace pg::actors::realtime
