// SPDX-License-Identifier: Apache-2.0
// file_watch_analyzer.hpp — the `file_watch` analyzer: inotify watches on persistence paths
// (cron, systemd units, shell profiles, ld.so.preload) and credential paths (passwd, shadow,
// sudoers, authorized_keys); one finding per changed file: realtime.persistence_change or
// realtime.credential_change, naming the file, the kind of change and, where it can tell, the
// process.
//
// A file is watched through its parent directory (editors replace files by rename, and a file
// such as /etc/ld.so.preload usually does not exist until an attacker creates it). A missing
// path is watched through its nearest existing ancestor until it appears. "~/" expands to every
// home directory in the passwd file.
//
// Attribution is best effort, in three ways: (1) with CAP_SYS_ADMIN, fanotify marks on the same
// directories report the PID of every process that writes a watched file (exact, even when the
// writer exits at once; its name is read at once or taken from recent exec events); (2) the
// collector thread scans /proc/*/fd for processes holding the changed file open the moment
// inotify reports a write (fuser-style; a writer that already closed it is missed); (3) if
// "process_exec" events arrive as inputs (from process_events), recent executions whose command
// line names the file are reported as candidates.
//
// Threading as in process_events: start() spawns the thread that blocks on inotify, on_tick()
// drains and emits, stop() joins. Give it a short schedule (interval = "500ms").
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::realtime {

enum class watch_category { persistence, credential };

struct file_watch_settings {
  std::vector<std::string> persistence_paths;
  std::vector<std::string> credential_paths;
  std::string passwd_file = "/etc/passwd"; // where "~/" finds home directories
  int depth = 1;                           // subdirectory levels watched below a directory
  bool scan_fds = true;                    // fuser-style attribution
  bool fanotify = true;                    // writer PIDs via fanotify when CAP_SYS_ADMIN
  std::chrono::milliseconds exec_window{5000};
  std::chrono::milliseconds report_delay{300}; // wait for the writer's exec event / fanotify

  static file_watch_settings from(const runtime::component_settings& s);
};

std::vector<runtime::option_spec> file_watch_options();

/// Expands "~/x" to "<home>/x" for the existing home directory of root and of each regular user
/// (1000 <= uid < 65534) in `passwd_text` (plus /root), and glob
/// patterns (/etc/cron.*) to what exists; other paths are returned unchanged.
std::vector<std::string> expand_watch_path(const std::string& path, const std::string& passwd_text);

/// PIDs whose open files include `path` (readlink of /proc/PID/fd/*), with their comm.
std::vector<std::pair<int, std::string>> processes_holding(const std::string& path,
                                                           const std::string& proc_root = "/proc");

class file_watch_analyzer final : public runtime::component {
public:
  explicit file_watch_analyzer(file_watch_settings settings);
  ~file_watch_analyzer() override;

  void start(runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;
  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  /// Number of inotify watches in place (for tests and the gauge).
  [[nodiscard]] std::size_t watch_count() const;
  /// True when fanotify writer attribution is active.
  [[nodiscard]] bool fanotify_active() const noexcept { return fanotify_fd_ >= 0; }

private:
  struct target {
    std::string path;
    watch_category category;
  };
  // What a watched directory's events mean: each rule names a child (empty = any child).
  struct rule {
    std::string name;
    std::size_t target_index;
    bool is_target; // the child is the watched path itself (or inside a watched directory)
  };
  struct watch {
    std::string dir;
    std::vector<rule> rules;
    int depth_left = 0;
  };
  struct change {
    std::string path;
    std::string kind;
    watch_category category;
    std::chrono::steady_clock::time_point when;
    runtime::wall_clock::time_point wall;
    std::vector<std::pair<int, std::string>> holders;
  };
  struct writer {
    std::string path;
    int pid;
    std::string comm;
    std::string cmdline;
    runtime::wall_clock::time_point time;
    const char* seen_by = "fanotify"; // or "kernel_events" (the open for write, with its pid)
  };
  void add_writers(std::vector<writer> got); // under mutex_: filtered to watched files, deduped
  struct recent_exec {
    runtime::wall_clock::time_point time;
    std::int64_t pid;
    std::string comm;
    std::string exe;
    std::string cmdline;
  };

  void resolve(std::size_t target_index);
  void add_dir_watch(const std::string& dir, const rule& r, int depth_left);
  void run();
  void handle(int wd, std::uint32_t mask, const std::string& name);
  void read_fanotify();

  file_watch_settings settings_;
  std::vector<target> targets_;
  int inotify_fd_ = -1;
  int fanotify_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_; // guards watches_ (after start), pending_, counters below
  std::map<int, watch> watches_;
  std::deque<change> pending_;
  std::uint64_t overflows_ = 0;
  std::vector<std::string> unwatchable_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_scan_;
  std::deque<writer> writers_; // from fanotify, bounded

  std::deque<recent_exec> execs_; // engine thread only
  bool limitation_reported_ = false;
  bool flushing_ = false; // stop(): report everything pending without waiting report_delay
};

} // namespace pg::actors::realtime
