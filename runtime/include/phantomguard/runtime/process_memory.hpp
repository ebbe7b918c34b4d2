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

/// This process's malloc heap as glibc counts it (mallinfo2, malloc_info): what the program holds
/// of it, what is free inside it (fragmentation and pages not yet given back), and how many
/// arenas it has (glibc adds one when threads contend for a lock, up to M_ARENA_MAX).
struct heap_figures {
  std::uint64_t in_use = 0; // allocated chunks, mmapped blocks included
  std::uint64_t free = 0;   // free chunks held by the arenas
  std::uint64_t arenas = 0; // 0 when malloc_info could not be read
};
heap_figures heap_of_this_process() noexcept;

/// Gives free heap pages back to the system (malloc_trim(0)); the resident bytes released.
std::uint64_t release_free_heap() noexcept;

/// Caps glibc's malloc arenas at `arenas` unless the operator set MALLOC_ARENA_MAX (glibc's
/// default is 8 per core: on a long-running daemon each contention episode can add an arena
/// whose free pages stay resident). Call before threads start; false when left to the environment.
bool cap_heap_arenas(unsigned arenas) noexcept;

/// This process's resident set in bytes, 0 when unreadable.
inline std::uint64_t process_rss_bytes() noexcept {
  auto m = memory_of();
  return m ? m->resident : 0;
}

} // namespace pg::runtime
