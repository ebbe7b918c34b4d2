// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/privilege.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"

namespace pg::actors::host {

bool has_capability(int cap) {
  auto text = read_file("/proc/self/status", 16384);
  if (!text || cap < 0 || cap > 63)
    return false;
  auto st = parse_proc_status(*text);
  auto it = st.find("CapEff");
  if (it == st.end())
    return false;
  std::uint64_t mask = std::stoull(it->second, nullptr, 16);
  return (mask >> cap) & 1u;
}

std::string capability_name(int cap) {
  switch (cap) {
    case 0: return "CAP_CHOWN";
    case 1: return "CAP_DAC_OVERRIDE";
    case 2: return "CAP_DAC_READ_SEARCH";
    case 12: return "CAP_NET_ADMIN";
    case 13: return "CAP_NET_RAW";
    case 19: return "CAP_SYS_PTRACE";
    case 21: return "CAP_SYS_ADMIN";
    case 24: return "CAP_SYS_RESOURCE";
  }
  return "CAP_" + std::to_string(cap);
}

bool lower_thread_priority(int nice_level, int io_class, int io_level) {
  // setpriority with PRIO_PROCESS and a thread id affects only that thread on Linux.
  auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, nice_level) != 0)
    return false;
  constexpr int ioprio_who_process = 1;
  constexpr int ioprio_class_shift = 13;
  int prio = (io_class << ioprio_class_shift) | io_level;
  return ::syscall(SYS_ioprio_set, ioprio_who_process, static_cast<int>(tid), prio) == 0;
}

} // namespace pg::actors::host
