// SPDX-License-Identifier: Apache-2.0
// process_memory.hpp — a process's memory as the kernel counts it (/proc/PID/statm), in bytes:
// the one reader for the engine-wide quota, the status API, yara's rule accounting, the plugin
// sandbox's address-space limit and an isolated child's charge.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace pg::runtime {

struct process_memory {
  std::uint64_t mapped = 0;   // the address space (statm "size")
  std::uint64_t resident = 0; // the resident set (statm "resident")
};

/// Of process `pid` (0: this process); nullopt when /proc/PID/statm cannot be read (the process
/// is gone, or /proc is not mounted).
std::optional<process_memory> memory_of(pid_t pid = 0) noexcept;

/// This process's resident set in bytes, 0 when unreadable.
inline std::uint64_t process_rss_bytes() noexcept {
  auto m = memory_of();
  return m ? m->resident : 0;
}

} // namespace pg::runtime
