// SPDX-License-Identifier: Apache-2.0
// test_lineage.hpp — which processes belong to the testing itself rather than to the host, so
// that a clean-host test judges the machine's own processes: the test's ancestors (the runner,
// the shell, and on the test VM a harness that itself runs from a sealed memfd), processes
// running the same executable as one of those ancestors (but not their children), and anything
// descended from an executable of this repository's build trees (our test children, other
// areas' tests running at the same time).
#pragma once

#include <set>
#include <string>
#include <sys/types.h>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"

namespace pg::test {

inline std::set<pid_t> testing_processes(const std::string& repo_dir) {
  namespace host = pg::actors::host;
  auto exe = [](pid_t pid) {
    return host::read_link("/proc/" + std::to_string(pid) + "/exe").value_or(std::string());
  };
  auto parent = [](pid_t pid) -> pid_t {
    auto st = host::read_proc_stat(pid);
    return st ? st->ppid : 0;
  };
  std::set<pid_t> ancestors;
  std::set<std::string> ancestor_exes;
  for (pid_t p = ::getpid(); p > 1; p = parent(p)) {
    ancestors.insert(p);
    if (auto e = exe(p); !e.empty())
      ancestor_exes.insert(e);
  }
  // The launcher itself (and its copies serving other sessions) is set aside, not what it
  // starts: the compilers and shells below it are ordinary processes of this machine.
  auto launcher = [&](pid_t p) {
    return ancestors.count(p) > 0 || ancestor_exes.count(exe(p)) > 0;
  };
  auto from_repo = [&](pid_t p) { return exe(p).rfind(repo_dir + "/", 0) == 0; };
  std::set<pid_t> out;
  for (pid_t pid : host::list_pids()) {
    if (launcher(pid)) {
      out.insert(pid);
      continue;
    }
    for (pid_t p = pid; p > 1; p = parent(p)) {
      if (from_repo(p)) {
        out.insert(pid);
        break;
      }
    }
  }
  return out;
}

/// The pids among `pids` that belong to the testing, judged before and after the scan that
/// produced them: a test child that exited since (another test case running in parallel) no
/// longer shows its parent, and a process that is gone within the test's own run time is no
/// long-running process of the host either.
template <class Scan>
std::set<pid_t> set_aside_around(const std::string& repo_dir, Scan&& scan) {
  auto before = testing_processes(repo_dir);
  scan();
  auto after = testing_processes(repo_dir);
  before.insert(after.begin(), after.end());
  return before;
}

/// True when `pid` still exists.
inline bool alive(pid_t pid) {
  return pid > 0 && pg::actors::host::read_proc_stat(pid).has_value();
}

} // namespace pg::test
