// SPDX-License-Identifier: Apache-2.0
// bench_process — what the process analyzer costs in CPU time for a full scan of this machine's
// processes: the first (cold) scan reads stat, status, exe, cmdline, environ and maps of every
// process; a second (cached) scan reads only stat. Measured on the machine as it is, then again
// with 500 extra sleeping processes spawned by the bench. Also the network analyzer's tick and
// the procfs source's tick, for scale. CPU time is CLOCK_PROCESS_CPUTIME_ID of this process
// (the sleepers are other processes and do not count), the median of `--reps` runs.
//
//   bench_process [--reps N] [--extra N]
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <vector>

#include "child_process.hpp"
#include "test_context.hpp"

#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/network/network_analyzer.hpp"
#include "phantomguard/actors/process/process_analyzer.hpp"
#include "phantomguard/actors/process/procfs_source.hpp"

using namespace pg;
using actors::process::process_analyzer;

namespace {

double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct figures {
  std::size_t processes = 0;
  double cold = 0;   // CPU seconds, median
  double cached = 0; // CPU seconds, median
  double network = 0;
  double procfs = 0;
};

figures measure(int reps) {
  figures f;
  std::vector<double> cold, cached, net, src;
  for (int r = 0; r < reps; ++r) {
    process_analyzer a(process_analyzer::default_options());
    test::test_context ctx("bench");
    double t0 = cpu_seconds();
    a.scan(ctx);
    double t1 = cpu_seconds();
    cold.push_back(t1 - t0);
    f.processes = a.cached();
    // Several cached scans per cold one: the cached figure is what a daemon pays every tick.
    for (int k = 0; k < 3; ++k) {
      test::test_context c2("bench");
      double t2 = cpu_seconds();
      a.scan(c2);
      cached.push_back(cpu_seconds() - t2);
    }
    actors::network::network_analyzer n(actors::network::network_analyzer::default_options());
    test::test_context c3("bench");
    double t3 = cpu_seconds();
    n.on_tick(c3);
    net.push_back(cpu_seconds() - t3);
    actors::process::procfs_source s({});
    test::test_context c4("bench");
    double t4 = cpu_seconds();
    s.on_tick(c4);
    src.push_back(cpu_seconds() - t4);
  }
  f.cold = median(cold);
  f.cached = median(cached);
  f.network = median(net);
  f.procfs = median(src);
  return f;
}

void print(const char* label, const figures& f) {
  std::printf("%-22s processes=%5zu  cold=%8.2f ms (%6.1f us/proc)  cached=%7.2f ms (%5.1f "
              "us/proc)  cached/cold=%.3f  network_tick=%7.2f ms  procfs_tick=%7.2f ms\n",
              label, f.processes, f.cold * 1e3, f.cold * 1e6 / static_cast<double>(f.processes),
              f.cached * 1e3, f.cached * 1e6 / static_cast<double>(f.processes), f.cached / f.cold,
              f.network * 1e3, f.procfs * 1e3);
}

} // namespace

int main(int argc, char** argv) {
  int reps = 5;
  int extra = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--reps") == 0)
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--extra") == 0)
      extra = std::max(0, std::atoi(argv[i + 1]));
  }
  std::printf("bench_process: median of %d runs, CPU time of this process "
              "(CLOCK_PROCESS_CPUTIME_ID)\n",
              reps);
  auto base = measure(reps);
  print("machine as it is", base);

  std::vector<test::child_process> sleepers;
  sleepers.reserve(static_cast<std::size_t>(extra));
  for (int i = 0; i < extra; ++i) {
    sleepers.push_back(test::spawn([] {
      // Die with the bench even if it is killed before its guards run.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execl("/bin/sleep", "sleep", "600", static_cast<char*>(nullptr));
      return 1;
    }));
  }
  for (auto& s : sleepers)
    test::eventually([&] { return test::exe_of(s.pid()) == "/usr/bin/sleep"; });
  auto loaded = measure(reps);
  char label[64];
  std::snprintf(label, sizeof label, "with %d sleepers", extra);
  print(label, loaded);
  double added = static_cast<double>(loaded.processes - base.processes);
  if (added > 0)
    std::printf("marginal cost per extra process: cold %.1f us, cached %.1f us\n",
                (loaded.cold - base.cold) * 1e6 / added,
                (loaded.cached - base.cached) * 1e6 / added);
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf("whole bench: user %.2f s, sys %.2f s, max RSS %ld KiB\n",
              static_cast<double>(ru.ru_utime.tv_sec) + ru.ru_utime.tv_usec * 1e-6,
              static_cast<double>(ru.ru_stime.tv_sec) + ru.ru_stime.tv_usec * 1e-6, ru.ru_maxrss);
  return 0;
}
