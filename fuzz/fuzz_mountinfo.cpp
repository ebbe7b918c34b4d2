// SPDX-License-Identifier: Apache-2.0
// /proc/self/mountinfo as the rootkit analyzer (mounts over /proc/PID) and the container family
// (a live container's mounts) read it. Anyone who can mount in a namespace we read shapes it.
// Invariant: a mask found names a PID under /proc.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "phantomguard/actors/container/mountinfo.hpp"
#include "phantomguard/actors/rootkit/pid_cross_view.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& m : pg::actors::rootkit::find_proc_masks(text))
    if (m.pid <= 0 || m.mount_point.rfind("/proc/", 0) != 0)
      __builtin_trap();
  std::size_t malformed = 0;
  for (const auto& e : pg::actors::container::parse_mountinfo(text, &malformed)) {
    (void)pg::actors::container::mount_option(e.options, "lowerdir");
    (void)pg::actors::container::has_mount_flag(e.options, "ro");
  }
  return 0;
}
