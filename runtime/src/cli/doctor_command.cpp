// SPDX-License-Identifier: Apache-2.0
// `phantomguard doctor`: what the engine, as the config declares it, needs of this host and
// whether it has it — the config itself, privileges, the state folder and the sinks' folders,
// the clock, cgroups, and what each family checks (the BPF sensor, the process connector,
// inotify, the plugin sandbox, advisory data). Each line says what was found and, when it is not
// ok, what to do. It probes and changes nothing (a probe file is removed at once), except that
// loading the sensor mounts tracefs when none is mounted, as `run` does.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/engine_setup.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::cli {

using namespace pg::runtime;
namespace fs = std::filesystem;

namespace {

host_report privileges_report() {
  host_report r{"privileges", "capabilities", host_level::ok, "", ""};
  using actors::host::has_capability;
  auto has = [](int cap) { return has_capability(cap); };
  struct need {
    int cap;
    const char* name;
    const char* cost;
  };
  const need needs[] = {
      {19, "CAP_SYS_PTRACE",
       "other users' /proc/PID/{maps,fd,environ,exe} (process, memory, "
       "network analyzers)"},
      {2, "CAP_DAC_READ_SEARCH",
       "files and folders the engine's user may not read (fim, yara, "
       "rootkit, package_integrity)"},
      {12, "CAP_NET_ADMIN", "the netlink process connector (process_events polls instead)"},
  };
  std::string missing;
  std::string costs;
  for (const auto& n : needs)
    if (!has(n.cap)) {
      missing += std::string(missing.empty() ? "" : ", ") + n.name;
      costs += std::string(costs.empty() ? "" : "; ") + n.name + ": " + n.cost;
    }
  // The BPF sensor: CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN.
  if (!has(21) && !(has(39) && has(38))) {
    missing += std::string(missing.empty() ? "" : ", ") + "CAP_BPF+CAP_PERFMON";
    costs += std::string(costs.empty() ? "" : "; ") +
             "CAP_BPF+CAP_PERFMON: the BPF sensor (kernel_events falls back to process_events)";
  }
  const std::string who = ::geteuid() == 0 ? "root" : "uid " + std::to_string(::geteuid());
  if (missing.empty()) {
    r.detail = who + ", with every capability the analyzers use";
    return r;
  }
  r.level = host_level::warn;
  r.detail = who + " without " + missing + ". Lost: " + costs;
  r.advice = "run as root (the systemd unit does), or grant the capabilities listed";
  return r;
}

// The deepest folder of `path` that exists (the folder itself, or the one it will be made in).
fs::path existing_ancestor(fs::path path) {
  std::error_code ec;
  while (!path.empty() && !fs::exists(path, ec)) {
    if (path == path.parent_path())
      break;
    path = path.parent_path();
  }
  return path.empty() ? fs::path("/") : path;
}

host_report folder_report(const std::string& area, const std::string& what, const fs::path& folder,
                          std::uint64_t warn_below) {
  host_report r{area, what, host_level::ok, "", ""};
  std::error_code ec;
  const fs::path at = existing_ancestor(folder);
  const bool exists = at == folder;
  if (!fs::is_directory(at, ec)) {
    r.level = host_level::fail;
    r.detail = at.string() + " is not a folder";
    r.advice = "point it at a folder";
    return r;
  }
  // A probe file proves the write (access(2) does not see a read-only bind mount's flag on
  // every kernel); it is removed at once.
  std::string probe = (at / ".phantomguard-doctor-XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) {
    const int err = errno;
    r.level = host_level::fail;
    r.detail =
        (exists ? folder.string() : folder.string() + " (to be made in " + at.string() + ")") +
        ": not writable: " + std::strerror(err);
    r.advice = err == EROFS ? "a read-only file system: put it on a writable mount (tmpfs, a data "
                              "partition)"
                            : "make it writable for the engine's user";
    return r;
  }
  ::close(fd);
  ::unlink(probe.c_str());
  struct statvfs vfs {};
  std::uint64_t free_bytes = 0;
  if (::statvfs(at.c_str(), &vfs) == 0)
    free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  r.detail = folder.string() + (exists ? "" : " (created at start, in " + at.string() + ")") +
             ": writable, " + std::to_string(free_bytes >> 20) + " MiB free";
  if (free_bytes < warn_below) {
    r.level = host_level::warn;
    r.advice = "free space: below " + std::to_string(warn_below >> 20) +
               " MiB; when it fills, archives, spools and databases cannot write "
               "(engine.sink_write_failed)";
  }
  return r;
}

host_report clock_report() {
  host_report r{"clock", "wall clock", host_level::ok, "", ""};
  struct timex tx {};
  const int state = ::adjtimex(&tx);
  struct stat exe {};
  const auto now = std::chrono::system_clock::now();
  const auto now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (::stat("/proc/self/exe", &exe) == 0 && now_s + 86400 < exe.st_mtim.tv_sec) {
    r.level = host_level::fail;
    r.detail = "the clock is more than a day behind the engine binary's own date: findings, "
               "certificates, advisory ages and cron schedules are wrong";
    r.advice = "set the time (timedatectl, chrony or systemd-timesyncd)";
    return r;
  }
  if (state == TIME_ERROR) {
    r.level = host_level::warn;
    r.detail = "not synchronised (adjtimex: TIME_ERROR): finding times may drift from other hosts'";
    r.advice = "run an NTP client (chrony, systemd-timesyncd)";
    return r;
  }
  r.detail = state < 0 ? "adjtimex unreadable; the time looks sane" : "synchronised";
  return r;
}

host_report cgroup_report() {
  host_report r{"kernel", "cgroups", host_level::note, "", ""};
  struct statfs sf {};
  if (::statfs("/sys/fs/cgroup", &sf) != 0) {
    r.detail = "/sys/fs/cgroup is not mounted: containers are found by namespaces only";
    return r;
  }
  if (static_cast<unsigned long>(sf.f_type) == CGROUP2_SUPER_MAGIC) {
    r.level = host_level::ok;
    r.detail = "v2 (unified hierarchy)";
    return r;
  }
  // /proc/cgroups: subsys_name hierarchy num_cgroups enabled
  std::ifstream in("/proc/cgroups");
  bool memory = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name;
    long hierarchy = 0, groups = 0, enabled = 0;
    if (fields >> name >> hierarchy >> groups >> enabled && name == "memory")
      memory = enabled == 1;
  }
  r.level = host_level::ok;
  r.detail = std::string("v1 (legacy hierarchies), memory controller ") +
             (memory ? "enabled" : "disabled");
  return r;
}

/// What `profile = "auto"` picks here, and what the config stands on.
host_report profile_report(const pipeline_config& cfg, const global_options& global) {
  runtime::diagnostics ignored; // a bad --host-resources stopped the config from loading
  const auto host = load_options_of(global, &ignored).host.value_or(detect_host_resources());
  const auto choice = choose_profile(host);
  host_report r{"engine", "profile", host_level::note, "", ""};
  r.detail = "auto would pick " + choice.name + " (" + choice.reason + ")";
  if (cfg.profile.requested.empty()) {
    r.detail += "; this config names no profile";
    r.advice = "to size the engine for this host: [engine] profile = \"auto\" (or --profile " +
               choice.name + "); see docs/config.md, \"Profiles\"";
  } else {
    r.level = host_level::ok;
    r.detail += "; this config stands on " + cfg.profile.name;
  }
  return r;
}

std::vector<host_report> core_reports(const pipeline_config& cfg, const global_options& global) {
  std::vector<host_report> out;
  out.push_back(profile_report(cfg, global));
  out.push_back(privileges_report());
  out.push_back(folder_report("storage", "state_dir", cfg.engine.state_dir, 64ull << 20));
  for (const auto& c : cfg.components)
    if (c.enabled && c.kind == component_kind::sink && c.type == "jsonl") {
      const auto path = c.settings.get_string("path", "");
      if (!path.empty())
        out.push_back(folder_report("storage", "folder of sink " + c.name,
                                    fs::path(path).parent_path(), 64ull << 20));
    }
  out.push_back(clock_report());
  out.push_back(cgroup_report());
  return out;
}

int exit_code(host_level worst) {
  return worst == host_level::fail ? 2 : worst == host_level::warn ? 1 : 0;
}

} // namespace

int doctor_command(const global_options& global, bool json) {
  auto loaded = build_pipeline(global.config_path, global);
  if (!loaded.ok()) {
    std::cerr << "phantomguard doctor: the config does not load; fix it first:\n";
    print_diagnostics(std::cerr, loaded.errors, global.config_path);
    return 2;
  }
  const auto& cfg = *loaded.config;
  auto reports = core_reports(cfg, global);
  for (const auto* check : registry::instance().host_checks()) {
    try {
      for (auto& r : check->run(cfg))
        reports.push_back(std::move(r));
    } catch (const std::exception& e) {
      reports.push_back({"doctor", check->name, host_level::warn,
                         std::string("the check itself failed: ") + e.what(), ""});
    }
  }
  host_level worst = host_level::ok;
  std::size_t count[4] = {};
  for (const auto& r : reports) {
    worst = std::max(worst, r.level);
    ++count[static_cast<int>(r.level)];
  }
  if (json) {
    nlohmann::json out;
    out["config"] = cfg.origin;
    out["worst"] = std::string(to_string(worst));
    out["checks"] = nlohmann::json::array();
    for (const auto& r : reports)
      out["checks"].push_back({{"area", r.area},
                               {"check", r.what},
                               {"level", std::string(to_string(r.level))},
                               {"detail", r.detail},
                               {"advice", r.advice}});
    std::cout << out.dump(2) << '\n';
    return exit_code(worst);
  }
  std::cout << "phantomguard doctor: " << cfg.origin << " (the config loads)\n";
  std::size_t width = 0;
  for (const auto& r : reports)
    width = std::max(width, r.what.size());
  for (const auto& r : reports) {
    std::string level(to_string(r.level));
    level.resize(6, ' ');
    std::string area = r.area;
    area.resize(std::max<std::size_t>(area.size() + 1, 11), ' ');
    std::string what = r.what;
    what.resize(width + 2, ' ');
    std::cout << level << area << what << r.detail << '\n';
    if (!r.advice.empty())
      std::cout << std::string(6 + 11, ' ') << "-> " << r.advice << '\n';
  }
  std::cout << count[0] << " ok, " << count[1] << " note(s), " << count[2] << " warning(s), "
            << count[3] << " failure(s)\n";
  return exit_code(worst);
}

} // namespace pg::cli
