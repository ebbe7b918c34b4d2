// SPDX-License-Identifier: Apache-2.0
// kernel_events_source.hpp — the `kernel_events` source: what the kernel does, as it happens,
// from the eBPF sensor (kernel_sensor.hpp): process_exec / process_exit (the same fields as
// process_events, plus euid, gid, filename, cgroup_id, exe_inode, exe_nlink, stdio_sockets),
// process_fork, net_connect / net_accept / net_bind / net_listen, socket_dup, ptrace,
// process_vm_write, memfd_create, memory_exec, module_load / module_unload, bpf_load,
// credential_change and file_open_write. Every event carries `via = "kernel"` and `hook`, the
// kernel hook that saw it.
//
// Records the ring buffer had no room for are counted in the kernel per CPU and reported here as
// lost (cause `kernel_ringbuf`); the user-space queue's overflow as `queue_overflow`.
//
// Without the privilege, BTF or tracefs (mode = "auto"), the source runs the process_events
// collector instead (netlink, else /proc polling) and raises realtime.privilege_limited naming
// what is missing. Threading as in process_events: a collector thread fills a bounded queue,
// on_tick drains it on the engine's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "phantomguard/actors/realtime/kernel_sensor.hpp"
#include "phantomguard/actors/realtime/process_events_source.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::realtime {

struct kernel_events_settings {
  std::string mode = "auto"; // auto (bpf, else the process_events fallback), bpf, netlink, poll
  kernel_sensor_options sensor;
  std::size_t max_pending = 65536;
  process_events_settings fallback; // poll_interval and proc_root for the fallback
  // `scan`: one pass; the acts during a scan's second are not what a scan reports, and loading
  // and detaching the programs would cost the scan a second. Nothing is collected.
  bool one_pass = false;
  static kernel_events_settings from(const runtime::component_settings& s);
};

std::vector<runtime::option_spec> kernel_events_options();

/// The event kinds the source can emit (for the registry's `produces`).
std::vector<std::string> kernel_events_produces();

class kernel_events_source final : public runtime::component {
public:
  explicit kernel_events_source(kernel_events_settings settings);
  ~kernel_events_source() override;

  void start(runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  /// "bpf", or the fallback's "netlink" / "poll", once started.
  [[nodiscard]] std::string active_mode() const;

  /// Turns one ring-buffer record into an event (public for the tests). False when the record is
  /// malformed (too short for its kind).
  bool convert(const void* data, std::size_t size, runtime::event& out);

private:
  static void on_record(void* self, const void* data, std::size_t size);
  void run();
  void push(runtime::event ev);
  void join();
  void prune();
  std::string resolve_exe(int pid, const std::string& filename, std::uint64_t inode);

  kernel_events_settings settings_;
  std::string name_;
  std::unique_ptr<kernel_sensor> sensor_;
  std::unique_ptr<process_events_source> fallback_;
  std::string limitation_, missing_;
  bool limitation_reported_ = false;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::deque<runtime::event> queue_; // guarded by mutex_
  std::uint64_t dropped_ = 0;        // guarded by mutex_
  std::uint64_t malformed_ = 0;      // guarded by mutex_
  std::uint64_t listing_failures_ = 0; // /proc listings that failed on the thread (mutex_)
  std::string thread_error_;         // guarded by mutex_
  kernel_counts reported_drops_{};   // engine thread only
  kernel_counts reported_sampled_{};
  // Touched by the collector thread only (after start()).
  std::unordered_map<int, process_info> table_;
  struct resolved {
    std::string path;
    std::uint64_t inode = 0;
  };
  std::unordered_map<std::string, resolved> exe_cache_; // exec name -> real path, by inode
  long ticks_per_second_ = 100;
};

} // namespace pg::actors::realtime
