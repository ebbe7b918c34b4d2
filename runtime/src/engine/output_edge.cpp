// SPDX-License-Identifier: Apache-2.0
#include "engine/output_edge.hpp"

#include <algorithm>

namespace pg::runtime::detail {

batch_ptr slice_batch(const event_batch& b, std::size_t from, std::size_t to) {
  std::vector<event> events(b.events.begin() + static_cast<std::ptrdiff_t>(from),
                            b.events.begin() + static_cast<std::ptrdiff_t>(to));
  return make_batch(std::move(events));
}

output_edge::output_edge(out_edge_spec spec)
    : spec_(std::move(spec)),
      credit_events_(static_cast<std::int64_t>(spec_.mailbox.window_events)),
      credit_bytes_(static_cast<std::int64_t>(spec_.mailbox.window_bytes)) {}

void output_edge::push_pending(batch_ptr b) {
  auto e = static_cast<std::int64_t>(b->size());
  auto by = static_cast<std::int64_t>(b->bytes);
  pending_events_ += e;
  pending_bytes_ += by;
  stats().pending_events.fetch_add(e, std::memory_order_relaxed);
  stats().pending_bytes.fetch_add(by, std::memory_order_relaxed);
  pending_.push_back(std::move(b));
}

batch_ptr output_edge::take_sendable() {
  if (credit_events_ <= 0 || credit_bytes_ <= 0)
    return nullptr;
  auto b = pending_.front();
  auto n = b->size();
  auto fit = n;
  if (static_cast<std::int64_t>(n) > credit_events_ ||
      static_cast<std::int64_t>(b->bytes) > credit_bytes_) {
    // Split: the prefix that fits both windows. An event larger than the whole byte window
    // still goes alone when nothing is in flight, or the edge would stall forever.
    fit = std::min<std::size_t>(n, static_cast<std::size_t>(credit_events_));
    std::int64_t bytes = 0;
    std::size_t k = 0;
    for (; k < fit; ++k) {
      auto eb = static_cast<std::int64_t>(b->events[k].approx_bytes());
      if (bytes + eb > credit_bytes_)
        break;
      bytes += eb;
    }
    fit = k;
    if (fit == 0) {
      if (!unacked_.empty())
        return nullptr;
      fit = 1;
    }
  }
  pending_.pop_front();
  batch_ptr out = b;
  if (fit < n) {
    out = slice_batch(*b, 0, fit);
    auto rest = slice_batch(*b, fit, n);
    pending_.push_front(rest);
    // The byte estimate of the two halves may differ slightly from the whole: re-base.
    auto diff =
        static_cast<std::int64_t>(out->bytes + rest->bytes) - static_cast<std::int64_t>(b->bytes);
    pending_bytes_ += diff;
    stats().pending_bytes.fetch_add(diff, std::memory_order_relaxed);
  }
  auto e = static_cast<std::int64_t>(out->size());
  auto by = static_cast<std::int64_t>(out->bytes);
  pending_events_ -= e;
  pending_bytes_ -= by;
  stats().pending_events.fetch_sub(e, std::memory_order_relaxed);
  stats().pending_bytes.fetch_sub(by, std::memory_order_relaxed);
  credit_events_ -= e;
  credit_bytes_ -= by;
  stats().add_queued(e, by);
  unacked_.push_back(out);
  return out;
}

void output_edge::drop(drop_reason r, std::int64_t events, std::int64_t bytes) {
  stats().add_dropped(r, events);
  pending_events_ -= events;
  pending_bytes_ -= bytes;
  stats().pending_events.fetch_sub(events, std::memory_order_relaxed);
  stats().pending_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

void output_edge::drop_pending_front(drop_reason r) {
  auto b = pending_.front();
  pending_.pop_front();
  drop(r, static_cast<std::int64_t>(b->size()), static_cast<std::int64_t>(b->bytes));
}

void output_edge::enforce_policy() {
  const auto& mb = spec_.mailbox;
  const auto cap_e = static_cast<std::int64_t>(mb.window_events);
  const auto cap_b = static_cast<std::int64_t>(mb.window_bytes);
  auto over = [&] { return pending_events_ > cap_e || pending_bytes_ > cap_b; };
  switch (mb.policy) {
  case overflow_policy::block:
    return; // the producer pauses instead (see blocking())
  case overflow_policy::drop_newest:
    while (over() && !pending_.empty()) {
      auto b = pending_.back();
      pending_.pop_back();
      auto e = static_cast<std::int64_t>(b->size());
      auto by = static_cast<std::int64_t>(b->bytes);
      // Keep the prefix that still fits, drop the newest tail.
      auto room_e = cap_e - (pending_events_ - e);
      auto room_b = cap_b - (pending_bytes_ - by);
      std::size_t keep = 0;
      std::int64_t kb = 0;
      while (keep < b->size() && static_cast<std::int64_t>(keep) < room_e) {
        auto eb = static_cast<std::int64_t>(b->events[keep].approx_bytes());
        if (kb + eb > room_b)
          break;
        kb += eb;
        ++keep;
      }
      if (keep == 0) {
        drop(drop_reason::newest, e, by);
        continue;
      }
      auto head = slice_batch(*b, 0, keep);
      drop(drop_reason::newest, e, by);
      push_pending(head);
      // push_pending added the kept head back; count only the tail as dropped.
      stats().add_dropped(drop_reason::newest, -static_cast<std::int64_t>(head->size()));
      break;
    }
    return;
  case overflow_policy::drop_oldest:
  case overflow_policy::sample: {
    auto reason = mb.policy == overflow_policy::sample ? drop_reason::sampled : drop_reason::oldest;
    if (mb.policy == overflow_policy::sample && !pending_.empty() && credit_events_ <= 0) {
      // The window is full: thin the newest batch to 1 in N.
      auto b = pending_.back();
      pending_.pop_back();
      auto every = std::max<std::uint64_t>(1, mb.sample_every);
      thinned_target_ = std::max(thinned_target_, b->size());
      std::int64_t kept = 0;
      std::int64_t kept_bytes = 0;
      for (const auto& ev : b->events) {
        if (sample_counter_++ % every == 0) {
          thinned_.push_back(ev);
          kept_bytes += static_cast<std::int64_t>(ev.approx_bytes());
          ++kept;
        }
      }
      drop(drop_reason::sampled, static_cast<std::int64_t>(b->size()),
           static_cast<std::int64_t>(b->bytes));
      // The survivors stay pending (in thinned_) and are not dropped.
      stats().add_dropped(drop_reason::sampled, -kept);
      pending_events_ += kept;
      pending_bytes_ += kept_bytes;
      stats().pending_events.fetch_add(kept, std::memory_order_relaxed);
      stats().pending_bytes.fetch_add(kept_bytes, std::memory_order_relaxed);
      if (thinned_.size() >= thinned_target_)
        release_thinned();
    }
    while (over() && pending_.size() > 1)
      drop_pending_front(reason);
    if (over() && !pending_.empty()) {
      // One batch bigger than the window: keep its newest events.
      auto b = pending_.front();
      pending_.pop_front();
      auto n = b->size();
      auto keep = std::min<std::size_t>(n, static_cast<std::size_t>(cap_e));
      auto tail = slice_batch(*b, n - keep, n);
      drop(reason, static_cast<std::int64_t>(n), static_cast<std::int64_t>(b->bytes));
      push_pending(tail);
      stats().add_dropped(reason, -static_cast<std::int64_t>(tail->size()));
    }
    return;
  }
  }
}

void output_edge::release_thinned() {
  if (thinned_.empty())
    return;
  std::vector<event> events;
  events.swap(thinned_);
  auto b = make_batch(std::move(events));
  // The events are already counted pending; re-base the byte estimate on the batch's own.
  auto e = static_cast<std::int64_t>(b->size());
  std::int64_t est = 0;
  for (const auto& ev : b->events)
    est += static_cast<std::int64_t>(ev.approx_bytes());
  pending_events_ -= e;
  pending_bytes_ -= est;
  stats().pending_events.fetch_sub(e, std::memory_order_relaxed);
  stats().pending_bytes.fetch_sub(est, std::memory_order_relaxed);
  push_pending(std::move(b));
}

void output_edge::settle_taken() {
  auto extra = stats().taken_in(spec_.epoch) - settled_;
  while (extra-- > 0 && !unacked_.empty()) {
    unacked_.pop_front(); // queued was settled by the consumer when it took the batch
    ++settled_;
  }
}

void output_edge::on_ack(std::uint64_t epoch, std::int64_t grant_events, std::int64_t grant_bytes) {
  if (epoch != spec_.epoch || unacked_.empty())
    return;
  unacked_.pop_front();
  ++settled_;
  credit_events_ += grant_events;
  credit_bytes_ += grant_bytes;
}

void output_edge::on_grant(std::uint64_t epoch, std::int64_t grant_events,
                           std::int64_t grant_bytes) {
  if (epoch != spec_.epoch)
    return;
  credit_events_ += grant_events;
  credit_bytes_ += grant_bytes;
}

void output_edge::rewire(std::uint64_t epoch) {
  settle_taken(); // what the old instance took is accounted (delivered or failed): not resent
  spec_.epoch = epoch;
  settled_ = 0; // a new wiring: its consumer has taken nothing yet
  connected_ = true;
  credit_events_ = static_cast<std::int64_t>(spec_.mailbox.window_events);
  credit_bytes_ = static_cast<std::int64_t>(spec_.mailbox.window_bytes);
  // Unacked batches were in the old consumer's mailbox: send them again, oldest first.
  while (!unacked_.empty()) {
    auto b = unacked_.back();
    unacked_.pop_back();
    auto e = static_cast<std::int64_t>(b->size());
    auto by = static_cast<std::int64_t>(b->bytes);
    stats().add_queued(-e, -by);
    pending_events_ += e;
    pending_bytes_ += by;
    stats().pending_events.fetch_add(e, std::memory_order_relaxed);
    stats().pending_bytes.fetch_add(by, std::memory_order_relaxed);
    pending_.push_front(std::move(b));
  }
  eos_sent = false;
}

void output_edge::drop_front_unacked(drop_reason reason) {
  if (unacked_.empty())
    return;
  auto b = unacked_.front();
  unacked_.pop_front();
  ++settled_;
  auto e = static_cast<std::int64_t>(b->size());
  auto by = static_cast<std::int64_t>(b->bytes);
  stats().add_queued(-e, -by);
  stats().add_dropped(reason, e);
}

void output_edge::close(drop_reason reason) {
  settle_taken();
  release_thinned();
  while (!unacked_.empty())
    drop_front_unacked(reason);
  while (!pending_.empty())
    drop_pending_front(reason);
  connected_ = false;
}

double output_edge::fill() const noexcept {
  auto we = static_cast<double>(spec_.mailbox.window_events);
  auto wb = static_cast<double>(spec_.mailbox.window_bytes);
  double fe = we > 0 ? 1.0 - static_cast<double>(credit_events_) / we : 1.0;
  double fb = wb > 0 ? 1.0 - static_cast<double>(credit_bytes_) / wb : 1.0;
  return std::clamp(std::max(fe, fb), 0.0, 1.0);
}

congestion_change output_edge::update_congestion() noexcept {
  auto f = fill();
  if (!congested_ && f >= 0.9) {
    congested_ = true;
    drops_at_episode_start_ = spec_.stats->dropped_total();
    drop_reported_ = false;
    return congestion_change::congested;
  }
  if (congested_ && f < 0.7) {
    congested_ = false;
    episode_drops_ = spec_.stats->dropped_total() - drops_at_episode_start_;
    return congestion_change::recovered;
  }
  return congestion_change::none;
}

bool output_edge::note_drops_for_finding() noexcept {
  auto now = spec_.stats->dropped_total() - drops_at_episode_start_;
  episode_drops_ = now;
  if (now > 0 && !drop_reported_) {
    drop_reported_ = true;
    return true;
  }
  return false;
}

} // namespace pg::runtime::detail
