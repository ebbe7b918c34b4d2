// SPDX-License-Identifier: Apache-2.0
// thread_meter.hpp — the CPU time of one component instance, wherever it is spent: its actor's
// thread, the worker threads it starts through context::threads(), and what it is charged from
// outside (an isolated plugin's child). Threads attach themselves; anyone may sample the total.
// cpu_pacer holds the worker threads to the instance's cpu_percent (a budget refilled at the
// limit, like a cgroup's cpu.max), so a quota holds a hashing pool and not only the hook.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <sys/types.h>

#include "phantomguard/runtime/component_threads.hpp"
#include "phantomguard/runtime/io_usage.hpp"

namespace pg::runtime::detail {

struct instance_slot;
struct io_totals;

class thread_meter {
public:
  /// `cumulative` receives every nanosecond too (the component's figure across restarts).
  void set_cumulative(std::shared_ptr<std::atomic<std::int64_t>> cumulative);

  /// `io` receives the I/O of the instance's threads (read at sample_io() and when a thread
  /// detaches), across restarts like `cumulative`.
  void set_cumulative_io(std::shared_ptr<io_totals> io);

  /// Called by a thread on itself; returns the token detach() takes.
  int attach_current();
  /// Before the thread ends (from any thread): adds its last CPU time and I/O and forgets it.
  /// Called by the thread itself, so its last I/O is still readable.
  void detach(int token);
  /// Reads the I/O counters of the live threads (a /proc read each: the supervisor calls this at
  /// its quota checks, not per work item as pace() samples the clocks).
  void sample_io();
  /// The same for one thread (the actor's own, after a hook).
  void sample_io(int token);
  /// CPU spent for the instance elsewhere (a child process).
  void charge(std::int64_t ns);
  /// I/O done for the instance elsewhere (a child process).
  void charge_io(const io_counters& delta);
  /// Reads the clocks of the live threads and returns the instance's CPU time so far.
  std::int64_t sample();
  /// Live threads (the actor's own included).
  [[nodiscard]] std::size_t threads() const;

private:
  struct live {
    int token = 0;
    clockid_t clock{};
    std::int64_t seen = 0;
    pid_t tid = 0;
    std::uint64_t io_seen[4] = {}; // rchar, wchar, read_bytes, write_bytes at the last reading
    bool io_known = false;
  };
  void add_io(live& l);
  void add(std::int64_t ns);

  mutable std::mutex mutex_;
  std::vector<live> live_;
  int next_token_ = 1;
  std::int64_t total_ = 0;
  std::shared_ptr<std::atomic<std::int64_t>> cumulative_;
  std::shared_ptr<io_totals> io_;
};

/// The budget the workers of one instance share. limit_percent is of one core (200 = two cores).
class cpu_pacer {
public:
  /// Nanoseconds to wait now so that `cpu_ns` used by `now_ns` stays within `fraction` of one
  /// core (0 when within). Idle time builds up credit of at most `burst_ns`.
  std::int64_t debt_wait(std::int64_t now_ns, std::int64_t cpu_ns, double fraction);

  static constexpr std::int64_t burst_ns = 20'000'000; // 20 ms of CPU
  static constexpr std::int64_t max_wait_ns = 100'000'000;
  static constexpr std::int64_t resume_credit_ns = 5'000'000; // 5 ms of CPU to resume with

private:
  std::mutex mutex_;
  bool started_ = false;
  std::int64_t base_time_ = 0;
  double base_cpu_ = 0;
};

/// context::threads() for a component run by the engine.
class metered_threads final : public component_threads {
public:
  metered_threads(std::shared_ptr<instance_slot> slot, std::optional<double> cpu_percent);

  std::thread start(std::function<void()> body) override;
  bool pace() override;
  void account_memory(std::int64_t delta) override;

  /// The share of its limit a paced component is held to: a little under, so the quota check
  /// does not see a component that keeps to its quota as over it; half while throttled.
  static constexpr double margin = 0.95;

private:
  std::shared_ptr<instance_slot> slot_;
  std::optional<double> cpu_percent_;
  cpu_pacer pacer_;
};

} // namespace pg::runtime::detail
