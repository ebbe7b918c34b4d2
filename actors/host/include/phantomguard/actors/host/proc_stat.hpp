// SPDX-License-Identifier: Apache-2.0
// proc_stat.hpp — /proc/PID/stat and /proc/PID/status, and the list of PIDs in /proc.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace pg::actors::host {

/// The numeric directories of `proc_root` (the processes the /proc listing shows), sorted, read
/// with getdents64 (list_pids_raw). Throws std::system_error when /proc cannot be listed.
std::vector<pid_t> list_pids(const std::string& proc_root = "/proc");

/// The fields of /proc/PID/stat that analyzers use.
struct proc_stat {
  pid_t pid = 0;
  std::string comm; // may contain spaces and ')'
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::int64_t num_threads = 0;
  std::uint64_t start_ticks = 0; // since boot, in clock ticks: with pid, identifies a process
  std::uint64_t vsize = 0;
  std::int64_t rss_pages = 0;
};

/// Parses the text of a stat file (comm is everything between the first '(' and the last ')').
std::optional<proc_stat> parse_proc_stat(std::string_view text);

/// Reads and parses /proc/PID/stat; nullopt when gone or unreadable (errno in `*err`).
std::optional<proc_stat> read_proc_stat(pid_t pid, const std::string& proc_root = "/proc",
                                        int* err = nullptr);

/// /proc/PID/status as key → value (value trimmed), e.g. "TracerPid" → "0", "Uid" → "0 0 0 0".
using proc_status = std::map<std::string, std::string, std::less<>>;

proc_status parse_proc_status(std::string_view text);
std::optional<proc_status> read_proc_status(pid_t pid, const std::string& proc_root = "/proc",
                                            int* err = nullptr);

/// The n-th whitespace-separated number of a status value ("Uid" → real, effective, ...).
std::optional<std::int64_t> status_number(const proc_status& st, std::string_view key,
                                          std::size_t index = 0);

/// /proc/PID/cmdline or environ: NUL-separated strings.
std::vector<std::string> split_nul(std::string_view text);

} // namespace pg::actors::host
