// SPDX-License-Identifier: Apache-2.0
// remote_delivery.hpp — what every remote sink (http, syslog) shares: findings appended to a
// delivery spool by the sink's hooks, and a thread of its own that sends them in batches
// through the sink's `send`, acknowledging a batch only when `send` says it arrived. Retries
// with exponential backoff and jitter (Retry-After honoured), a circuit breaker, rejections
// that are not retried, and the reports the hooks make of it all: counters (delivered, failed,
// retries, rejected), gauges (spool_records, spool_bytes, breaker_open, last_success_time),
// losses (spool_full, rejected, spool_damaged) and the findings engine.sink_delivery_failing,
// engine.sink_delivery_recovered and engine.sink_rejected.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "phantomguard/actors/sink/delivery_spool.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/event.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::sink {

/// What a send attempt came to.
struct delivery_result {
  enum class kind { delivered, retry, reject } outcome = kind::delivered;
  std::string error;                                    // retry, reject: why
  std::optional<std::chrono::milliseconds> retry_after; // retry: the receiver asked
};

struct remote_delivery_settings {
  std::string target; // what the messages name ("http://...", "tcp://...")
  std::size_t batch_max = 500;
  std::size_t batch_bytes = 1u << 20;
  std::chrono::milliseconds batch_delay{1000};
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60000};
  unsigned breaker_failures = 5;
  std::chrono::milliseconds breaker_cooldown{30000};
  std::chrono::milliseconds drain_timeout{5000};
  std::uint64_t spool_max = 256ull << 20;
  fsync_policy spool_fsync = fsync_policy::interval;

  /// Reads the shared keys (remote_delivery_options) from a sink's settings.
  static remote_delivery_settings from(const runtime::component_settings& s, std::string target);
};

/// The options every remote sink accepts for its batches, retries, breaker and spool.
std::vector<runtime::option_spec> remote_delivery_options();

class remote_delivery {
public:
  /// Sends one batch of spooled records (already formatted); runs on the delivery thread.
  using sender = std::function<delivery_result(const std::vector<std::string>& records)>;

  remote_delivery(std::string sink_name, std::string state_dir, remote_delivery_settings settings);
  ~remote_delivery(); // stops the thread at once (what is left stays in the spool)
  remote_delivery(const remote_delivery&) = delete;
  remote_delivery& operator=(const remote_delivery&) = delete;

  /// Opens the spool (replaying what a previous run left) and starts the delivery thread.
  void start(runtime::context& ctx, sender send);
  /// A sink's on_batch: every finding at `min_level` or above spooled as `record` makes it
  /// (others counted as ignored or below_min_severity), then synced as the policy says, the
  /// thread woken and the outcome reported. A finding that cannot be kept is lost (spool_full).
  void spool(const runtime::event_batch& batch, runtime::context& ctx, runtime::severity min_level,
             const std::function<std::string(const runtime::finding&)>& record);
  void report(runtime::context& ctx);
  /// Keeps sending for drain_timeout, then stops the thread and reports.
  void stop(runtime::context& ctx);

private:
  void loop(const sender& send);

  std::string name_;
  std::string spool_dir_;
  remote_delivery_settings s_;
  std::unique_ptr<delivery_spool> spool_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_until_{};
  std::chrono::steady_clock::time_point first_pending_{};

  std::atomic<std::int64_t> delivered_{0};
  std::atomic<std::int64_t> failed_{0};
  std::atomic<std::int64_t> rejected_{0};
  std::atomic<double> last_success_{0};
  std::atomic<bool> failing_{false};
  std::atomic<bool> breaker_open_{false};
  std::mutex error_mutex_;
  std::string last_error_;
  std::string rejected_error_;
  bool reported_failing_ = false;
};

} // namespace pg::actors::sink
