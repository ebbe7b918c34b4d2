// SPDX-License-Identifier: Apache-2.0
// component_stats.hpp — the live metrics of one component, kept by the engine across restarts
// of the component's actor. Hot counters are relaxed atomics written by the component's actor;
// named counters/gauges from context::count/gauge sit behind a mutex (they are rare).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "phantomguard/runtime/io_usage.hpp"
#include "phantomguard/runtime/metrics.hpp"

namespace pg::runtime::detail {

/// A lock-free latency histogram with power-of-two buckets (microseconds). Percentiles are
/// read from the buckets, so they are accurate to a factor of two — enough to spot a slow hook.
class latency_histogram {
public:
  void record(std::uint64_t micros) noexcept;
  [[nodiscard]] histogram_snapshot snapshot() const noexcept;

private:
  static constexpr std::size_t bucket_count = 40;
  std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> min_{~std::uint64_t{0}};
  std::atomic<std::uint64_t> max_{0};
};

/// The I/O of a component's threads, all instances (task I/O accounting, io_usage.hpp).
struct io_totals {
  std::atomic<std::uint64_t> read_chars{0};
  std::atomic<std::uint64_t> write_chars{0};
  std::atomic<std::uint64_t> storage_read{0};
  std::atomic<std::uint64_t> storage_write{0};
  void add(const io_counters& delta) noexcept;
};

enum class component_status : int { starting = 0, running, finished, stopped, disabled };
std::string_view to_string(component_status s) noexcept;

struct component_stats {
  std::string name;
  std::atomic<std::int64_t> events_in{0};
  std::atomic<std::int64_t> events_out{0};
  std::atomic<std::int64_t> restarts{0};
  std::atomic<std::int64_t> failures{0};
  std::atomic<std::int64_t> ticks{0};
  std::atomic<std::int64_t> skipped_ticks{0};     // block policy: a source skipped a tick
  std::atomic<std::int64_t> throttled_ticks{0};   // quota throttle: a source skipped a tick
  std::atomic<std::int64_t> cpu_ns{0};            // CPU time of its threads, all instances
  std::atomic<std::int64_t> memory_bytes{0};      // current instance: pmr + account_memory
  std::atomic<std::int64_t> memory_peak_bytes{0}; // the most memory_bytes was, any instance
  std::atomic<std::int64_t> engine_findings_in{0};
  std::atomic<int> status{0};
  std::atomic<int> quota_level{0};
  std::atomic<std::int64_t> pauses{0};         // adaptive throttle: pauses begun
  std::atomic<std::int64_t> deferred_ticks{0}; // ticks held while paused
  latency_histogram handler_latency;
  io_totals io;

  /// Sets memory_bytes (the current instance's figure) and raises the peak with it.
  void set_memory(std::int64_t bytes) noexcept;

  /// The adaptive throttle paused (with why) or resumed the component's work.
  void set_paused(bool paused, const std::string& reason);
  [[nodiscard]] bool paused() const;
  [[nodiscard]] std::string pause_reason() const; // "" while not paused

  void count(std::string_view key, std::int64_t delta);
  /// Events lost outside the edges, by cause (exported as lost_<cause>).
  void add_lost(std::string_view cause, std::int64_t n);
  void gauge(std::string_view key, double value);

  /// Copies everything but the edge figures (the engine adds those).
  [[nodiscard]] component_metrics snapshot() const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t, std::less<>> custom_counters_;
  std::map<std::string, double, std::less<>> custom_gauges_;
  std::map<std::string, std::int64_t, std::less<>> lost_;
  bool paused_ = false;
  std::string pause_reason_;
  std::int64_t paused_since_ns_ = 0;
  std::int64_t paused_ns_ = 0; // finished pauses
};

} // namespace pg::runtime::detail
