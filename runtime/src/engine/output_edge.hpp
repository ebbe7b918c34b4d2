// SPDX-License-Identifier: Apache-2.0
// output_edge.hpp — the producer's side of one credit-controlled edge: the credit it holds, the
// batches waiting for credit (pending) and the batches sent but not yet consumed (unacked, kept so
// they can be re-sent to a restarted consumer). No CAF: the owning actor passes a send function.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>

#include "engine/edge_stats.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/event.hpp"

namespace pg::runtime::detail {

/// Copies events [from, to) of `b` into a new batch (used only when credit splits a batch).
batch_ptr slice_batch(const event_batch& b, std::size_t from, std::size_t to);

struct out_edge_spec {
  std::uint32_t edge_id = 0;
  std::uint64_t epoch = 0;
  mailbox_settings mailbox; // the consumer's window and overflow policy
  std::shared_ptr<edge_stats> stats;
};

/// What a change in fill means for the engine's findings (hysteresis: 90% up, 70% down).
enum class congestion_change { none, congested, recovered };

class output_edge {
public:
  explicit output_edge(out_edge_spec spec);

  [[nodiscard]] std::uint32_t id() const noexcept { return spec_.edge_id; }
  [[nodiscard]] std::uint64_t epoch() const noexcept { return spec_.epoch; }
  [[nodiscard]] const out_edge_spec& spec() const noexcept { return spec_; }
  [[nodiscard]] edge_stats& stats() noexcept { return *spec_.stats; }
  [[nodiscard]] bool connected() const noexcept { return connected_; }

  /// Accepts a produced batch, sends what credit allows through `send(batch, epoch)`, then applies
  /// the overflow policy to what is left.
  template <class Send>
  void offer(batch_ptr b, Send&& send) {
    if (!b || b->empty())
      return;
    auto n = static_cast<std::int64_t>(b->size());
    stats().produced.fetch_add(n, std::memory_order_relaxed);
    push_pending(std::move(b));
    pump(send);
    enforce_policy();
  }

  /// Sends pending batches while credit lasts (splitting a batch to fit), then the end-of-stream
  /// marker once everything before it went out. Returns true when the marker was sent now.
  template <class Send>
  void pump(Send&& send) {
    if (!connected_)
      return;
    if (pending_.empty() && !thinned_.empty() && credit_events_ > 0)
      release_thinned();
    while (!pending_.empty()) {
      auto b = take_sendable();
      if (!b)
        break;
      send(b, spec_.epoch);
    }
  }

  /// The consumer processed the oldest unacked batch (`events`, `bytes`) and grants credit.
  void on_ack(std::uint64_t epoch, std::int64_t grant_events, std::int64_t grant_bytes);
  /// The consumer grants credit without consuming (it had withheld it).
  void on_grant(std::uint64_t epoch, std::int64_t grant_events, std::int64_t grant_bytes);

  /// A new consumer instance: unacked batches go back to the front of pending, credit resets.
  void rewire(std::uint64_t epoch);
  /// The consumer hung on the oldest unacked batch: count it dropped with `reason`.
  void drop_front_unacked(drop_reason reason);
  /// The edge goes away: everything held is counted dropped with `reason` (what the consumer
  /// already took and accounted is settled first, see settle_taken).
  void close(drop_reason reason);
  /// The consumer is down (restarting): hold everything until rewire().
  void disconnect() noexcept { connected_ = false; }

  [[nodiscard]] bool has_pending() const noexcept { return !pending_.empty() || !thinned_.empty(); }
  [[nodiscard]] bool has_unacked() const noexcept { return !unacked_.empty(); }
  /// Full for the producer's purposes: a block edge with events waiting for credit.
  [[nodiscard]] bool blocking() const noexcept {
    return spec_.mailbox.policy == overflow_policy::block && !pending_.empty();
  }

  /// Window fill in [0, 1] (events or bytes, whichever is fuller), and the hysteresis change.
  [[nodiscard]] double fill() const noexcept;
  congestion_change update_congestion() noexcept;
  /// Drops counted since the edge last became congested; true once per episode for the first.
  bool note_drops_for_finding() noexcept;
  [[nodiscard]] std::int64_t drops_in_episode() const noexcept { return episode_drops_; }

  bool eos_requested = false; // the producer finished: send end-of-stream after pending
  bool eos_sent = false;

private:
  /// The consumer took (and accounted) batches whose acks have not arrived yet: a close or
  /// rewire that overtakes them must neither count them again nor send them again.
  void settle_taken();
  std::int64_t settled_ = 0; // unacked batches of this wiring popped: acked, dropped or settled

  void push_pending(batch_ptr b);
  batch_ptr take_sendable();
  void enforce_policy();
  void drop_pending_front(drop_reason r);
  void drop(drop_reason r, std::int64_t events, std::int64_t bytes);
  void release_thinned();

  out_edge_spec spec_;
  bool connected_ = true;
  std::int64_t credit_events_;
  std::int64_t credit_bytes_;
  std::deque<batch_ptr> pending_;
  std::int64_t pending_events_ = 0;
  std::int64_t pending_bytes_ = 0;
  std::deque<batch_ptr> unacked_;
  std::uint64_t sample_counter_ = 0;
  // `sample` keeps 1 in N of each batch; the survivors are gathered here into full-size batches,
  // so thinning does not turn one message of N events into N messages of one.
  std::vector<event> thinned_;
  std::size_t thinned_target_ = 0;
  bool congested_ = false;
  std::int64_t drops_at_episode_start_ = 0;
  std::int64_t episode_drops_ = 0;
  bool drop_reported_ = false;
};

} // namespace pg::runtime::detail
