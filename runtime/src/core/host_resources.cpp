// SPDX-License-Identifier: Apache-2.0
// host_resources.cpp — cores from the affinity mask and the CPU cgroup, memory from meminfo and
// the memory cgroup (v1 and v2), the power supply from /sys/class/power_supply, the chassis from
// DMI. A file that cannot be read leaves its fact at the safe side (fewer resources, no battery).
#include "phantomguard/runtime/host_resources.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "phantomguard/runtime/units.hpp"

namespace pg::runtime {

namespace {

namespace fs = std::filesystem;

std::optional<std::string> first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  if (!in || !std::getline(in, line))
    return std::nullopt;
  return line;
}

std::optional<std::uint64_t> number_in(const fs::path& p) {
  auto line = first_line(p);
  if (!line)
    return std::nullopt;
  try {
    std::size_t used = 0;
    const auto v = std::stoull(*line, &used);
    return used > 0 ? std::optional<std::uint64_t>(v) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt; // "max", empty
  }
}

/// `/proc/self/cgroup`: controller list -> path ("" for the v2 unified hierarchy).
std::vector<std::pair<std::string, std::string>> own_cgroups() {
  std::vector<std::pair<std::string, std::string>> out;
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':');
    const auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos)
      continue;
    out.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1));
  }
  return out;
}

bool lists(const std::string& controllers, std::string_view name) {
  std::stringstream s(controllers);
  for (std::string c; std::getline(s, c, ',');)
    if (c == name)
      return true;
  return false;
}

/// The CPU limit of our cgroup in cores (quota / period), if one is set.
std::optional<double> cgroup_cpu_limit() {
  for (const auto& [controllers, path] : own_cgroups()) {
    if (controllers.empty()) { // v2: "max 100000" or "50000 100000"
      auto line =
          first_line(fs::path("/sys/fs/cgroup") / fs::path(path).relative_path() / "cpu.max");
      if (!line)
        continue;
      std::istringstream in(*line);
      std::string quota;
      double period = 0;
      if (in >> quota >> period && quota != "max" && period > 0) {
        try {
          return std::stod(quota) / period;
        } catch (const std::exception&) {
        }
      }
    } else if (lists(controllers, "cpu")) {
      for (const char* mount : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
        const auto dir = fs::path(mount) / fs::path(path).relative_path();
        auto quota = first_line(dir / "cpu.cfs_quota_us");
        auto period = number_in(dir / "cpu.cfs_period_us");
        if (!quota || !period || *period == 0)
          continue;
        try {
          const long long q = std::stoll(*quota);
          if (q > 0)
            return static_cast<double>(q) / static_cast<double>(*period);
        } catch (const std::exception&) {
        }
        break;
      }
    }
  }
  return std::nullopt;
}

/// The memory limit of our cgroup in bytes, if one is set (v1 reports "no limit" as a huge
/// number, which the MemTotal minimum absorbs).
std::optional<std::uint64_t> cgroup_memory_limit() {
  for (const auto& [controllers, path] : own_cgroups()) {
    if (controllers.empty()) {
      if (auto v =
              number_in(fs::path("/sys/fs/cgroup") / fs::path(path).relative_path() / "memory.max"))
        return v;
    } else if (lists(controllers, "memory")) {
      if (auto v = number_in(fs::path("/sys/fs/cgroup/memory") / fs::path(path).relative_path() /
                             "memory.limit_in_bytes"))
        return v;
    }
  }
  return std::nullopt;
}

std::uint64_t mem_total() {
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    std::uint64_t kb = 0;
    in >> kb;
    if (key == "MemTotal:")
      return kb * 1024;
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

/// DMI chassis types (SMBIOS 3.x, 7.4.1) grouped the way the profile rule needs them.
std::string chassis_kind(int type) {
  switch (type) {
  case 3:
  case 4:
  case 5:
  case 6:
  case 7:
  case 13:
  case 15:
  case 16:
  case 24:
  case 35:
  case 36:
    return "desktop"; // desktop, low profile, pizza box, mini tower, tower, all in one, ...
  case 8:
  case 9:
  case 10:
  case 11:
  case 14:
  case 30:
  case 31:
  case 32:
    return "portable"; // portable, laptop, notebook, hand held, sub notebook, tablet, ...
  case 17:
  case 23:
  case 25:
  case 28:
  case 29:
    return "server"; // main server chassis, rack mount, multi-system, blade, blade enclosure
  default:
    return ""; // other, unknown (most virtual machines), docking stations
  }
}

std::string gib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

bool yes_no(std::string_view v, bool* out) {
  if (v == "yes" || v == "true" || v == "1") {
    *out = true;
    return true;
  }
  if (v == "no" || v == "false" || v == "0") {
    *out = false;
    return true;
  }
  return false;
}

} // namespace

std::string host_resources::describe() const {
  std::string out = std::to_string(cores) + (cores == 1 ? " core, " : " cores, ") +
                    gib(memory_bytes) + ", " +
                    (on_battery ? "on battery"
                     : battery  ? "mains power, a battery"
                                : "mains power");
  if (!chassis.empty())
    out += ", chassis " + chassis;
  return out;
}

power_state read_power_state() {
  power_state p;
  bool mains_online = false, any_mains = false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/class/power_supply", ec)) {
    const auto type = first_line(e.path() / "type").value_or("");
    if (type == "Battery") {
      // A peripheral's battery (a mouse: scope "Device") does not make the host portable.
      if (first_line(e.path() / "scope").value_or("System") == "Device")
        continue;
      if (first_line(e.path() / "present").value_or("1") != "0")
        p.battery = true;
    } else if (type == "Mains" || type == "USB") {
      any_mains = true;
      mains_online = mains_online || first_line(e.path() / "online").value_or("0") == "1";
    }
  }
  p.on_battery = p.battery && any_mains && !mains_online;
  return p;
}

host_resources detect_host_resources() {
  host_resources h;
  cpu_set_t set;
  CPU_ZERO(&set);
  long cores = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                             : ::sysconf(_SC_NPROCESSORS_ONLN);
  if (auto limit = cgroup_cpu_limit())
    cores = std::min<long>(cores, std::max<long>(1, static_cast<long>(std::ceil(*limit))));
  h.cores = static_cast<unsigned>(std::max<long>(1, cores));
  h.memory_bytes = mem_total();
  if (auto limit = cgroup_memory_limit(); limit && *limit > 0)
    h.memory_bytes = h.memory_bytes ? std::min(h.memory_bytes, *limit) : *limit;

  const auto power = read_power_state();
  h.battery = power.battery;
  h.on_battery = power.on_battery;
  if (auto t = number_in("/sys/class/dmi/id/chassis_type"))
    h.chassis = chassis_kind(static_cast<int>(*t));
  return h;
}

std::optional<host_resources> parse_host_resources(std::string_view spec,
                                                   const host_resources& base, std::string* error) {
  host_resources h = base;
  h.source = "--host-resources";
  auto fail = [&](std::string why) {
    if (error)
      *error = "'" + std::string(spec) + "': " + std::move(why) +
               " (expected cores=N,memory=SIZE[,battery=yes|no][,on_battery=yes|no]"
               "[,chassis=desktop|portable|server])";
    return std::nullopt;
  };
  if (spec.empty())
    return fail("empty");
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    const auto end = std::min(spec.find(',', pos), spec.size());
    const auto item = spec.substr(pos, end - pos);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return fail("'" + std::string(item) + "' is not NAME=VALUE");
    const auto key = item.substr(0, eq);
    const auto value = item.substr(eq + 1);
    if (key == "cores") {
      unsigned n = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() || n == 0 || n > 4096)
        return fail("cores must be a whole number from 1 to 4096");
      h.cores = n;
    } else if (key == "memory") {
      auto bytes = parse_size(value);
      if (!bytes || *bytes < (1ull << 20))
        return fail("memory must be a size such as 4GiB (at least 1MiB)");
      h.memory_bytes = *bytes;
    } else if (key == "battery" || key == "on_battery") {
      bool v = false;
      if (!yes_no(value, &v))
        return fail(std::string(key) + " must be yes or no");
      (key == "battery" ? h.battery : h.on_battery) = v;
    } else if (key == "chassis") {
      if (value != "desktop" && value != "portable" && value != "server" && value != "")
        return fail("chassis must be desktop, portable or server");
      h.chassis = std::string(value);
    } else {
      return fail("unknown field '" + std::string(key) + "'");
    }
    pos = end + 1;
  }
  if (h.on_battery)
    h.battery = true;
  return h;
}

profile_choice choose_profile(const host_resources& host) {
  const auto facts = host.describe() + ": ";
  constexpr std::uint64_t gib8 = 8ull << 30, gib64 = 64ull << 30;
  if (host.cores <= 4)
    return {"low-resource", facts + "at most 4 cores picks low-resource"};
  if (host.memory_bytes <= gib8)
    return {"low-resource", facts + "at most 8 GiB picks low-resource"};
  if (host.battery)
    return {"desktop", facts + "a battery (a portable machine) picks desktop"};
  if (host.cores >= 16 && host.memory_bytes >= gib64)
    return {"server", facts + "16 cores or more with 64 GiB or more picks server"};
  if (host.chassis == "desktop" || host.chassis == "portable")
    return {"desktop", facts + "a " + host.chassis + " chassis picks desktop"};
  return {"server", facts + "more than 4 cores and 8 GiB, no battery and no desktop chassis "
                            "picks server"};
}

unsigned auto_worker_threads(const host_resources& host) {
  return std::clamp(host.cores > 1 ? host.cores - 1 : 1u, 1u, 8u);
}

unsigned auto_scan_workers(const host_resources& host) {
  return std::clamp(host.cores / 2, 1u, 4u);
}

std::uint64_t auto_engine_memory_mb(const host_resources& host) {
  return std::clamp<std::uint64_t>(host.memory_bytes / 20 >> 20, 64, 1024);
}

} // namespace pg::runtime
