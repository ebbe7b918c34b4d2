// SPDX-License-Identifier: Apache-2.0
#include "cli/process_usage.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "phantomguard/runtime/process_memory.hpp"

namespace pg::cli {

namespace {

std::int64_t ns_of(const timeval& tv) {
  return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 +
         static_cast<std::int64_t>(tv.tv_usec) * 1000;
}

} // namespace

process_usage read_process_usage() noexcept {
  process_usage u;
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    u.user_ns = ns_of(ru.ru_utime);
    u.system_ns = ns_of(ru.ru_stime);
  }
  if (auto io = runtime::io_of_process()) {
    u.io = *io;
    u.io_known = true;
  }
  u.rss_bytes = runtime::process_rss_bytes();
  return u;
}

std::uint64_t peak_rss_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  char line[256];
  std::uint64_t kib = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) {
      unsigned long long v = 0;
      if (std::sscanf(line + 6, "%llu", &v) == 1)
        kib = v;
      break;
    }
  std::fclose(f);
  return kib * 1024;
}

bool reset_peak_rss() noexcept {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f)
    return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

double nearest_rank(std::vector<double> values, double q) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  const auto n = static_cast<double>(values.size());
  auto rank = static_cast<std::size_t>(std::ceil(std::clamp(q, 0.0, 1.0) * n));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  return values[rank - 1];
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
  return buf;
}

} // namespace pg::cli
