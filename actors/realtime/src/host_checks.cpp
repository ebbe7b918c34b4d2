// SPDX-License-Identifier: Apache-2.0
// The realtime family's checks for `phantomguard doctor`: the BPF sensor (loaded and attached as
// kernel_events would, then closed), the netlink process connector, and inotify's limits. A
// facility the config does not use is a note; one it uses and cannot have is a warning, with
// what the engine does instead.
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "phantomguard/actors/realtime/kernel_sensor.hpp"
#include "phantomguard/actors/realtime/proc_connector.hpp"
#include "phantomguard/actors/realtime/register.hpp"

namespace pg::actors::realtime {

namespace {

using runtime::host_level;
using runtime::host_report;

bool declares(const runtime::pipeline_config& config, std::string_view type) {
  for (const auto& c : config.components)
    if (c.enabled && c.type == type)
      return true;
  return false;
}

long read_long(const char* path) {
  std::ifstream in(path);
  long v = -1;
  in >> v;
  return in ? v : -1;
}

host_report sensor_report(const runtime::pipeline_config& config) {
  host_report r{"kernel", "BPF sensor (kernel_events)", host_level::ok, "", ""};
  const bool used = declares(config, "kernel_events");
  if (!kernel_sensor::built()) {
    r.level = used ? host_level::warn : host_level::note;
    r.detail = "this binary was built without the BPF sensor (no clang or libbpf at build time)";
    r.advice = used ? "kernel_events falls back to process_events; rebuild with clang and libbpf-dev"
                    : "";
    return r;
  }
  kernel_sensor_options options;
  options.kinds = (1u << kernel_kind_count) - 1;
  options.ring_size = 1u << 16;
  options.self_tgid = static_cast<std::uint32_t>(::getpid());
  std::string why;
  std::string missing;
  auto sensor = kernel_sensor::open(options, &why, &missing);
  if (!sensor) {
    r.level = used ? host_level::warn : host_level::note;
    r.detail = why;
    r.advice = missing == "CAP_BPF"
                   ? "run as root, or give the daemon CAP_BPF and CAP_PERFMON"
               : missing == "BTF"
                   ? "a kernel built with CONFIG_DEBUG_INFO_BTF"
                   : "kernel_events falls back to process_events (realtime.privilege_limited)";
    return r;
  }
  r.detail = "loads and attaches";
  if (!sensor->unavailable().empty()) {
    r.level = host_level::note;
    r.detail += "; not on this kernel:";
    for (const auto& u : sensor->unavailable())
      r.detail += " " + u + ";";
    r.detail.pop_back();
  }
  return r;
}

host_report connector_report(const runtime::pipeline_config& config) {
  host_report r{"kernel", "netlink process connector (process_events)", host_level::ok, "", ""};
  const bool used = declares(config, "process_events") || declares(config, "kernel_events");
  int err = 0;
  if (auto c = proc_connector::open(&err)) {
    r.detail = "subscribed: every fork, exec and exit is pushed by the kernel";
    return r;
  }
  r.level = used ? host_level::warn : host_level::note;
  r.detail = std::string("the kernel refused the subscription: ") + std::strerror(err);
  r.advice = err == EPERM ? "CAP_NET_ADMIN (root); without it process_events polls /proc and "
                            "misses processes shorter than its interval"
                          : "a kernel with CONFIG_PROC_EVENTS; process_events polls /proc meanwhile";
  return r;
}

host_report inotify_report(const runtime::pipeline_config& config) {
  host_report r{"kernel", "inotify (fim, file_watch)", host_level::ok, "", ""};
  const bool used = declares(config, "fim") || declares(config, "file_watch");
  const long watches = read_long("/proc/sys/fs/inotify/max_user_watches");
  const long instances = read_long("/proc/sys/fs/inotify/max_user_instances");
  const int fd = ::inotify_init1(IN_CLOEXEC);
  if (fd < 0) {
    r.level = used ? host_level::warn : host_level::note;
    r.detail = std::string("inotify_init1: ") + std::strerror(errno);
    r.advice = "fim and file_watch fall back to periodic scans; raise "
               "fs.inotify.max_user_instances";
    return r;
  }
  ::close(fd);
  r.detail = "max_user_watches " + std::to_string(watches) + ", max_user_instances " +
             std::to_string(instances);
  // Each watched folder costs one watch; a default fim over /etc, /usr/bin, ... needs thousands.
  if (watches >= 0 && watches < 8192) {
    r.level = used ? host_level::warn : host_level::note;
    r.advice = "sysctl fs.inotify.max_user_watches=65536 (fewer: deep trees are scanned instead "
               "of watched)";
  }
  return r;
}

} // namespace

std::vector<runtime::host_report> host_reports(const runtime::pipeline_config& config) {
  return {sensor_report(config), connector_report(config), inotify_report(config)};
}

} // namespace pg::actors::realtime
