// SPDX-License-Identifier: Apache-2.0
// directory_census.hpp — hidden files seen from two sides. The kernel counts a directory's links
// as 2 + its subdirectories on ext2/3/4, xfs, tmpfs and ramfs, so a subdirectory that a readdir or
// getdents hook hides still shows in the parent's link count. And a name the listing returns but
// lstat cannot see means an lstat hook (or a race, which the re-check removes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace pg::actors::rootkit {

/// True for file systems whose directory link count is 2 + subdirectories (ext2/3/4, xfs,
/// tmpfs, ramfs); false for btrfs, overlayfs, proc, sysfs, network and FUSE file systems.
bool link_count_reliable(std::int64_t statfs_magic) noexcept;

/// The decision: a mismatch when the count is reliable, not 1 (ext4's "too many subdirs"), and
/// differs from 2 + subdirs.
bool link_count_mismatch(std::uint64_t nlink, std::size_t subdirs, bool reliable) noexcept;

struct directory_census {
  std::string path;
  std::uint64_t nlink = 0;
  std::size_t entries = 0;             // names the listing returned
  std::size_t subdirs = 0;             // of which directories
  std::vector<std::string> unstatable; // listed names lstat reports as absent (ENOENT)
  std::vector<std::string> subdir_names;
  std::size_t denied = 0; // names lstat refused (EACCES)
  bool reliable = false;  // link_count_reliable() of its file system
  dev_t device = 0;
  int error = 0; // errno when the directory could not be read
};

/// Lists `path` with getdents64 and lstats every name.
directory_census take_census(const std::string& path);

struct hidden_file_finding {
  std::string directory;
  enum class kind { unstatable_name, link_count } what = kind::link_count;
  std::string name;        // for unstatable_name
  std::uint64_t nlink = 0; // for link_count
  std::size_t subdirs = 0;
};

struct hidden_file_scan {
  std::vector<hidden_file_finding> findings;
  std::size_t directories = 0; // directories examined
  std::size_t unreliable = 0;  // directories on file systems where link counts say nothing
  std::size_t unreadable = 0;  // directories that could not be listed (EACCES, ...)
  std::size_t denied = 0;      // names lstat refused
  std::vector<std::string> denied_paths; // a few of them, for the privilege report
};

/// Examines each directory and its subdirectories down to `depth` levels (0 = only the named
/// directories), staying on the starting file system; every suspicion is re-checked once.
hidden_file_scan scan_hidden_files(const std::vector<std::string>& dirs, int depth);

} // namespace pg::actors::rootkit
