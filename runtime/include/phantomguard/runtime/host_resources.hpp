// SPDX-License-Identifier: Apache-2.0
// host_resources.hpp — what this host gives the engine to size itself by: the CPUs it may run on,
// its memory, whether it is a portable machine running on battery, and what its firmware says it
// is. `profile = "auto"` and every `"auto"` value are chosen from these, and the reason is kept
// so that `validate --explain`, `status` and the start log can say why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pg::runtime {

struct host_resources {
  unsigned cores = 1;              // CPUs this process may use (affinity mask, cgroup CPU limit)
  std::uint64_t memory_bytes = 0;  // MemTotal, or the memory cgroup's limit when it is lower
  bool battery = false;            // a battery is present: a portable machine
  bool on_battery = false;         // and no mains supply is online now
  std::string chassis;             // "desktop", "portable", "server" or "" (DMI chassis_type)
  std::string source = "detected"; // or "--host-resources" when stated by the operator

  /// "2 cores, 3.8 GiB, mains power" (and ", chassis server" when known).
  [[nodiscard]] std::string describe() const;
};

/// The host as the kernel shows it to this process.
host_resources detect_host_resources();

/// The power supplies alone (/sys/class/power_supply): what the adaptive throttle polls, where
/// the rest of detect_host_resources() does not change.
struct power_state {
  bool battery = false;    // a system battery is present
  bool on_battery = false; // and no mains supply is online
};
power_state read_power_state();

/// The host as an operator states it to plan for another machine (and as tests simulate one):
/// `cores=2,memory=4GiB[,battery=yes|no][,on_battery=yes|no][,chassis=desktop|portable|server]`.
/// Unnamed fields keep `base`'s values. nullopt with `*error` set when the text is not that.
std::optional<host_resources> parse_host_resources(std::string_view spec,
                                                   const host_resources& base, std::string* error);

/// The profiles compiled into the binary, in the order the documentation lists them.
inline constexpr std::string_view profile_names[] = {"low-resource", "desktop", "server"};

/// The documented rule behind `profile = "auto"` (docs/config.md, "Profiles"), in order:
///   at most 4 cores or at most 8 GiB           -> low-resource (small desktops, boards, VMs)
///   a battery                                   -> desktop (a laptop)
///   16 cores or more and 64 GiB or more         -> server
///   a chassis the firmware calls a desktop      -> desktop (a workstation)
///   otherwise                                   -> server
struct profile_choice {
  std::string name;
  std::string reason; // "2 cores, 23.4 GiB, mains power: at most 4 cores picks low-resource"
};
profile_choice choose_profile(const host_resources& host);

/// `worker_threads = "auto"`: one scheduler thread per core but one left to the host, at least
/// 1 and at most 8.
unsigned auto_worker_threads(const host_resources& host);
/// A scan's `workers = "auto"`: half the cores, at least 1 and at most 4.
unsigned auto_scan_workers(const host_resources& host);
/// The engine's `quota.memory_mb = "auto"`: 5% of the host's memory, within 64..1024 MiB.
std::uint64_t auto_engine_memory_mb(const host_resources& host);

} // namespace pg::runtime
