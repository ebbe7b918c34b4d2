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
  case 0:
    return "CAP_CHOWN";
  case 1:
    return "CAP_DAC_OVERRIDE";
  case 2:
    return "CAP_DAC_READ_SEARCH";
  case 12:
    return "CAP_NET_ADMIN";
  case 13:
    return "CAP_NET_RAW";
  case 19:
    return "CAP_SYS_PTRACE";
  case 21:
    return "CAP_SYS_ADMIN";
  case 24:
    return "CAP_SYS_RESOURCE";
  }
  return "CAP_" + std::to_string(cap);
}

} // namespace pg::actors::host
