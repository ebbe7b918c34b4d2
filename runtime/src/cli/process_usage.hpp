// SPDX-License-Identifier: Apache-2.0
// process_usage.hpp — what this process has used so far, as `bench` and `profile` measure it
// around the work they time: CPU time (getrusage), I/O (io_usage.hpp) and the resident set with
// its peak (/proc/self/status VmHWM, which /proc/self/clear_refs can reset).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "phantomguard/runtime/io_usage.hpp"

namespace pg::cli {

struct process_usage {
  std::int64_t user_ns = 0;
  std::int64_t system_ns = 0;
  runtime::io_counters io;
  bool io_known = false; // false: this kernel has no task I/O accounting
  std::uint64_t rss_bytes = 0;

  [[nodiscard]] std::int64_t cpu_ns() const noexcept { return user_ns + system_ns; }
};

process_usage read_process_usage() noexcept;

/// The peak resident set (VmHWM), 0 when unreadable.
std::uint64_t peak_rss_bytes() noexcept;

/// Starts the peak over from the current resident set (writes "5" to /proc/self/clear_refs):
/// false when the kernel refused, and the peak then counts from the process's start.
bool reset_peak_rss() noexcept;

/// The q-quantile (0..1) of `values` by nearest rank; 0 for none. Sorts its copy.
double nearest_rank(std::vector<double> values, double q);

/// "12.3 MiB", "512 B": bytes for people.
std::string human_bytes(double bytes);

} // namespace pg::cli
