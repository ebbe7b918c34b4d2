// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/pid_cross_view.hpp"

#include <sstream>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

namespace pg::actors::rootkit {

namespace {

// "/proc/" + pid without allocating per probe (the walk makes ~33k of them).
struct proc_path {
  explicit proc_path(const std::string& root) : buf(root) {
    buf += '/';
    base = buf.size();
  }
  const char* of(int pid) {
    buf.resize(base);
    buf += std::to_string(pid);
    return buf.c_str();
  }
  std::string buf;
  std::size_t base;
};

std::uint8_t probe_with(int pid, proc_path& path) {
  std::uint8_t mask = 0;
  if (::kill(pid, 0) == 0 || errno == EPERM)
    mask |= probe_kill;
  if (::getpgid(pid) >= 0)
    mask |= probe_getpgid;
  if (::getsid(pid) >= 0)
    mask |= probe_getsid;
  if (::sched_getscheduler(pid) >= 0 || errno == EPERM)
    mask |= probe_sched;
  struct stat st {};
  if (::stat(path.of(pid), &st) == 0)
    mask |= probe_proc_stat;
  return mask;
}

bool listed_in(const std::vector<int>& sorted, int pid) {
  return std::binary_search(sorted.begin(), sorted.end(), pid);
}

// The thread-group id of `pid`, or 0 when the status is unreadable.
int tgid_of(int pid, const std::string& proc_root) {
  auto st = host::read_proc_status(pid, proc_root);
  if (!st)
    return 0;
  auto v = host::status_number(*st, "Tgid");
  return v ? static_cast<int>(*v) : 0;
}

std::uint64_t start_of(int pid, const std::string& proc_root) {
  auto st = host::read_proc_stat(pid, proc_root);
  return st ? st->start_ticks : 0;
}

} // namespace

std::vector<std::string> probe_names(std::uint8_t mask) {
  std::vector<std::string> out;
  if (mask & probe_kill)
    out.emplace_back("kill");
  if (mask & probe_getpgid)
    out.emplace_back("getpgid");
  if (mask & probe_getsid)
    out.emplace_back("getsid");
  if (mask & probe_sched)
    out.emplace_back("sched_getscheduler");
  if (mask & probe_proc_stat)
    out.emplace_back("stat_proc_pid");
  return out;
}

std::uint8_t probe_pid(int pid, const std::string& proc_root) {
  proc_path path(proc_root);
  return probe_with(pid, path);
}

int read_pid_max(const std::string& proc_root) {
  auto text = host::read_file(proc_root + "/sys/kernel/pid_max", 64);
  if (text) {
    try {
      int v = std::stoi(*text);
      if (v > 0)
        return v;
    } catch (...) { // malformed: fall back to the kernel default
    }
  }
  return 32768;
}

pid_scan_result scan_pid_space(const pid_scan_options& opts) {
  auto t0 = std::chrono::steady_clock::now();
  pid_scan_result res;
  res.pid_max = opts.pid_max > 0 ? opts.pid_max : read_pid_max(opts.proc_root);
  proc_path path(opts.proc_root);

  const auto& listing_root = opts.listing_root.empty() ? opts.proc_root : opts.listing_root;
  auto listing = host::list_pids_raw(listing_root);
  res.listed = listing.size();

  struct candidate {
    int pid;
    pid_anomaly::kind what;
    std::uint64_t start;
  };
  std::vector<candidate> candidates;
  for (int pid = 1; pid < res.pid_max; ++pid) {
    auto mask = probe_with(pid, path);
    bool listed = listed_in(listing, pid);
    if (mask)
      ++res.answering;
    if (mask && !listed) {
      // A thread answers every probe and is reachable as /proc/TID, yet is never listed.
      int tgid = tgid_of(pid, opts.proc_root);
      if (tgid != 0 && tgid != pid) {
        ++res.threads;
        continue;
      }
      candidates.push_back({pid, pid_anomaly::kind::hidden, start_of(pid, opts.proc_root)});
    } else if (!mask && listed) {
      candidates.push_back({pid, pid_anomaly::kind::ghost, 0});
    }
  }

  // The re-check: a process that started after the listing was read, or exited after it, shows
  // up as a candidate once; against a fresh listing it is consistent again.
  if (opts.recheck && !candidates.empty()) {
    auto fresh = host::list_pids_raw(listing_root);
    for (const auto& c : candidates) {
      auto mask = probe_with(c.pid, path);
      bool listed = listed_in(fresh, c.pid);
      bool still = c.what == pid_anomaly::kind::hidden
                       ? (mask && !listed && start_of(c.pid, opts.proc_root) == c.start)
                       : (!mask && listed);
      if (c.what == pid_anomaly::kind::hidden && still) {
        int tgid = tgid_of(c.pid, opts.proc_root);
        if (tgid != 0 && tgid != c.pid)
          still = false;
      }
      if (!still) {
        ++res.transient;
        continue;
      }
      pid_anomaly a;
      a.pid = c.pid;
      a.what = c.what;
      a.probes = mask;
      if (auto st = host::read_proc_stat(c.pid, opts.proc_root))
        a.comm = st->comm;
      if (auto exe = host::read_link(path.of(c.pid) + std::string("/exe")))
        a.exe = *exe;
      res.anomalies.push_back(std::move(a));
    }
  } else {
    for (const auto& c : candidates) {
      pid_anomaly a;
      a.pid = c.pid;
      a.what = c.what;
      a.probes = probe_with(c.pid, path);
      res.anomalies.push_back(std::move(a));
    }
  }
  res.elapsed = std::chrono::steady_clock::now() - t0;
  return res;
}

namespace {

std::vector<int> numeric_names(const std::vector<std::string>& names) {
  std::vector<int> out;
  for (const auto& n : names) {
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos ||
        n[0] == '0')
      continue;
    out.push_back(std::stoi(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The listing as a program gets it through libc (hooked when a readdir hook is loaded here).
std::vector<int> list_pids_libc(const std::string& proc_root) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(proc_root.c_str())) {
    while (const dirent* e = ::readdir(d))
      names.emplace_back(e->d_name);
    ::closedir(d);
  }
  return numeric_names(names);
}

// The listing a freshly started program prints; nullopt (with `error`) when it could not run.
std::optional<std::vector<int>> list_pids_program(const std::string& lister,
                                                  const std::string& proc_root,
                                                  std::string& error) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return std::nullopt;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string a0 = lister, a1 = "-1", a2 = "-f", a3 = proc_root;
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), nullptr};
  std::string path_env = "PATH=/usr/bin:/bin", lang = "LC_ALL=C";
  char* envp[] = {path_env.data(), lang.data(), nullptr};
  pid_t child = -1;
  int rc = ::posix_spawn(&child, lister.c_str(), &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    error = "cannot run " + lister + ": " + std::strerror(rc);
    return std::nullopt;
  }
  std::string out;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool timed_out = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      timed_out = true;
      break;
    }
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (8u << 20))
      break;
  }
  ::close(fds[0]);
  if (timed_out)
    ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error = lister + (timed_out ? " timed out" : " failed (status " + std::to_string(status) + ")");
    return std::nullopt;
  }
  std::vector<std::string> names;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    names.push_back(line);
  return numeric_names(names);
}

} // namespace

listing_gap_result find_listing_gaps(const std::string& proc_root, const std::string& lister) {
  listing_gap_result res;
  proc_path path(proc_root);
  auto candidates = [&](std::vector<listing_gap>& out) {
    auto raw = host::list_pids_raw(proc_root);
    auto libc = list_pids_libc(proc_root);
    std::optional<std::vector<int>> program;
    if (!lister.empty()) {
      program = list_pids_program(lister, proc_root, res.program_error);
      res.program_ran = program.has_value();
    }
    out.clear();
    for (int pid : raw) {
      listing_gap g;
      g.pid = pid;
      g.missing_in_engine = !listed_in(libc, pid);
      g.missing_in_program = program && !listed_in(*program, pid);
      if (g.missing_in_engine || g.missing_in_program)
        out.push_back(g);
    }
  };
  std::vector<listing_gap> first, second;
  candidates(first);
  if (first.empty())
    return res;
  candidates(second); // a process that exited between the listings is not a gap twice
  for (auto& g : first) {
    auto again = std::find_if(second.begin(), second.end(),
                              [&](const listing_gap& s) { return s.pid == g.pid; });
    g.probes = probe_with(g.pid, path);
    if (again == second.end() || g.probes == 0) {
      ++res.transient;
      continue;
    }
    g.missing_in_engine = g.missing_in_engine && again->missing_in_engine;
    g.missing_in_program = g.missing_in_program && again->missing_in_program;
    if (!g.missing_in_engine && !g.missing_in_program) {
      ++res.transient;
      continue;
    }
    if (auto st = host::read_proc_stat(g.pid, proc_root))
      g.comm = st->comm;
    if (auto exe = host::read_link(path.of(g.pid) + std::string("/exe")))
      g.exe = *exe;
    res.gaps.push_back(std::move(g));
  }
  return res;
}

std::vector<proc_mask> find_proc_masks(const std::string& mountinfo,
                                       const std::string& proc_mount) {
  std::vector<proc_mask> out;
  std::istringstream in(mountinfo);
  std::string line;
  const std::string prefix = proc_mount + "/";
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    if (!(f >> id >> parent >> dev >> root >> point))
      continue;
    if (point.rfind(prefix, 0) != 0)
      continue;
    auto rest = point.substr(prefix.size());
    auto slash = rest.find('/');
    auto first = rest.substr(0, slash);
    if (first.empty() || first.find_first_not_of("0123456789") != std::string::npos ||
        first[0] == '0')
      continue; // /proc/sys/fs/binfmt_misc and the like are not processes, nor is /proc/0
    proc_mask m;
    try {
      m.pid = std::stoi(first);
    } catch (const std::exception&) {
      continue;
    }
    m.mount_point = point;
    m.root = root;
    auto dash = line.find(" - ");
    if (dash != std::string::npos) {
      std::istringstream tail(line.substr(dash + 3));
      tail >> m.fs_type >> m.source;
    }
    out.push_back(std::move(m));
  }
  return out;
}

} // namespace pg::actors::rootkit
