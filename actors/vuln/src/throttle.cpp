// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/throttle.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

namespace pg::actors::vuln {

std::vector<runtime::option_spec> throttle_option_specs(const throttle_settings& d) {
  using runtime::option_spec;
  using runtime::option_type;
  std::vector<option_spec> specs;
  specs.push_back({"workers",
                   option_type::integer,
                   std::to_string(d.workers),
                   "worker threads for parsing and hashing",
                   false,
                   1.0,
                   16.0,
                   {}});
  specs.push_back({"segment_size",
                   option_type::integer,
                   std::to_string(d.segment_size),
                   "items scanned between stop checks and state commits",
                   false,
                   1.0,
                   1e7,
                   {}});
  specs.push_back({"max_memory",
                   option_type::size,
                   runtime::format_size(d.max_memory),
                   "input held in memory at once (advisory text, file contents)",
                   false,
                   1024.0 * 1024.0,
                   {},
                   {}});
  return specs;
}

throttle_settings throttle_from(const runtime::component_settings& s, const throttle_settings& d) {
  throttle_settings t;
  t.workers = static_cast<std::size_t>(s.get_int("workers", static_cast<std::int64_t>(d.workers)));
  t.segment_size = static_cast<std::size_t>(
      s.get_int("segment_size", static_cast<std::int64_t>(d.segment_size)));
  t.max_memory = s.get_size("max_memory", d.max_memory);
  if (t.workers == 0)
    t.workers = 1;
  if (t.segment_size == 0)
    t.segment_size = 1;
  return t;
}

namespace {

// Posted by the worker, drained by the actor thread.
class queue_sink final : public finding_sink {
public:
  queue_sink(std::atomic<bool>& stop, runtime::component_threads& threads)
      : stop_(stop), threads_(threads) {}

  void post(runtime::finding f) override {
    {
      std::lock_guard lock(mutex_);
      findings_.push_back(std::move(f));
    }
    cv_.notify_one();
  }
  void count(std::string_view name, std::int64_t delta = 1) override {
    std::lock_guard lock(mutex_);
    counters_.emplace_back(std::string(name), delta);
  }
  // Checked between segments: the scan's point to be paced to the component's CPU quota.
  bool stop_requested() const noexcept override {
    return !threads_.pace() || stop_.load(std::memory_order_relaxed);
  }

  void finish() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
  }

  // Waits a little for work, then hands everything queued to `ctx`. False once the worker is done
  // and the queue is empty.
  bool drain(runtime::context& ctx) {
    std::deque<runtime::finding> findings;
    std::vector<std::pair<std::string, std::int64_t>> counters;
    bool done = false;
    {
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(50),
                   [&] { return done_ || !findings_.empty(); });
      findings.swap(findings_);
      counters.swap(counters_);
      done = done_;
    }
    for (auto& f : findings)
      ctx.emit_finding(std::move(f));
    for (auto& [name, delta] : counters)
      ctx.count(name, delta);
    return !done;
  }

private:
  std::atomic<bool>& stop_;
  runtime::component_threads& threads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<runtime::finding> findings_;
  std::vector<std::pair<std::string, std::int64_t>> counters_;
  bool done_ = false;
};

} // namespace

void run_throttled(runtime::context& ctx, const std::function<void(finding_sink&)>& work) {
  std::atomic<bool> stop{ctx.should_stop()};
  queue_sink sink(stop, ctx.threads());
  std::exception_ptr failure;
  std::thread worker = ctx.threads().start([&] {
    try {
      work(sink);
    } catch (...) {
      failure = std::current_exception();
    }
    sink.finish();
  });
  while (sink.drain(ctx)) {
    if (ctx.should_stop())
      stop = true;
  }
  worker.join();
  sink.drain(ctx); // anything posted between the last drain and finish()
  if (failure)
    std::rethrow_exception(failure);
}

} // namespace pg::actors::vuln
