// SPDX-License-Identifier: Apache-2.0
// process_analyzer.hpp — the `process` analyzer: memory.* and process.* rules over running
// processes (fileless and deleted executables, RWX memory, preload variables, ptrace, temp dirs).
#pragma once

#include "phantomguard/runtime/bounded_cache.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::host {
struct proc_stat;
}

namespace pg::actors::process {

/// Whether a process is on an allow-list of comm or exe names: an entry matches the comm or the
/// exe's base name exactly, a prefix when it ends in '*', the exe's path when it starts with '/'
/// (a " (deleted)" suffix on the exe is ignored). Shared by every process-family list.
bool name_listed(const std::vector<std::string>& list, std::string_view comm, std::string_view exe);

/// Reads `stat` of every process on each scan, and everything else (status, exe link, environ,
/// maps) only once per (pid, start time): the cache keys on both, notices an exec by a changed
/// comm or a "process_exec" event, evicts processes that exited, and re-reads an entry after
/// `refresh` so that a ptrace attach or an RWX mapping made after start is seen eventually.
/// Each finding is emitted once per process and rule.
///
/// Input: "process" (from `procfs`), "process_exec" and "process_exit" events, keyed by pid (and
/// start_time when present). With `self_scan = "auto"` a tick scans /proc itself unless events
/// arrived since the previous tick; "always" and "never" force either behaviour.
///
/// Whatever could not be read for lack of privilege is summed up per tick in one `info` finding
/// (rule process.unreadable) naming the privilege, CAP_SYS_PTRACE.
class process_analyzer final : public runtime::component {
public:
  enum class self_scan_mode { automatic, always, never };

  struct options {
    std::string proc_root = "/proc";
    /// comm or exe base name of runtimes that legitimately map RWX memory (JIT compilers); an
    /// entry ending in '*' matches a prefix, an entry starting with '/' an exe path.
    std::vector<std::string> jit_allowlist;
    std::vector<std::string> temp_dirs;
    std::vector<std::string> preload_vars;
    self_scan_mode self_scan = self_scan_mode::automatic;
    std::chrono::nanoseconds refresh = std::chrono::minutes(5);
    std::size_t max_regions = 8; // RWX regions listed in one finding's evidence
    /// Processes remembered at most (the least recently seen go first: a process pushed out is
    /// read again when next seen, and may report again what it reported before).
    std::uint64_t cache_max_entries = 65536;
  };

  static options default_options();

  explicit process_analyzer(options opts);

  void on_tick(runtime::context& ctx) override;
  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;

  /// Carries which findings were reported for which (pid, start time) across a restart, so a
  /// restarted analyzer re-reads the processes but does not repeat their findings.
  [[nodiscard]] std::string snapshot() override;
  void restore(std::string_view state) override;

  /// One full scan of /proc (what a tick does when it scans). Public for benchmarks.
  void scan(runtime::context& ctx);

  /// Processes currently cached.
  [[nodiscard]] std::size_t cached() const noexcept { return cache_.size(); }

  static runtime::component_type type();

private:
  struct entry {
    std::uint64_t start_ticks = 0;
    std::string comm;
    std::chrono::steady_clock::time_point analyzed{};
    std::uint64_t seen_epoch = 0;
    std::set<std::string> reported; // rule keys already emitted for this process
  };

  // Looks `pid` up in the cache and analyzes it when it is new, exec'd or due for a refresh.
  void visit(pid_t pid, const host::proc_stat& st, runtime::context& ctx);
  // Reads status, exe, environ and maps and applies the rules. False when the process vanished.
  bool analyze(pid_t pid, const host::proc_stat& st, entry& e, runtime::context& ctx);
  void note_denied(pid_t pid, const char* what);
  void report_unreadable(runtime::context& ctx);
  void evict_unseen(runtime::context& ctx, bool verify);
  [[nodiscard]] bool jit_allowed(const std::string& comm, const std::string& exe) const;

  options opts_;
  runtime::bounded_cache<pid_t, entry> cache_;
  std::uint64_t epoch_ = 1;
  bool batch_since_tick_ = false;
  std::map<std::string, std::size_t> denied_; // what → count, since the last report
  std::set<pid_t> denied_pids_;
};

} // namespace pg::actors::process
