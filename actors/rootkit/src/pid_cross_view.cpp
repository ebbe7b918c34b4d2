#include "phantomguard/actors/rootkit/pid_cross_view.hpp"

#include <sstream>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <sched.h>
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
    if (first.empty() || first.find_first_not_of("0123456789") != std::string::npos)
      continue; // /proc/sys/fs/binfmt_misc and the like are not processes
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
