// SPDX-License-Identifier: Apache-2.0
// live_container.hpp — containers running on this host, found from /proc: a process belongs to a
// container when its cgroup path names a container runtime (docker, containerd, cri-o, podman /
// libpod, kubepods, lxc), or, without such a path, when it lives in a mount namespace other than
// PID 1's AND also in another PID or UTS namespace or under another root directory (a plain
// systemd service with PrivateTmp= only has its own mount namespace and is not a container).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "phantomguard/actors/host/finding_sink.hpp"

namespace pg::actors::container {

/// A container named by a cgroup path.
struct cgroup_container {
  std::string runtime; // "docker", "containerd", "cri-o", "podman", "kubepods", "lxc"
  std::string id;      // the container id (64 hex for docker/containerd/podman) or name
};

/// Recognises a container in the text of /proc/PID/cgroup (all hierarchies, v1 and v2).
std::optional<cgroup_container> container_from_cgroup(std::string_view cgroup_text);

/// Namespace inode numbers by type ("net", "pid", "ipc", "mnt", "uts", "user", "cgroup").
using namespace_set = std::map<std::string, std::uint64_t, std::less<>>;

/// Reads /proc/PID/ns/* (the inode in "net:[4026531840]"); missing entries are left out.
namespace_set read_namespaces(pid_t pid, const std::string& proc_root = "/proc");

struct live_container {
  std::string id;
  std::string runtime;      // as above, or "namespaces" when found by namespaces alone
  std::vector<pid_t> pids;  // ascending
  pid_t leader = 0;         // the lowest pid: the container's init in most runtimes
  namespace_set namespaces; // the leader's
};

struct live_scan_stats {
  std::size_t processes = 0;
  std::size_t vanished = 0;   // exited while being read: normal
  std::size_t unreadable = 0; // permission denied
};

/// What the container checks compare against, read from PID 1: its namespaces (each one PID 1
/// does not let us read, without CAP_SYS_PTRACE or across user namespaces, falls back to this
/// process's own), the device of its "/", and its capability bounding set (what a fully
/// privileged process holds; all capabilities up to cap_last_cap when unreadable).
struct host_reference {
  namespace_set namespaces;
  std::vector<std::string> namespaces_from_self; // the types that fell back to our own
  std::string root_device;                       // major:minor of PID 1's "/"
  std::uint64_t full_capabilities = 0;
};

host_reference read_host_reference(const std::string& proc_root = "/proc");

/// The containers visible in `proc_root`, grouped by container id (cgroup) or by (mnt, pid)
/// namespace pair. This process itself is never one.
std::vector<live_container> find_live_containers(const host_reference& host,
                                                 const std::string& proc_root = "/proc",
                                                 live_scan_stats* stats = nullptr);

/// Runs the live checks on one container and posts container.privileged,
/// container.host_namespace, container.sensitive_mount and container.drift findings.
void check_live_container(const live_container& c, const host_reference& host,
                          host::finding_sink& sink, const std::string& proc_root = "/proc");

} // namespace pg::actors::container
