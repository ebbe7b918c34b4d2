// SPDX-License-Identifier: Apache-2.0
#include "engine/component_stats.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <limits>

#include "engine/edge_stats.hpp"

namespace pg::runtime::detail {

std::string_view to_string(drop_reason r) noexcept {
  switch (r) {
  case drop_reason::newest:
    return "newest";
  case drop_reason::oldest:
    return "oldest";
  case drop_reason::sampled:
    return "sampled";
  case drop_reason::shed:
    return "shed";
  case drop_reason::failure:
    return "failure";
  case drop_reason::timeout:
    return "timeout";
  case drop_reason::restart:
    return "restart";
  case drop_reason::disabled:
    return "disabled";
  }
  return "?";
}

namespace {
void atomic_max(std::atomic<std::int64_t>& a, std::int64_t v) noexcept {
  auto cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}
void atomic_max(std::atomic<std::uint64_t>& a, std::uint64_t v) noexcept {
  auto cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}
void atomic_min(std::atomic<std::uint64_t>& a, std::uint64_t v) noexcept {
  auto cur = a.load(std::memory_order_relaxed);
  while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}
} // namespace

void edge_stats::add_queued(std::int64_t events, std::int64_t bytes) noexcept {
  auto e = queued_events.fetch_add(events, std::memory_order_relaxed) + events;
  auto b = queued_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (events > 0) {
    atomic_max(max_queued_events, e);
    atomic_max(max_queued_bytes, b);
  }
}

void latency_histogram::record(std::uint64_t micros) noexcept {
  auto idx = static_cast<std::size_t>(std::bit_width(micros));
  if (idx >= bucket_count)
    idx = bucket_count - 1;
  buckets_[idx].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(micros, std::memory_order_relaxed);
  atomic_min(min_, micros);
  atomic_max(max_, micros);
}

histogram_snapshot latency_histogram::snapshot() const noexcept {
  histogram_snapshot s;
  s.count = count_.load(std::memory_order_relaxed);
  if (s.count == 0)
    return s;
  s.sum = static_cast<double>(sum_.load(std::memory_order_relaxed));
  s.min = static_cast<double>(min_.load(std::memory_order_relaxed));
  s.max = static_cast<double>(max_.load(std::memory_order_relaxed));
  // Bucket i holds values in [2^(i-1), 2^i); report the bucket's upper bound, capped by max.
  auto quantile = [&](double q) {
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(s.count - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank) {
        double upper = i == 0 ? 0.0 : static_cast<double>((std::uint64_t{1} << i) - 1);
        return upper < s.max ? upper : s.max;
      }
    }
    return s.max;
  };
  s.p50 = quantile(0.50);
  s.p95 = quantile(0.95);
  s.p99 = quantile(0.99);
  // Cumulative at 2^k microseconds for a few k (16 us ... 16.8 s): bucket i holds values below
  // 2^i, so the buckets up to i hold every value <= 2^i - 1 < 2^i.
  std::uint64_t seen = 0;
  std::size_t next = 0;
  static constexpr std::array<std::size_t, 8> bounds = {4, 7, 10, 12, 14, 17, 20, 24};
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (next < bounds.size() && i == bounds[next]) {
      s.buckets.emplace_back(static_cast<double>(std::uint64_t{1} << bounds[next]), seen);
      ++next;
    }
  }
  // Read after `count`: a record in between may have added to the buckets, so +Inf (and the
  // count) is what the buckets hold, and the cumulative counts never decrease.
  s.count = std::max(s.count, seen);
  s.buckets.emplace_back(std::numeric_limits<double>::infinity(), s.count);
  return s;
}

std::string_view to_string(component_status s) noexcept {
  switch (s) {
  case component_status::starting:
    return "starting";
  case component_status::running:
    return "running";
  case component_status::finished:
    return "finished";
  case component_status::stopped:
    return "stopped";
  case component_status::disabled:
    return "disabled";
  }
  return "?";
}

void component_stats::count(std::string_view key, std::int64_t delta) {
  std::lock_guard guard{mutex_};
  auto it = custom_counters_.find(key);
  if (it == custom_counters_.end())
    custom_counters_.emplace(std::string(key), delta);
  else
    it->second += delta;
}

void component_stats::add_lost(std::string_view cause, std::int64_t n) {
  std::lock_guard guard{mutex_};
  auto it = lost_.find(cause);
  if (it == lost_.end())
    lost_.emplace(std::string(cause), n);
  else
    it->second += n;
}

void component_stats::gauge(std::string_view key, double value) {
  std::lock_guard guard{mutex_};
  auto it = custom_gauges_.find(key);
  if (it == custom_gauges_.end())
    custom_gauges_.emplace(std::string(key), value);
  else
    it->second = value;
}

namespace {
std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

void io_totals::add(const io_counters& d) noexcept {
  read_chars.fetch_add(d.read_chars, std::memory_order_relaxed);
  write_chars.fetch_add(d.write_chars, std::memory_order_relaxed);
  storage_read.fetch_add(d.storage_read, std::memory_order_relaxed);
  storage_write.fetch_add(d.storage_write, std::memory_order_relaxed);
}

void component_stats::set_memory(std::int64_t bytes) noexcept {
  memory_bytes.store(bytes, std::memory_order_relaxed);
  auto peak = memory_peak_bytes.load(std::memory_order_relaxed);
  while (bytes > peak &&
         !memory_peak_bytes.compare_exchange_weak(peak, bytes, std::memory_order_relaxed)) {
  }
}

void component_stats::set_paused(bool paused, const std::string& reason) {
  std::lock_guard guard{mutex_};
  const auto now = monotonic_ns();
  if (paused && !paused_) {
    pauses.fetch_add(1, std::memory_order_relaxed);
    paused_since_ns_ = now;
  } else if (!paused && paused_) {
    paused_ns_ += now - paused_since_ns_;
  }
  paused_ = paused;
  pause_reason_ = paused ? reason : std::string();
}

bool component_stats::paused() const {
  std::lock_guard guard{mutex_};
  return paused_;
}

std::string component_stats::pause_reason() const {
  std::lock_guard guard{mutex_};
  return pause_reason_;
}

component_metrics component_stats::snapshot() const {
  component_metrics m;
  m.name = name;
  auto ld = [](const std::atomic<std::int64_t>& a) { return a.load(std::memory_order_relaxed); };
  m.counters["events_in"] = ld(events_in);
  m.counters["events_out"] = ld(events_out);
  m.counters["restarts"] = ld(restarts);
  m.counters["failures"] = ld(failures);
  m.counters["ticks"] = ld(ticks);
  m.counters["skipped_ticks"] = ld(skipped_ticks);
  m.counters["throttled_ticks"] = ld(throttled_ticks);
  m.counters["cpu_time_us"] = ld(cpu_ns) / 1000;
  m.counters["engine_findings_in"] = ld(engine_findings_in);
  m.gauges["memory_bytes"] = static_cast<double>(ld(memory_bytes));
  m.gauges["memory_peak_bytes"] = static_cast<double>(ld(memory_peak_bytes));
  auto io_ld = [](const std::atomic<std::uint64_t>& a) {
    return static_cast<std::int64_t>(a.load(std::memory_order_relaxed));
  };
  m.counters["read_bytes"] = io_ld(io.read_chars);
  m.counters["write_bytes"] = io_ld(io.write_chars);
  m.counters["storage_read_bytes"] = io_ld(io.storage_read);
  m.counters["storage_write_bytes"] = io_ld(io.storage_write);
  m.gauges["status"] = status.load(std::memory_order_relaxed);
  m.gauges["quota_level"] = quota_level.load(std::memory_order_relaxed);
  m.histograms["handler_latency_us"] = handler_latency.snapshot();
  m.counters["pauses"] = ld(pauses);
  m.counters["deferred_ticks"] = ld(deferred_ticks);
  std::lock_guard guard{mutex_};
  m.gauges["paused"] = paused_ ? 1 : 0;
  m.paused_because = pause_reason_;
  m.counters["paused_us"] = (paused_ns_ + (paused_ ? monotonic_ns() - paused_since_ns_ : 0)) / 1000;
  for (const auto& [k, v] : custom_counters_)
    m.counters["custom." + k] = v;
  for (const auto& [k, v] : custom_gauges_)
    m.gauges["custom." + k] = v;
  std::int64_t lost = 0;
  for (const auto& [k, v] : lost_) {
    m.counters["lost_" + k] = v;
    lost += v;
  }
  m.counters["events_lost"] = lost;
  return m;
}

} // namespace pg::runtime::detail
