// SPDX-License-Identifier: Apache-2.0
// finding_hub.hpp — where every finding of one engine ends up: the scan report's list and the
// caller's on_finding callback, serialised by one mutex (callbacks never run concurrently).
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "engine/heap_accounts.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::runtime::detail {

class finding_hub {
public:
  /// keep: collect into a list (scan); run mode only calls the callback, so memory stays flat.
  void configure(bool keep, std::function<void(const finding&)> callback) {
    std::lock_guard guard{mutex_};
    keep_ = keep;
    callback_ = std::move(callback);
  }
  void publish(const finding& f) {
    // Called on the emitting component's thread: what the hub and its callback keep (the
    // daemon's ring of recent findings) is the engine's, not charged to that component's
    // memory quota (it stayed charged until the ring evicted it: a FIM analyzer re-reporting
    // changes seemed to grow by 3 KiB a finding).
    struct engine_account {
      heap::account_id previous = heap::set_thread_account(0);
      ~engine_account() { heap::set_thread_account(previous); }
    } as_engine;
    std::lock_guard guard{mutex_};
    if (keep_)
      all_.push_back(f);
    if (callback_)
      callback_(f);
  }
  std::vector<finding> take() {
    std::lock_guard guard{mutex_};
    return std::move(all_);
  }

private:
  std::mutex mutex_;
  bool keep_ = false;
  std::function<void(const finding&)> callback_;
  std::vector<finding> all_;
};

} // namespace pg::runtime::detail
