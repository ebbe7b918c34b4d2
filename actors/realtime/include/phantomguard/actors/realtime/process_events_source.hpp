// SPDX-License-Identifier: Apache-2.0
// process_events_source.hpp — the `process_events` source: process start and exit as
// "process_exec" / "process_exit" events. With CAP_NET_ADMIN it listens to the netlink process
// connector (every exec and exit, however short-lived); otherwise it polls the /proc listing at
// `poll_interval` (short-lived processes between two polls are missed, and that is said once).
//
// Threading: start() spawns the component's own collector thread (blocking reads must not run
// in the engine's scheduler); it queues events under a mutex, bounded by `max_pending` (the
// oldest are dropped and counted beyond that). on_tick() drains the queue and emits on the
// engine's thread; stop() joins the thread. Give the source a short schedule (interval = "200ms").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "phantomguard/actors/realtime/proc_connector.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::realtime {

struct process_events_settings {
  std::string mode = "auto"; // auto (netlink when privileged, else poll), netlink, poll
  std::chrono::milliseconds poll_interval{250};
  std::size_t max_pending = 65536;
  std::string proc_root = "/proc";

  static process_events_settings from(const runtime::component_settings& s);
};

std::vector<runtime::option_spec> process_events_options();

/// What is known about a process, kept from its start (or the initial snapshot) to its exit so
/// the exit event can say what exited.
struct process_info {
  int pid = 0;
  int ppid = 0;
  std::int64_t uid = -1;
  std::string comm;
  std::string exe;
  std::string cmdline; // NUL separators replaced by spaces
  std::uint64_t start_ticks = 0;
};

/// Reads what /proc says about `pid` right now (fields stay empty when unreadable or gone).
process_info read_process_info(int pid, const std::string& proc_root = "/proc");

class process_events_source final : public runtime::component {
public:
  explicit process_events_source(process_events_settings settings);
  ~process_events_source() override;

  void start(runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  /// "netlink" or "poll" once started.
  [[nodiscard]] const std::string& active_mode() const noexcept { return active_mode_; }

private:
  void run_netlink();
  void resync();
  void run_poll();
  void push(runtime::event ev);
  void join();
  runtime::event make_exec(const process_info& p, const char* via) const;
  runtime::event make_exit(const process_info& p, const char* via, int exit_code,
                           int exit_signal) const;

  process_events_settings settings_;
  std::string active_mode_;
  std::string name_;
  std::optional<proc_connector> connector_; // netlink mode; read only by the thread
  int wake_fd_ = -1;                        // eventfd that wakes the thread for stop()
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  std::mutex mutex_;
  std::deque<runtime::event> queue_;
  std::uint64_t dropped_ = 0;  // guarded by mutex_
  std::uint64_t overruns_ = 0; // guarded by mutex_: kernel-side ENOBUFS
  std::string thread_error_;   // guarded by mutex_
  std::uint64_t listing_failures_ = 0; // guarded by mutex_: /proc listings that failed
  bool listed(std::vector<int>& out);  // the sorted /proc listing, false (counted) when it fails

  std::map<int, process_info> table_; // only touched by the collector thread after start()
  bool limitation_reported_ = false;
  std::string limitation_;
};

} // namespace pg::actors::realtime
