// SPDX-License-Identifier: Apache-2.0
// bench_rootkit — times PhantomGuard's hidden-process walk (and, with --ports, the hidden-port
// probe) on this machine and prints machine-readable lines for run-bench.sh:
//   pg_pid_walk_ms_min=..., pg_pid_walk_ms_median=..., pg_hidden_pids=N (after re-check), ...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/resource.h>
#include <vector>

#include "phantomguard/actors/rootkit/pid_cross_view.hpp"
#include "phantomguard/actors/rootkit/port_probe.hpp"

using namespace pg::actors::rootkit;

namespace {

double cpu_ms() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](timeval t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

} // namespace

int main(int argc, char** argv) {
  int runs = 5;
  bool ports = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--ports") == 0)
      ports = true;
    else {
      std::fprintf(stderr, "usage: %s [--runs N] [--ports]\n", argv[0]);
      return 2;
    }
  }
  std::vector<double> wall;
  std::size_t hidden = 0, ghosts = 0, threads = 0, transient = 0, listed = 0;
  int pid_max = 0;
  double cpu0 = cpu_ms();
  for (int r = 0; r < runs; ++r) {
    auto res = scan_pid_space();
    wall.push_back(std::chrono::duration<double, std::milli>(res.elapsed).count());
    for (const auto& a : res.anomalies) {
      if (a.what == pid_anomaly::kind::hidden)
        ++hidden;
      else
        ++ghosts;
      std::printf("# run %d: %s pid %d comm '%s'\n", r,
                  a.what == pid_anomaly::kind::hidden ? "hidden" : "ghost", a.pid, a.comm.c_str());
    }
    threads = res.threads;
    transient += res.transient;
    listed = res.listed;
    pid_max = res.pid_max;
  }
  double cpu_per_run = (cpu_ms() - cpu0) / runs;
  std::sort(wall.begin(), wall.end());
  std::printf("pg_pid_max=%d\n", pid_max);
  std::printf("pg_runs=%d\n", runs);
  std::printf("pg_pid_walk_ms_min=%.1f\n", wall.front());
  std::printf("pg_pid_walk_ms_median=%.1f\n", wall[wall.size() / 2]);
  std::printf("pg_pid_walk_cpu_ms=%.1f\n", cpu_per_run);
  std::printf("pg_listed=%zu\npg_threads_skipped=%zu\npg_transient_total=%zu\n", listed, threads,
              transient);
  std::printf("pg_hidden_pids=%zu\npg_ghost_pids=%zu\n", hidden, ghosts);
  if (ports) {
    for (bool v6 : {false, true}) {
      port_probe_options o;
      o.ipv6 = v6;
      auto res = probe_hidden_ports(o);
      std::printf("pg_port_probe%s_ms=%.1f\npg_port_probe%s_binds=%zu\npg_hidden_ports%s=%zu\n",
                  v6 ? "_v4v6" : "_v4",
                  std::chrono::duration<double, std::milli>(res.elapsed).count(),
                  v6 ? "_v4v6" : "_v4", res.probed, v6 ? "_v4v6" : "_v4", res.hidden.size());
    }
  }
  return 0;
}
