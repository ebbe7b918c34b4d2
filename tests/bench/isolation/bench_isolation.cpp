// SPDX-License-Identifier: Apache-2.0
// bench_isolation — events per second through the same plugin (cryptominer) in-process and
// isolated in a sandboxed child host, same run, same batches of 256 process events. The
// isolated figure includes encoding, the socketpair, decoding in the child and the findings
// coming back; stop() (drain) waits for every batch in flight, so nothing is left uncounted.
// The context says more input is queued for every batch but the last, as the engine's does
// while a producer keeps up (the pipelined path); the last batch is settled within its hook.
//   bench_isolation [batches=4000] [rounds=3] [max_outstanding=4]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"

using namespace pg::runtime;

namespace {

class null_context final : public context {
public:
  const std::string& name() const noexcept override { return name_; }
  const std::string& host() const noexcept override { return name_; }
  wall_clock::time_point now() const noexcept override { return wall_clock::now(); }
  void emit(event) override {}
  void emit_finding(finding) override { ++findings; }
  void count(std::string_view, std::int64_t) override {}
  void gauge(std::string_view, double) override {}
  void log(log_level, std::string_view) override {}
  bool should_stop() const noexcept override { return false; }
  bool input_waiting() const noexcept override { return more_queued; }
  std::pmr::memory_resource* memory() noexcept override { return std::pmr::new_delete_resource(); }
  void account_memory(std::int64_t) override {}
  void charge_cpu(std::int64_t) override {}
  std::size_t findings = 0;
  bool more_queued = true;

private:
  std::string name_ = "miner";
};

std::vector<batch_ptr> make_batches(std::size_t count) {
  std::vector<batch_ptr> out;
  std::int64_t pid = 1000;
  for (std::size_t b = 0; b < count; ++b) {
    std::vector<event> evs;
    for (int i = 0; i < 256; ++i, ++pid) {
      const bool miner = pid % 997 == 0;
      event e;
      e.kind = "process";
      e.source = "procfs";
      e.set("pid", pid).set("ppid", std::int64_t{1}).set("uid", std::int64_t{1000});
      e.set("comm", std::string(miner ? "xmrig" : "bash"));
      e.set("exe", std::string(miner ? "/tmp/xmrig" : "/usr/bin/bash"));
      e.set("cmdline", std::string(miner ? "xmrig -o stratum+tcp://198.51.100.1:3333"
                                         : "/usr/bin/bash --login -i"));
      evs.push_back(std::move(e));
    }
    out.push_back(make_batch(std::move(evs)));
  }
  return out;
}

double run(const component_type& t, toml::table settings, const std::vector<batch_ptr>& batches,
           std::size_t* findings) {
  auto c = t.factory(component_init{"miner", component_settings(std::move(settings)), "/tmp", {}});
  null_context ctx;
  c->start(ctx);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < batches.size(); ++i) {
    ctx.more_queued = i + 1 < batches.size();
    c->on_batch(*batches[i], ctx);
  }
  const std::size_t before_stop = ctx.findings;
  c->stop(ctx);
  if (ctx.findings != before_stop)
    std::printf("  (%zu findings only came with stop(): held back)\n", ctx.findings - before_stop);
  const auto t1 = std::chrono::steady_clock::now();
  *findings = ctx.findings;
  const double s = std::chrono::duration<double>(t1 - t0).count();
  return static_cast<double>(batches.size() * 256) / s;
}

} // namespace

int main(int argc, char** argv) {
  const std::size_t nbatches = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 4000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::int64_t outstanding = argc > 3 ? std::atoll(argv[3]) : 4;
  if (std::getenv("PHANTOMGUARD_PLUGIN_HOST") == nullptr)
    ::setenv("PHANTOMGUARD_PLUGIN_HOST", PG_ISOLATION_HOST, 1);
  registry reg;
  register_plugin_support(reg);
  const component_type* t = reg.find(component_kind::detector, "plugin");
  const std::string path = std::string(PG_PLUGIN_BUILD_DIR) + "/cryptominer.so";
  const auto batches = make_batches(nbatches);
  std::vector<double> inproc, iso;
  std::size_t f_in = 0, f_iso = 0;
  for (int r = 0; r < rounds; ++r) { // interleaved, so both see the same machine load
    inproc.push_back(run(*t, toml::table{{"plugin", path}}, batches, &f_in));
    iso.push_back(run(*t,
                      toml::table{{"plugin", path},
                                  {"isolation", "process"},
                                  {"sandbox", toml::table{{"max_outstanding", outstanding}}}},
                      batches, &f_iso));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double a = median(inproc), b = median(iso);
  std::printf("bench_isolation: cryptominer, %zu batches x 256 events, %d rounds (median), "
              "max_outstanding %lld\n",
              nbatches, rounds, static_cast<long long>(outstanding));
  std::printf("  in-process  %12.0f events/s  (%zu findings)\n", a, f_in);
  std::printf("  isolated    %12.0f events/s  (%zu findings)\n", b, f_iso);
  std::printf("  ratio isolated/in-process = %.2f (goal >= 0.60)\n", b / a);
  return f_in == f_iso ? 0 : 1;
}
