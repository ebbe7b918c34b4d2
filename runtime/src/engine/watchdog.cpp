// SPDX-License-Identifier: Apache-2.0
#include "engine/watchdog.hpp"

#include <algorithm>

namespace pg::runtime::detail {

std::string_view to_string(hook_kind k) noexcept {
  switch (k) {
  case hook_kind::none:
    return "none";
  case hook_kind::start:
    return "start";
  case hook_kind::tick:
    return "on_tick";
  case hook_kind::batch:
    return "on_batch";
  case hook_kind::stop:
    return "stop";
  case hook_kind::factory:
    return "factory";
  }
  return "?";
}

watchdog::watchdog(std::function<void(const std::shared_ptr<instance_slot>&, std::int64_t)> on_hung)
    : on_hung_(std::move(on_hung)), thread_([this] { loop(); }) {}

watchdog::~watchdog() {
  {
    std::lock_guard guard{mutex_};
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void watchdog::watch(std::shared_ptr<instance_slot> slot) {
  if (slot->handler_timeout_ns <= 0)
    return;
  std::lock_guard guard{mutex_};
  slots_.push_back(slot);
}

void watchdog::loop() {
  // 20 ms resolution: handler timeouts are seconds in production and >= 100 ms in tests.
  std::unique_lock lock{mutex_};
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(20));
    auto now = steady_now_ns();
    std::vector<std::pair<std::shared_ptr<instance_slot>, std::int64_t>> hung;
    std::erase_if(slots_, [](const auto& w) { return w.expired(); });
    for (const auto& w : slots_) {
      auto s = w.lock();
      if (!s || s->abandoned.load())
        continue;
      auto since = s->busy_since_ns.load(std::memory_order_acquire);
      if (since == 0) {
        s->hang_reported.store(false);
        continue;
      }
      auto elapsed = now - since;
      if (elapsed > s->handler_timeout_ns && !s->hang_reported.exchange(true))
        hung.emplace_back(s, elapsed);
    }
    lock.unlock();
    for (auto& [s, elapsed] : hung)
      on_hung_(s, elapsed);
    lock.lock();
  }
}

} // namespace pg::runtime::detail
