// SPDX-License-Identifier: Apache-2.0
// mountinfo.hpp — /proc/PID/mountinfo (proc(5)): what a process sees mounted, in its own mount
// namespace, with paths relative to its own root directory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pg::actors::container {

struct mount_entry {
  int mount_id = 0;
  int parent_id = 0;
  std::string device;      // "major:minor"
  std::string root;        // the path inside the file system that is mounted ("/" for all)
  std::string mount_point; // where, relative to the process's root
  std::string options;     // per-mount options ("rw,nosuid,...")
  std::string fstype;      // "overlay", "proc", "sysfs", "ext4", ...
  std::string source;
  std::string super_options; // per-superblock options ("rw,lowerdir=...,upperdir=...")
};

/// Parses mountinfo text; octal escapes (\040 for a space) are decoded. Malformed lines are
/// skipped and counted in `*malformed`.
std::vector<mount_entry> parse_mountinfo(std::string_view text, std::size_t* malformed = nullptr);

/// The value of `key` in a comma-separated option list ("upperdir" in super_options); empty when
/// absent.
std::string mount_option(std::string_view options, std::string_view key);

/// True when the comma-separated list holds the flag `flag` ("rw").
bool has_mount_flag(std::string_view options, std::string_view flag);

} // namespace pg::actors::container
