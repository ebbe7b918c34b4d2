// SPDX-License-Identifier: Apache-2.0
// edge_stats.hpp — the shared account of one pipeline edge (producer → consumer). Both ends
// update it with relaxed atomics, so metrics() can read it from any thread without asking the
// actors, and it survives restarts of either end (conservation spans instances).
#pragma once

#include <array>
#include <atomic>
#include <mutex>
#include <cstdint>
#include <string>
#include <string_view>

namespace pg::runtime::detail {

/// Why an event did not reach its consumer. Every reason is a metric `dropped_<reason>`.
enum class drop_reason : std::uint8_t {
  newest,   // drop_newest: no room for the incoming events
  oldest,   // drop_oldest: the oldest held events made room
  sampled,  // sample: thinned to 1 in N while the window was full
  shed,     // quota escalation: the consumer sheds its input
  failure,  // the batch the consumer threw on
  timeout,  // the batch the consumer hung on (handler_timeout)
  restart,  // held by a producer that failed, or on an edge removed by reload
  disabled, // the consumer was disabled
};
inline constexpr std::size_t drop_reason_count = 8;

std::string_view to_string(drop_reason r) noexcept;

struct edge_stats {
  std::string producer;
  std::string consumer;
  std::uint64_t window_events = 0;
  std::uint64_t window_bytes = 0;

  std::atomic<std::int64_t> produced{0};  // offered to the edge by the producer
  std::atomic<std::int64_t> delivered{0}; // handed to the consumer's on_batch
  std::array<std::atomic<std::int64_t>, drop_reason_count> dropped{};
  std::atomic<std::int64_t> queued_events{0}; // sent, not yet consumed (the consumer's mailbox)
  std::atomic<std::int64_t> queued_bytes{0};
  std::atomic<std::int64_t> pending_events{0}; // held by the producer, waiting for credit
  std::atomic<std::int64_t> pending_bytes{0};
  // Batches the consumer took off its queue in the edge's current wiring (epoch) and accounted
  // itself (delivered, shed, or dropped for a failure). A close or rewire of the producer can
  // overtake the acks of those batches (they come from another actor): it settles that many
  // unacked batches without counting or sending them again.
  void note_taken(std::uint64_t epoch) {
    std::lock_guard lock(taken_mutex_);
    if (epoch > taken_epoch_) {
      taken_epoch_ = epoch;
      taken_count_ = 1;
    } else if (epoch == taken_epoch_) {
      ++taken_count_;
    }
  }
  [[nodiscard]] std::int64_t taken_in(std::uint64_t epoch) {
    std::lock_guard lock(taken_mutex_);
    return epoch == taken_epoch_ ? taken_count_ : 0;
  }
  std::atomic<std::int64_t> max_queued_events{0}; // high-water marks, to prove the bound
  std::atomic<std::int64_t> max_queued_bytes{0};

  void add_dropped(drop_reason r, std::int64_t n) noexcept {
    dropped[static_cast<std::size_t>(r)].fetch_add(n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::int64_t dropped_total() const noexcept {
    std::int64_t n = 0;
    for (const auto& d : dropped)
      n += d.load(std::memory_order_relaxed);
    return n;
  }
  void add_queued(std::int64_t events, std::int64_t bytes) noexcept;

private:
  std::mutex taken_mutex_;
  std::uint64_t taken_epoch_ = 0;
  std::int64_t taken_count_ = 0;

public:
};

} // namespace pg::runtime::detail
