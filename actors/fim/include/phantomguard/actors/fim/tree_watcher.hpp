// SPDX-License-Identifier: Apache-2.0
// tree_watcher.hpp — real-time mode: inotify watches on the configured trees, serviced by a
// thread the watcher owns. The thread only collects the paths that changed; the component
// drains them on its own thread (on_tick) and checks them against the baseline.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "phantomguard/runtime/component_threads.hpp"

namespace pg::actors::fim {

class tree_watcher {
public:
  /// `watched(path)` tells whether a directory should be watched (rules and exclusions);
  /// `recurse_into(dir)` whether its subdirectories should be too.
  using predicate = std::function<bool(const std::string&)>;

  tree_watcher(std::vector<std::string> roots, predicate watched, predicate recurse_into);
  ~tree_watcher(); // stops and joins the thread, closes the descriptors
  tree_watcher(const tree_watcher&) = delete;
  tree_watcher& operator=(const tree_watcher&) = delete;

  /// Creates the inotify instance, adds the watches and starts the thread. Throws
  /// std::system_error when inotify is unavailable.
  void start(runtime::component_threads& threads = runtime::unmetered_threads());

  /// The paths changed since the last call (sorted, unique). `overflowed` is set when the
  /// kernel queue overflowed or a watch could not be added: a full scan is then needed.
  std::vector<std::string> drain(bool* overflowed = nullptr);

  [[nodiscard]] std::size_t watch_count() const;

private:
  void add_tree(const std::string& dir, bool report_contents);
  void add_watch(const std::string& dir);
  void loop();

  std::vector<std::string> roots_;
  predicate watched_;
  predicate recurse_into_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1; // eventfd: wakes the thread for shutdown
  std::thread thread_;
  mutable std::mutex mutex_;
  std::unordered_map<int, std::string> dirs_; // watch descriptor -> directory
  std::set<std::string> dirty_;
  bool overflowed_ = false;
};

} // namespace pg::actors::fim
