// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/process_memory.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace pg::runtime {

std::optional<process_memory> memory_of(pid_t pid) noexcept {
  char path[48];
  if (pid == 0)
    std::snprintf(path, sizeof path, "/proc/self/statm");
  else
    std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  std::FILE* f = std::fopen(path, "r");
  if (!f)
    return std::nullopt;
  unsigned long size = 0;
  unsigned long resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (got != 2)
    return std::nullopt;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return process_memory{size * page, resident * page};
}

} // namespace pg::runtime
