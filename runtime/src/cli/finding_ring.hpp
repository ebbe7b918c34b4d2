// SPDX-License-Identifier: Apache-2.0
// finding_ring.hpp — the daemon's last findings, numbered from 1, for /api/v1/findings and the
// /api/v1/stream feed: bounded (the oldest go first), and a reader can wait for newer ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include <nlohmann/json.hpp>

#include "phantomguard/runtime/finding.hpp"

namespace pg::cli {

class finding_ring {
public:
  explicit finding_ring(std::size_t capacity) : capacity_(capacity) {}

  void push(const runtime::finding& f);

  /// {"findings": [...with "seq"], "next", "last", "dropped_before"}: those after `since`, at
  /// `min_level` or above, at most `limit`.
  nlohmann::json after(std::uint64_t since, runtime::severity min_level, std::size_t limit);

  /// Waits until a finding newer than `seq` exists, at most `timeout`; the newest seq.
  std::uint64_t wait_newer(std::uint64_t seq, std::chrono::milliseconds timeout);

  /// Wakes every waiter (the server is stopping).
  void wake();

  [[nodiscard]] std::uint64_t last() const;

private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<std::uint64_t, runtime::finding>> ring_;
  std::size_t capacity_;
  std::uint64_t last_ = 0;
  bool stopping_ = false;
};

} // namespace pg::cli
