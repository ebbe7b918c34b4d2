// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/process_memory.hpp"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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

heap_figures heap_of_this_process() noexcept {
  heap_figures h;
  const struct mallinfo2 mi = ::mallinfo2(); // main arena and every other one
  h.in_use = mi.uordblks + mi.hblkhd;
  h.free = mi.fordblks;
  // Arenas: malloc_info writes one <heap nr="N"> element per arena.
  char* text = nullptr;
  std::size_t length = 0;
  if (std::FILE* f = ::open_memstream(&text, &length)) {
    const bool ok = ::malloc_info(0, f) == 0;
    std::fclose(f);
    if (ok && text != nullptr)
      for (const char* at = text; (at = std::strstr(at, "<heap nr=")) != nullptr; at += 9)
        ++h.arenas;
    std::free(text);
  }
  return h;
}

std::uint64_t release_free_heap() noexcept {
  const std::uint64_t before = process_rss_bytes();
  ::malloc_trim(0);
  const std::uint64_t after = process_rss_bytes();
  return before > after ? before - after : 0;
}

bool cap_heap_arenas(unsigned arenas) noexcept {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr || arenas == 0)
    return false;
  return ::mallopt(M_ARENA_MAX, static_cast<int>(arenas)) == 1;
}

} // namespace pg::runtime
