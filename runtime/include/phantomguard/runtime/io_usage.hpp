// SPDX-License-Identifier: Apache-2.0
// io_usage.hpp — the I/O a thread or a process did, as the kernel's task I/O accounting counts it
// (/proc/PID/io, /proc/self/task/TID/io): the one reader for the engine's per-component I/O
// figures, `phantomguard bench` and `phantomguard profile`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace pg::runtime {

struct io_counters {
  std::uint64_t read_chars = 0;    // rchar: bytes read through read(2) and friends, cache hits too
  std::uint64_t write_chars = 0;   // wchar: bytes written through write(2) and friends
  std::uint64_t storage_read = 0;  // read_bytes: what had to come from the block device
  std::uint64_t storage_write = 0; // write_bytes: what was sent toward the block device

  /// What happened between `earlier` and this reading (0 where a counter went backwards).
  [[nodiscard]] io_counters since(const io_counters& earlier) const noexcept;
  io_counters& operator+=(const io_counters& o) noexcept;
};

/// Parses the text of a /proc/.../io file; nullopt when rchar or wchar is missing.
std::optional<io_counters> parse_io_counters(std::string_view text) noexcept;

/// This process's I/O, its ended threads included; nullopt when /proc/self/io cannot be read
/// (a kernel without task I/O accounting, /proc not mounted).
std::optional<io_counters> io_of_process() noexcept;

/// Another process (a child: an isolated plugin's host); nullopt when it has ended or its file
/// cannot be read (it needs the access ptrace would).
std::optional<io_counters> io_of_process(pid_t pid) noexcept;

/// One thread of this process (a TID from gettid()); nullopt when it has ended or cannot be read.
std::optional<io_counters> io_of_thread(pid_t tid) noexcept;

} // namespace pg::runtime
