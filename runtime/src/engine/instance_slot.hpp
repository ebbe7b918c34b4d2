// SPDX-License-Identifier: Apache-2.0
// instance_slot.hpp — what one running instance of a component shares with the threads outside
// its actor: the watchdog (is a hook running, since when?), the supervisor (memory and CPU for
// quotas, abandon and stop flags) and metrics. Atomics, and the CPU meter (a short mutex): readers
// never block the actor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/heap_accounts.hpp"
#include "engine/thread_meter.hpp"
#include "phantomguard/runtime/throttle.hpp"

namespace pg::runtime::detail {

enum class hook_kind : int { none = 0, start, tick, batch, stop, factory };
std::string_view to_string(hook_kind k) noexcept;

inline std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct instance_slot {
  std::string name;
  std::uint64_t instance = 0;
  std::int64_t handler_timeout_ns = 0; // 0 = no watchdog for this instance

  std::atomic<std::int64_t> busy_since_ns{0}; // 0 while no hook runs
  std::atomic<int> hook{0};
  std::atomic<std::int64_t> edge{-1}; // the input edge of the running on_batch, or -1
  std::atomic<bool> hang_reported{false};
  std::atomic<bool> abandoned{false};        // replaced: must not touch anything shared again
  std::atomic<bool> stop_requested{false};   // context::should_stop()
  std::atomic<std::int64_t> memory_bytes{0}; // explicit: account_memory (C libraries, a child)
  heap::account_id heap_account = 0;         // what its threads allocate (heap_accounts.hpp)
  std::atomic<int> quota_level{0};     // the ladder's step, for the pacer: 1 and up = throttled
  thread_meter meter;                  // CPU time of every thread of the instance
  std::atomic<std::int64_t> events{0}; // events_in (consumers) or events_out (sources)
  throttle_settings placement;         // nice, io_class, cpu_affinity of each of its threads
  std::shared_ptr<pause_gate> gate;    // the adaptive pause; null without `throttle = {...}`

  /// What the instance holds now: its threads' heap allocations plus what it accounts itself.
  [[nodiscard]] std::int64_t memory_now() const noexcept {
    return heap::bytes(heap_account) + memory_bytes.load(std::memory_order_relaxed);
  }
};

} // namespace pg::runtime::detail
