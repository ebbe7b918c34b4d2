// http_sink.hpp — the `http` sink: findings POSTed in batches to a webhook or a SIEM collector,
// through a delivery spool on disk (delivery_spool.hpp), so that an outage of the network or of
// the collector, a `kill -9` or a restart loses nothing.
//
// The sink's hooks only append to the spool; a thread of its own sends: batches bounded in
// records, bytes and time, JSON (an array) or NDJSON, gzip optional, a bearer token from a file
// and extra headers, TLS with a CA file. A 2xx acknowledges the batch (it leaves the spool); a
// 5xx, 408, 429, a timeout or a connection error is retried with exponential backoff and jitter
// (Retry-After honoured); any other 4xx rejects the batch (counted as rejected, lost with cause
// `rejected`, raised as engine.sink_rejected). After `breaker_failures` failures in a row the
// circuit opens for `breaker_cooldown`, then one request probes it. Every finding carries its
// stable `id` (runtime::finding_id) so a receiver drops redeliveries.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "phantomguard/actors/sink/delivery_spool.hpp"
#include "phantomguard/actors/sink/finding_schema.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::sink {

struct http_sink_settings {
  std::string url;                 // http://host[:port]/path or https://...
  std::string encoding = "ndjson"; // ndjson | json
  finding_schema schema = finding_schema::native;
  runtime::severity min_severity = runtime::severity::info;
  std::size_t batch_max = 500;
  std::size_t batch_bytes = 1u << 20;
  std::chrono::milliseconds batch_delay{1000};
  bool gzip = false;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string token_file;
  std::string ca_file;
  bool tls_verify = true;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60000};
  unsigned breaker_failures = 5;
  std::chrono::milliseconds breaker_cooldown{30000};
  std::chrono::milliseconds drain_timeout{5000};
  std::uint64_t spool_max = 256ull << 20;
  fsync_policy spool_fsync = fsync_policy::interval;

  /// Throws std::invalid_argument with the reason (a URL that is not http(s), ...).
  static http_sink_settings from(const runtime::component_settings& s);
};

class http_sink final : public runtime::component {
public:
  http_sink(std::string name, std::string state_dir, http_sink_settings settings);
  ~http_sink() override;

  void start(runtime::context& ctx) override;
  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  static std::vector<runtime::option_spec> options();

private:
  /// What the sender thread did since the last report (read and reset by the hooks).
  struct outcome {
    std::atomic<std::int64_t> delivered{0};
    std::atomic<std::int64_t> failed{0};   // attempts
    std::atomic<std::int64_t> rejected{0}; // findings
    std::atomic<std::int64_t> retries{0};
    std::atomic<double> last_success{0};
    std::atomic<bool> failing{false};
    std::atomic<bool> breaker_open{false};
  };

  void send_loop();
  void report(runtime::context& ctx);

  std::string name_;
  http_sink_settings settings_;
  std::string spool_dir_;
  std::unique_ptr<delivery_spool> spool_;
  std::string token_;

  std::thread sender_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_until_{};
  std::chrono::steady_clock::time_point first_pending_{};

  outcome out_;
  std::mutex error_mutex_;
  std::string last_error_;        // the sender's last failure, for the finding
  std::string rejected_error_;    // the last rejection's status and body
  bool reported_failing_ = false; // as the hooks last said
  std::int64_t reported_rejected_ = 0;
};

} // namespace pg::actors::sink
