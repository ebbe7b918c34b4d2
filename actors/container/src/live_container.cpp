// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/live_container.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/container/mountinfo.hpp"
#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"

namespace pg::actors::container {

namespace {

bool is_hex_id(std::string_view s, std::size_t min_len = 12) {
  return s.size() >= min_len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// "docker-<id>.scope" → id when the prefix matches.
std::optional<std::string> scoped(std::string_view part, std::string_view prefix) {
  if (!part.starts_with(prefix))
    return std::nullopt;
  auto rest = part.substr(prefix.size());
  if (rest.ends_with(".scope"))
    rest.remove_suffix(6);
  if (!is_hex_id(rest))
    return std::nullopt;
  return std::string(rest);
}

std::optional<cgroup_container> from_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    auto slash = path.find('/', i);
    auto part =
        path.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
    if (!part.empty())
      parts.push_back(part);
    if (slash == std::string_view::npos)
      break;
    i = slash + 1;
  }
  bool kube = false;
  std::optional<cgroup_container> found;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    auto p = parts[k];
    std::string_view prev = k > 0 ? parts[k - 1] : std::string_view();
    if (p.starts_with("kubepods"))
      kube = true;
    if (auto id = scoped(p, "docker-"))
      found = cgroup_container{"docker", *id};
    else if (auto id2 = scoped(p, "cri-containerd-"))
      found = cgroup_container{"containerd", *id2};
    else if (auto id3 = scoped(p, "crio-"))
      found = cgroup_container{"cri-o", *id3};
    else if (auto id4 = scoped(p, "libpod-"))
      found = cgroup_container{"podman", *id4};
    else if (prev == "docker" && is_hex_id(p))
      found = cgroup_container{"docker", std::string(p)};
    else if (prev == "libpod_parent" && is_hex_id(p))
      found = cgroup_container{"podman", std::string(p)};
    else if (prev == "containerd" && !p.empty())
      found = cgroup_container{"containerd", std::string(p)};
    else if (kube && is_hex_id(p, 32))
      found = cgroup_container{"kubepods", std::string(p)};
    else if (p.starts_with("lxc.payload."))
      found = cgroup_container{"lxc", std::string(p.substr(12))};
    else if (prev == "lxc" && !p.empty())
      found = cgroup_container{"lxc", std::string(p)};
  }
  if (found && kube)
    found->runtime = "kubepods";
  return found;
}

std::uint64_t parse_ns_link(const std::string& link) {
  auto open = link.find('[');
  auto close = link.find(']');
  if (open == std::string::npos || close == std::string::npos || close <= open + 1)
    return 0;
  try {
    return std::stoull(link.substr(open + 1, close - open - 1));
  } catch (...) {
    return 0;
  }
}

std::string proc_path(const std::string& proc_root, pid_t pid, const char* rel) {
  return proc_root + "/" + std::to_string(pid) + "/" + rel;
}

bool same_root_as_host(pid_t pid, const std::string& proc_root) {
  struct stat a {
  }, b{};
  if (::stat(proc_path(proc_root, pid, "root").c_str(), &a) != 0 ||
      ::stat(proc_path(proc_root, 1, "root").c_str(), &b) != 0)
    return true; // cannot tell: do not call it a container
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::uint64_t ns_of(const namespace_set& s, std::string_view type) {
  auto it = s.find(type);
  return it == s.end() ? 0 : it->second;
}

} // namespace

std::optional<cgroup_container> container_from_cgroup(std::string_view text) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    // "hierarchy-id:controllers:path"; the path may itself hold ':'.
    auto first = line.find(':');
    auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos)
      continue;
    if (auto c = from_path(line.substr(second + 1)))
      return c;
  }
  return std::nullopt;
}

namespace_set read_namespaces(pid_t pid, const std::string& proc_root) {
  namespace_set out;
  for (const char* type : {"net", "pid", "ipc", "mnt", "uts", "user", "cgroup"}) {
    auto link = host::read_link(proc_path(proc_root, pid, "ns/") + type);
    if (link)
      if (auto ino = parse_ns_link(*link))
        out[type] = ino;
  }
  return out;
}

host_reference read_host_reference(const std::string& proc_root) {
  host_reference h;
  h.namespaces = read_namespaces(1, proc_root);
  auto self = read_namespaces(::getpid(), proc_root);
  for (const auto& [type, ino] : self) {
    if (!h.namespaces.contains(type)) {
      h.namespaces[type] = ino;
      h.namespaces_from_self.push_back(type);
    }
  }
  auto text = host::read_file(proc_path(proc_root, 1, "mountinfo"), 4u << 20);
  if (!text)
    text = host::read_file(proc_path(proc_root, ::getpid(), "mountinfo"), 4u << 20);
  if (text) {
    for (const auto& m : parse_mountinfo(*text))
      if (m.mount_point == "/")
        h.root_device = m.device; // the last "/" mount is the visible one
  }
  std::uint64_t last_cap = 40; // Linux 5.9+; read the running kernel's value when possible
  if (auto t = host::read_file(proc_root + "/sys/kernel/cap_last_cap", 64)) {
    try {
      last_cap = std::stoull(*t);
    } catch (...) {
    }
  }
  h.full_capabilities = last_cap >= 63 ? ~0ull : ((1ull << (last_cap + 1)) - 1);
  if (auto st = host::read_proc_status(1, proc_root)) {
    auto it = st->find("CapBnd");
    if (it != st->end()) {
      try {
        h.full_capabilities = std::stoull(it->second, nullptr, 16);
      } catch (...) {
      }
    }
  }
  return h;
}

std::vector<live_container> find_live_containers(const host_reference& host,
                                                 const std::string& proc_root,
                                                 live_scan_stats* stats) {
  live_scan_stats local;
  auto& st = stats ? *stats : local;
  const auto& host_ns = host.namespaces;
  const pid_t self = ::getpid();
  std::map<std::string, live_container> groups;
  for (pid_t pid : host::list_pids(proc_root)) {
    if (pid == 1 || pid == self)
      continue;
    ++st.processes;
    int err = 0;
    auto cgroup = host::read_file(proc_path(proc_root, pid, "cgroup"), 65536, &err);
    if (!cgroup) {
      (host::is_vanished(err) ? st.vanished : st.unreadable)++;
      continue;
    }
    auto ns = read_namespaces(pid, proc_root);
    if (ns.empty()) {
      ++st.unreadable; // kernel threads and vanished processes have no readable links
      continue;
    }
    if (!ns.contains("mnt") || !ns.contains("uts")) {
      // An exiting process (a zombie) has let go of its mount, UTS, IPC and network namespaces
      // but still shows its PID and user ones: compared with the host's it would look like a
      // container in namespaces of its own.
      ++st.vanished;
      continue;
    }
    std::string key;
    cgroup_container who;
    if (auto c = container_from_cgroup(*cgroup)) {
      who = *c;
      key = c->runtime + ":" + c->id;
    } else {
      bool other_mnt = ns_of(ns, "mnt") != ns_of(host_ns, "mnt");
      bool other_pid = ns_of(ns, "pid") != ns_of(host_ns, "pid");
      bool other_uts = ns_of(ns, "uts") != ns_of(host_ns, "uts");
      if (!other_mnt || !(other_pid || other_uts || !same_root_as_host(pid, proc_root)))
        continue;
      who.runtime = "namespaces";
      who.id =
          "mnt:" + std::to_string(ns_of(ns, "mnt")) + "/pid:" + std::to_string(ns_of(ns, "pid"));
      key = who.id;
    }
    auto& g = groups[key];
    if (g.pids.empty()) {
      g.id = who.id;
      g.runtime = who.runtime;
    }
    g.pids.push_back(pid);
    if (g.leader == 0 || pid < g.leader) {
      g.leader = pid;
      g.namespaces = ns;
    }
  }
  std::vector<live_container> out;
  for (auto& [key, g] : groups) {
    std::sort(g.pids.begin(), g.pids.end());
    out.push_back(std::move(g));
  }
  return out;
}

namespace {

nlohmann::json container_entity(const live_container& c) {
  return {{"container", c.id}, {"runtime", c.runtime}, {"pid", c.leader}};
}

runtime::finding make(const live_container& c, const char* rule, runtime::severity level,
                      std::string title, std::vector<std::string> mitre) {
  runtime::finding f;
  f.rule = rule;
  f.level = level;
  f.title = std::move(title);
  f.entity = container_entity(c);
  f.mitre = std::move(mitre);
  return f;
}

// Why a mount gives the container a way to the host; empty when it does not.
std::string sensitive_reason(const mount_entry& m, const host_reference& host) {
  auto ends_with_socket = [](const std::string& p) {
    for (const char* s : {"docker.sock", "containerd.sock", "crio.sock", "podman.sock"})
      if (p.ends_with(s))
        return true;
    return false;
  };
  if (ends_with_socket(m.mount_point) || ends_with_socket(m.root))
    return "container runtime socket";
  if (m.fstype == "proc" && m.mount_point != "/proc" && !m.mount_point.starts_with("/proc/"))
    return "host /proc";
  if (m.fstype == "sysfs" && (m.mount_point != "/sys" || has_mount_flag(m.options, "rw")))
    return m.mount_point == "/sys" ? "writable /sys" : "host /sys";
  if (m.fstype == "devtmpfs")
    return "host /dev";
  if (!host.root_device.empty() && m.device == host.root_device && m.root == "/")
    return "host root file system";
  return {};
}

runtime::severity sensitive_level(const std::string& reason) {
  if (reason == "container runtime socket" || reason == "host root file system")
    return runtime::severity::critical;
  if (reason == "host /proc" || reason == "host /dev" || reason == "writable /sys")
    return runtime::severity::high;
  return runtime::severity::medium;
}

} // namespace

void check_live_container(const live_container& c, const host_reference& host,
                          host::finding_sink& sink, const std::string& proc_root) {
  // Privileged: the leader holds every capability the kernel knows.
  if (auto status = host::read_proc_status(c.leader, proc_root)) {
    auto it = status->find("CapEff");
    if (it != status->end()) {
      std::uint64_t eff = 0;
      try {
        eff = std::stoull(it->second, nullptr, 16);
      } catch (...) {
      }
      if ((eff & host.full_capabilities) == host.full_capabilities) {
        auto f = make(c, "container.privileged", runtime::severity::high,
                      "container " + c.id.substr(0, 12) + " runs with every capability",
                      {"T1611", "T1610"});
        char mask[32];
        std::snprintf(mask, sizeof mask, "%016llx",
                      static_cast<unsigned long long>(host.full_capabilities));
        f.evidence = {{"cap_eff", it->second}, {"host_bounding_set", mask}, {"pid", c.leader}};
        sink.post(std::move(f));
      }
    }
  }
  // Host namespaces shared.
  std::vector<std::string> shared;
  for (const char* type : {"net", "pid", "ipc"}) {
    auto mine = ns_of(c.namespaces, type);
    if (mine != 0 && mine == ns_of(host.namespaces, type))
      shared.emplace_back(type);
  }
  if (!shared.empty()) {
    std::string list;
    for (const auto& s : shared)
      list += (list.empty() ? "" : ", ") + s;
    auto f = make(c, "container.host_namespace",
                  std::find(shared.begin(), shared.end(), "pid") != shared.end()
                      ? runtime::severity::high
                      : runtime::severity::medium,
                  "container " + c.id.substr(0, 12) + " shares the host's " + list + " namespace" +
                      (shared.size() > 1 ? "s" : ""),
                  {"T1611"});
    f.evidence = {{"shared", shared}, {"namespaces", c.namespaces}};
    sink.post(std::move(f));
  }
  // Mounts.
  auto text = host::read_file(proc_path(proc_root, c.leader, "mountinfo"), 4u << 20);
  if (!text)
    return;
  auto mounts = parse_mountinfo(*text);
  std::string upperdir;
  for (const auto& m : mounts) {
    if (m.mount_point == "/" && m.fstype == "overlay")
      upperdir = mount_option(m.super_options, "upperdir");
    auto reason = sensitive_reason(m, host);
    if (reason.empty())
      continue;
    auto f =
        make(c, "container.sensitive_mount", sensitive_level(reason),
             "container " + c.id.substr(0, 12) + " has " + reason + " mounted at " + m.mount_point,
             {"T1611"});
    f.evidence = {{"reason", reason},    {"mount_point", m.mount_point},
                  {"fstype", m.fstype},  {"source", m.source},
                  {"root", m.root},      {"device", m.device},
                  {"options", m.options}};
    sink.post(std::move(f));
  }
  // Drift: a process whose executable exists in the overlay's upper layer was not in the image.
  if (upperdir.empty())
    return;
  for (pid_t pid : c.pids) {
    auto exe = host::read_link(proc_path(proc_root, pid, "exe"));
    if (!exe || exe->empty() || exe->front() != '/')
      continue;
    std::string path = *exe;
    if (path.ends_with(" (deleted)"))
      path.resize(path.size() - 10);
    struct stat running {};
    if (::stat(proc_path(proc_root, pid, "exe").c_str(), &running) != 0)
      continue;
    // The link reads as the path inside the container (pivot_root) or, when the container's root
    // is still reachable, as a host path ending in it: try the path and its suffixes, and accept a
    // candidate only when it is the very file running (inode, else size and mtime).
    std::string inside;
    for (std::size_t k = 0; k != std::string::npos && inside.empty(); k = path.find('/', k + 1)) {
      auto suffix = path.substr(k);
      struct stat st {};
      if (::lstat((upperdir + suffix).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        continue;
      bool same = st.st_ino == running.st_ino ||
                  (st.st_size == running.st_size && st.st_mtim.tv_sec == running.st_mtim.tv_sec &&
                   st.st_mtim.tv_nsec == running.st_mtim.tv_nsec);
      if (same)
        inside = suffix;
    }
    if (inside.empty())
      continue;
    auto f = make(c, "container.drift", runtime::severity::high,
                  "process " + std::to_string(pid) + " in container " + c.id.substr(0, 12) +
                      " runs " + inside + ", which is not part of the image (overlay upper layer)",
                  {"T1610", "T1059"});
    f.entity["pid"] = pid;
    f.entity["exe"] = inside;
    f.evidence = {{"upperdir", upperdir}, {"upper_path", upperdir + inside}, {"exe_link", *exe}};
    sink.post(std::move(f));
  }
}

} // namespace pg::actors::container
