// test_lineage.hpp — which processes belong to the testing itself rather than to the host, so
// that a clean-host test judges the machine's own processes: the test's ancestors (the runner,
// the shell, and on the test VM a harness that itself runs from a sealed memfd), processes
// running the same executable as one of those ancestors, and anything descended from an
// executable of this repository's build trees (our test children, other areas' tests).
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
  auto ours = [&](pid_t p) {
    if (ancestors.count(p))
      return true;
    auto e = exe(p);
    return ancestor_exes.count(e) > 0 || e.rfind(repo_dir + "/", 0) == 0;
  };
  std::set<pid_t> out;
  for (pid_t pid : host::list_pids()) {
    for (pid_t p = pid; p > 1; p = parent(p)) {
      if (ours(p)) {
        out.insert(pid);
        break;
      }
    }
  }
  return out;
}

} // namespace pg::test
