// SPDX-License-Identifier: Apache-2.0
// bench_engine_footprint — an engine running a default-like config (a procfs-like source every
// 10 s into a sink): time from start to the first delivered event, and RSS after idling.
// Usage: bench_engine_footprint [idle-seconds (10)]
#include <cstdio>
#include <cstdlib>

#include "bench_components.hpp"
#include "phantomguard/runtime/engine.hpp"

using namespace pg;
using namespace pg::bench;

int main(int argc, char** argv) {
  register_bench_components();
  int idle = argc > 1 ? std::atoi(argv[1]) : 10;
  auto rss_start = rss_bytes();
  runtime::pipeline_config cfg;
  cfg.engine.host = "bench";
  cfg.engine.tick_interval = std::chrono::seconds(10);
  cfg.components.push_back(bench_decl("procfs", runtime::component_kind::source, "bench_proc", {}));
  cfg.components.push_back(
      bench_decl("console", runtime::component_kind::sink, "bench_sink", {"procfs"}));
  auto t0 = steady_ns();
  runtime::engine eng(cfg);
  std::thread runner([&] { eng.run(); });
  while (first_event_ns.load() == 0)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  auto first_ms = static_cast<double>(first_event_ns.load() - t0) / 1e6;
  std::this_thread::sleep_for(std::chrono::seconds(idle));
  auto rss = rss_bytes();
  auto events = sink_events.load();
  eng.request_stop();
  runner.join();
  std::printf("time to first delivered event: %.2f ms (goal < 100 ms)\n", first_ms);
  std::printf("RSS after %d s idle: %.2f MiB (process at start %.2f MiB; goal <= 16 MiB)\n", idle,
              static_cast<double>(rss) / 1048576.0, static_cast<double>(rss_start) / 1048576.0);
  std::printf("events delivered: %lld\n", static_cast<long long>(events));
  return 0;
}
