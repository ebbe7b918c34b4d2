// SPDX-License-Identifier: Apache-2.0
// bench_plugin.cpp — what the plugin boundary costs. Two detectors run the same miner rules
// (plugins/cryptominer/src/miner_rules.hpp) over the same batches of 256 procfs-like events:
//   builtin: a runtime::component reading runtime::event fields directly;
//   plugin:  cryptominer.so, loaded with every load-time check, through the C ABI adapter
//            (C views of the events, vtable call, wrapper, host API for findings).
// Rounds alternate between the two so machine noise hits both; the median round is reported.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "miner_rules.hpp"
#include "phantomguard/runtime/plugin_detector.hpp"
#include "test_context.hpp"

using namespace pg::runtime;
namespace miner = pg::plugins::cryptominer;

namespace {

/// The same logic as the plugin's detector class, as a built-in component would write it.
class builtin_miner final : public component {
public:
  void on_batch(const event_batch& batch, context& ctx) override {
    for (const event& e : batch.events) {
      if (e.kind != "process" && e.kind != "process_exec")
        continue;
      ++events_;
      const miner::process_facts p{e.get_string("comm"), e.get_string("exe"),
                                   e.get_string("cmdline")};
      auto m = miner::classify(p, rules_, scratch_);
      if (!m)
        continue;
      const std::int64_t pid = e.get_int("pid", -1);
      if (!reported_.insert(pid, p.exe))
        continue;
      finding f;
      f.rule = std::string(m->rule);
      f.level = static_cast<severity>(m->severity);
      f.title = std::string(m->title);
      f.entity = {{"pid", pid}, {"exe", p.exe}, {"comm", p.comm}};
      f.evidence = {{"indicator", m->indicator}, {"cmdline", p.cmdline}};
      if (e.get("uid") != nullptr)
        f.evidence["uid"] = e.get_int("uid");
      if (e.get("ppid") != nullptr)
        f.evidence["ppid"] = e.get_int("ppid");
      f.mitre = {"T1496"};
      ctx.emit_finding(std::move(f));
    }
  }

private:
  miner::rules_config rules_;
  miner::reported_set reported_{8192};
  std::string scratch_;
  std::uint64_t events_ = 0;
};

/// A procfs-like snapshot: mostly ordinary processes, a few miners (reported once each).
std::vector<event_batch> make_batches(std::size_t nbatches, std::size_t batch_size) {
  static const char* comms[] = {"systemd", "sshd",       "bash",        "nginx", "postgres",
                                "python3", "containerd", "kworker/1:2", "cron",  "rsyslogd"};
  static const char* cmdlines[] = {"/sbin/init splash",
                                   "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
                                   "-bash",
                                   "nginx: worker process",
                                   "postgres: 15/main: checkpointer",
                                   "python3 /opt/app/manage.py runserver 0.0.0.0:8000 --noreload",
                                   "/usr/bin/containerd --config /etc/containerd/config.toml",
                                   "",
                                   "/usr/sbin/cron -f -P",
                                   "/usr/sbin/rsyslogd -n -iNONE"};
  std::vector<event_batch> out(nbatches);
  std::int64_t pid = 1;
  for (std::size_t b = 0; b < nbatches; ++b) {
    out[b].events.reserve(batch_size);
    for (std::size_t i = 0; i < batch_size; ++i, ++pid) {
      const std::size_t k = static_cast<std::size_t>(pid) % 10;
      event e;
      e.kind = "process";
      e.source = "procfs";
      e.time = wall_clock::now();
      std::string comm = comms[k];
      std::string exe = "/usr/bin/" + comm;
      std::string cmdline = cmdlines[k];
      if (pid % 997 == 0) { // a miner now and then
        comm = "xmrig";
        exe = "/tmp/.x/xmrig";
        cmdline = "xmrig -o stratum+tcp://203.0.113.7:3333 --donate-level 1";
      }
      e.set("pid", pid % 30000).set("ppid", std::int64_t{1}).set("uid", std::int64_t{1000});
      e.set("comm", comm).set("exe", exe).set("cmdline", cmdline);
      out[b].events.push_back(std::move(e));
    }
    out[b].bytes = 0;
  }
  return out;
}

/// Thread CPU time: seven engineers share two cores here, and wall time would measure them.
double thread_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double run_once(component& c, const std::vector<event_batch>& batches, std::size_t* findings) {
  pg::test::test_context ctx;
  const double t0 = thread_seconds();
  for (const auto& b : batches)
    c.on_batch(b, ctx);
  const double t1 = thread_seconds();
  *findings = ctx.findings.size();
  std::size_t events = 0;
  for (const auto& b : batches)
    events += b.events.size();
  return static_cast<double>(events) / (t1 - t0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double best(const std::vector<double>& v) {
  return *std::max_element(v.begin(), v.end());
}

} // namespace

int main(int argc, char** argv) {
  const std::size_t nbatches = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 400;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 31;
  const std::size_t batch_size = 256;
  const auto batches = make_batches(nbatches, batch_size);

  plugin_request req;
  req.plugin = std::string(PG_PLUGIN_BUILD_DIR) + "/cryptominer.so";

  std::vector<double> builtin_rates, plugin_rates;
  std::size_t builtin_findings = 0, plugin_findings = 0;
  for (int r = 0; r < rounds; ++r) {
    // Fresh instances each round: the dedup state must not make later rounds cheaper.
    builtin_miner builtin;
    auto plugin = make_plugin_component(req);
    if (r % 2 == 0) {
      builtin_rates.push_back(run_once(builtin, batches, &builtin_findings));
      plugin_rates.push_back(run_once(*plugin, batches, &plugin_findings));
    } else {
      plugin_rates.push_back(run_once(*plugin, batches, &plugin_findings));
      builtin_rates.push_back(run_once(builtin, batches, &builtin_findings));
    }
  }
  std::printf("bench_plugin: %zu batches x %zu events, %d alternating rounds, thread CPU time\n",
              nbatches, batch_size, rounds);
  for (const char* which : {"best", "median"}) {
    const bool use_best = which[0] == 'b';
    const double b = use_best ? best(builtin_rates) : median(builtin_rates);
    const double p = use_best ? best(plugin_rates) : median(plugin_rates);
    std::printf("  %-6s builtin %9.0f ev/s | plugin %9.0f ev/s | plugin cost %+5.1f%% "
                "(%+.1f ns/event; goal <= +10%%)\n",
                which, b, p, (b / p - 1.0) * 100.0, (1e9 / p - 1e9 / b));
  }
  std::printf("  findings: builtin %zu, plugin %zu (must be equal)\n", builtin_findings,
              plugin_findings);
  return builtin_findings == plugin_findings ? 0 : 1; // same logic must give the same findings
}
