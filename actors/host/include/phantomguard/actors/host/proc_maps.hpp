// SPDX-License-Identifier: Apache-2.0
// proc_maps.hpp — /proc/PID/maps: the memory mappings of a process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace pg::actors::host {

struct memory_mapping {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool shared = false;
  std::uint64_t offset = 0;
  std::uint64_t inode = 0;
  std::string path; // empty for anonymous; "[heap]", "[stack]", "/memfd:x (deleted)", ...

  [[nodiscard]] std::uint64_t size() const noexcept { return end - start; }
  /// No file behind it: an anonymous mapping, the heap, a stack or a named anonymous region
  /// ("[anon:name]"). The kernel's own "[vdso]", "[vvar]" and "[vsyscall]" are not anonymous.
  [[nodiscard]] bool anonymous() const noexcept;
};

/// Parses the text of a maps file; malformed lines are skipped and counted in `*malformed`.
std::vector<memory_mapping> parse_proc_maps(std::string_view text,
                                            std::size_t* malformed = nullptr);

/// Reads and parses `proc_root`/PID/maps; nullopt when gone or unreadable (errno in `*err`).
std::optional<std::vector<memory_mapping>>
read_proc_maps(pid_t pid, const std::string& proc_root = "/proc", int* err = nullptr);

} // namespace pg::actors::host
