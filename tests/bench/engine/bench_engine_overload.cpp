// SPDX-License-Identifier: Apache-2.0
// bench_engine_overload — a source 10x faster than its sink (640k vs 64k events/s) for N
// seconds under each overflow policy: peak RSS, produced, delivered, dropped. Each policy runs in
// a fresh process so peak RSS is its own.
// Usage: bench_engine_overload [seconds (30)] [policy]
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "bench_components.hpp"
#include "phantomguard/runtime/engine.hpp"

using namespace pg;
using namespace pg::bench;

namespace {

int run_one(int seconds, const std::string& policy_name) {
  runtime::overflow_policy policy = runtime::overflow_policy::block;
  for (auto p : {runtime::overflow_policy::block, runtime::overflow_policy::drop_newest,
                 runtime::overflow_policy::drop_oldest, runtime::overflow_policy::sample})
    if (runtime::to_string(p) == policy_name)
      policy = p;
  runtime::pipeline_config cfg;
  cfg.engine.host = "bench";
  cfg.engine.batch_size = 64;
  cfg.engine.tick_interval = std::chrono::milliseconds(1);
  cfg.components.push_back(bench_decl("gen", runtime::component_kind::source, "bench_gen", {},
                                      toml::table{{"per_tick", 640}}));
  auto s = bench_decl("sink", runtime::component_kind::sink, "bench_sink", {"gen"},
                      toml::table{{"sleep_us", 1000}});
  s.mailbox.policy = policy;
  cfg.components.push_back(s);
  runtime::engine eng(cfg);
  std::thread runner([&] { eng.run(); });
  std::int64_t peak = 0;
  auto until = steady_ns() + static_cast<std::int64_t>(seconds) * 1'000'000'000;
  while (steady_ns() < until) {
    peak = std::max(peak, rss_bytes());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  eng.request_stop();
  runner.join();
  auto m = eng.metrics();
  auto produced = m.counter("gen", "edge.sink.produced");
  auto delivered = m.counter("gen", "edge.sink.delivered");
  std::int64_t dropped = 0;
  for (const char* r :
       {"newest", "oldest", "sampled", "shed", "failure", "timeout", "restart", "disabled"})
    dropped += m.counter("gen", std::string("edge.sink.dropped_") + r);
  std::printf("%-12s %8.2f %12lld %12lld %12lld %10lld %s\n", policy_name.c_str(),
              static_cast<double>(peak) / 1048576.0, static_cast<long long>(produced),
              static_cast<long long>(delivered), static_cast<long long>(dropped),
              static_cast<long long>(m.counter("gen", "skipped_ticks")),
              produced == delivered + dropped ? "balanced" : "UNBALANCED");
  return produced == delivered + dropped ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  register_bench_components();
  int seconds = argc > 1 ? std::atoi(argv[1]) : 30;
  if (argc > 2)
    return run_one(seconds, argv[2]);
  std::printf("%d s, source 640k ev/s, sink 64k ev/s (batch 64, window 1024 events)\n", seconds);
  std::printf("%-12s %8s %12s %12s %12s %10s\n", "policy", "peakMiB", "produced", "delivered",
              "dropped", "skipTicks");
  std::fflush(stdout);
  int rc = 0;
  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0)
    return 2;
  for (const char* p : {"block", "drop_newest", "drop_oldest", "sample"}) {
    auto cmd = std::string(self) + " " + std::to_string(seconds) + " " + p;
    rc |= std::system(cmd.c_str());
  }
  return rc == 0 ? 0 : 1;
}
