// SPDX-License-Identifier: Apache-2.0
// tree_walker.hpp — a resumable depth-first walk over the configured trees that yields paths in
// batches, so a scan can stop between segments and pick up where it left off.
#pragma once

#include <dirent.h>
#include <string>
#include <unordered_set>
#include <vector>

#include "phantomguard/actors/fim/fim_rule.hpp"

namespace pg::actors::fim::detail {

/// Move-only owner of a DIR*.
class dir_handle {
public:
  explicit dir_handle(DIR* d = nullptr) noexcept : dir_(d) {}
  dir_handle(dir_handle&& o) noexcept : dir_(o.dir_) { o.dir_ = nullptr; }
  dir_handle& operator=(dir_handle&& o) noexcept {
    if (this != &o) {
      if (dir_)
        ::closedir(dir_);
      dir_ = o.dir_;
      o.dir_ = nullptr;
    }
    return *this;
  }
  dir_handle(const dir_handle&) = delete;
  dir_handle& operator=(const dir_handle&) = delete;
  ~dir_handle() {
    if (dir_)
      ::closedir(dir_);
  }
  [[nodiscard]] DIR* get() const noexcept { return dir_; }

private:
  DIR* dir_;
};

struct walk_entry {
  std::string path;
  const fim_rule* rule = nullptr;
};

class tree_walker {
public:
  /// Walks each root in turn. A root met while walking another one is left to its own walk,
  /// so each path is yielded once. Excluded paths are neither yielded nor descended into.
  tree_walker(const rule_set& rules, std::vector<std::string> roots);

  /// Appends up to `max` entries to `out`; returns false once the walk is complete.
  bool next(std::vector<walk_entry>& out, std::size_t max);

  /// Directories that could not be opened (EACCES, ...), for the scan's error count.
  [[nodiscard]] std::size_t unreadable_dirs() const noexcept { return unreadable_; }

private:
  struct frame {
    dir_handle dir;
    std::string path;
  };
  void consider(const std::string& path, unsigned char d_type, std::vector<walk_entry>& out);
  void push_dir(const std::string& path);

  const rule_set& rules_;
  std::vector<std::string> roots_;
  std::unordered_set<std::string> root_set_;
  std::size_t next_root_ = 0;
  std::vector<frame> stack_;
  std::size_t unreadable_ = 0;
};

} // namespace pg::actors::fim::detail
