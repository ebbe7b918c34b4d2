// SPDX-License-Identifier: Apache-2.0
// watchdog.hpp — a plain thread, outside the CAF scheduler, that notices a hook running longer
// than its instance's handler_timeout. It only reports (once per hook); the supervisor decides.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/instance_slot.hpp"

namespace pg::runtime::detail {

class watchdog {
public:
  /// `on_hung(slot, elapsed_ns)` runs on the watchdog thread.
  explicit watchdog(
      std::function<void(const std::shared_ptr<instance_slot>&, std::int64_t)> on_hung);
  ~watchdog();
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  void watch(std::shared_ptr<instance_slot> slot);

private:
  void loop();

  std::function<void(const std::shared_ptr<instance_slot>&, std::int64_t)> on_hung_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::weak_ptr<instance_slot>> slots_;
  std::thread thread_;
};

} // namespace pg::runtime::detail
