// SPDX-License-Identifier: Apache-2.0
// test_exec_storm.cpp — an exec storm through the engine: process_events (netlink) into a sink
// that records which pids it saw. Every exec of the storm arrives, or the engine raises
// engine.events_lost saying how many went and why. Never a silent gap.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <set>
#include <sstream>

#include "engine_test_support.hpp"
#include "phantomguard/actors/builtin.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "skip.hpp"

using namespace pg::runtime;
using namespace std::chrono_literals;

namespace {

std::mutex seen_mutex;
std::set<std::int64_t> seen_execs;

class pid_sink final : public component {
public:
  void on_batch(const event_batch& b, context&) override {
    std::lock_guard lock(seen_mutex);
    for (const auto& e : b.events)
      if (e.kind == "process_exec")
        seen_execs.insert(e.get_int("pid"));
  }
};

// One storm through an engine built from `config`, once `source` is collecting: `spawn` makes
// the children (their pids), then the engine drains until the sink is quiet for `drain`. What
// the sink saw, what the engine raised and its metrics.
struct storm_outcome {
  std::size_t children = 0;
  std::size_t missing = 0; // children whose exec never reached the sink
  std::vector<finding> lost;
  metrics_snapshot metrics;
};

storm_outcome run_storm(const char* config, const std::string& source,
                        const std::function<std::set<std::int64_t>()>& spawn,
                        std::chrono::milliseconds drain) {
  pg::actors::register_builtin();
  component_type t;
  t.name = "pid_sink";
  t.kind = component_kind::sink;
  t.factory = [](const component_init&) { return std::make_unique<pid_sink>(); };
  registry::instance().add(t);
  auto r = load_config_string(config, "<storm>");
  for (const auto& e : r.errors)
    UNSCOPED_INFO(e.message);
  REQUIRE(r.ok());
  {
    std::lock_guard lock(seen_mutex);
    seen_execs.clear();
  }
  std::mutex lost_mutex;
  storm_outcome out;
  run_options opts;
  opts.on_finding = [&](const finding& f) {
    if (f.rule != "engine.events_lost")
      return;
    std::lock_guard lock(lost_mutex);
    out.lost.push_back(f);
  };
  engine eng(*r.config);
  std::set<std::int64_t> children;
  {
    pg::test::running_engine run(eng, opts);
    // Subscribed or attached: the source publishes processes_known once it is (a sanitizer
    // build takes far longer than a plain one to load and attach the sensor).
    const auto ready_by = std::chrono::steady_clock::now() + 60s;
    while (pg::test::gauge(eng.metrics(), source, "custom.processes_known") <= 0 &&
           std::chrono::steady_clock::now() < ready_by)
      std::this_thread::sleep_for(50ms);
    REQUIRE(pg::test::gauge(eng.metrics(), source, "custom.processes_known") > 0);
    children = spawn();
    while (::waitpid(-1, nullptr, 0) > 0) {
    }
    // The last ticks drain the queue: wait until the sink has seen nothing new for `drain`.
    auto seen = [] {
      std::lock_guard lock(seen_mutex);
      return seen_execs.size();
    };
    const auto drain_by = std::chrono::steady_clock::now() + 60s;
    for (auto last = seen(); std::chrono::steady_clock::now() < drain_by;) {
      std::this_thread::sleep_for(drain);
      const auto now = seen();
      if (now == last)
        break;
      last = now;
    }
    CHECK(run.stop() == 0);
  }
  out.children = children.size();
  {
    std::lock_guard lock(seen_mutex);
    for (auto pid : children)
      out.missing += seen_execs.count(pid) ? 0 : 1;
  }
  out.metrics = eng.metrics();
  return out;
}

} // namespace

SCENARIO("an exec storm through the engine: every exec delivered or its loss raised",
         "[engine][storm][losses]") {
  if (::geteuid() != 0)
    PG_SKIP("not root: the netlink process connector needs CAP_NET_ADMIN");
  // Ticks a second apart with a small queue between them: the storm overflows it, as it would a
  // busier host's larger one. The losses must be counted and raised.
  auto o = run_storm(R"([engine]
state_dir = "/tmp/pg-exec-storm"
loss_report_interval = "200ms"
[sources.process_events]
type = "process_events"
mode = "netlink"
interval = "1s"
max_pending = 256
[sinks.pids]
type = "pid_sink"
inputs = ["process_events"]
mailbox = { window = 100000, window_bytes = "256MiB" }
)",
                     "process_events",
                     [] {
                       std::set<std::int64_t> children;
                       constexpr int storm = 5000;
                       for (int i = 0; i < storm; ++i) {
                         pid_t c = ::fork();
                         if (c == 0) {
                           ::execl("/bin/true", "true", static_cast<char*>(nullptr));
                           ::_exit(127);
                         }
                         if (c > 0)
                           children.insert(c);
                         if (i % 16 == 15)
                           while (::waitpid(-1, nullptr, WNOHANG) > 0) {
                           }
                       }
                       return children;
                     },
                     1500ms);
  const auto& m = o.metrics;
  const auto& lost = o.lost;
  const auto missing = o.missing;
  const auto lost_total = m.counter("process_events", "events_lost");
  std::int64_t in_findings = 0;
  for (const auto& f : lost)
    in_findings += f.evidence.at("count").get<std::int64_t>();
  INFO("storm of " << o.children << ": " << missing << " execs missing at the sink; lost "
                   << lost_total << " (queue " << m.counter("process_events", "lost_queue_overflow")
                   << ", netlink overruns " << m.counter("process_events", "lost_netlink_overrun")
                   << ") in " << lost.size() << " findings");
  // Nothing dropped on the edge (its window holds the storm): every gap is a loss at the source.
  CHECK(pg::test::edge_dropped(m, "process_events", "pids") == 0);
  REQUIRE(missing > 0); // the storm overflowed the queue: the loss path is what is tested
  CHECK(lost_total > 0);
  CHECK(!lost.empty());
  if (m.counter("process_events", "lost_netlink_overrun") == 0) // each gap is a dropped event
    CHECK(static_cast<std::int64_t>(missing) <= m.counter("process_events", "lost_queue_overflow"));
  CHECK(in_findings == lost_total); // every loss counted was raised
}

SCENARIO(
    "a burst larger than the kernel sensor's ring is raised as engine.events_lost (kernel_ringbuf)",
    "[engine][storm][losses]") {
  if (::geteuid() != 0)
    PG_SKIP("not root: the kernel sensor needs CAP_BPF and CAP_PERFMON");
  // A 4 KiB ring holds a handful of exec records: a burst of hundreds at once overflows it in
  // the kernel, before user space can read.
  auto o = run_storm(R"([engine]
state_dir = "/tmp/pg-exec-storm-bpf"
loss_report_interval = "200ms"
[sources.kernel]
type = "kernel_events"
mode = "bpf"
kinds = ["exec"]
ring_size = "4KiB"
interval = "100ms"
[sinks.pids]
type = "pid_sink"
inputs = ["kernel"]
mailbox = { window = 100000, window_bytes = "256MiB" }
)",
                     "kernel",
                     [] {
                       std::set<std::int64_t> children;
                       int gate[2];
                       REQUIRE(::pipe(gate) == 0);
                       for (int i = 0; i < 600; ++i) {
                         pid_t c = ::fork();
                         if (c == 0) {
                           ::close(gate[1]);
                           char ch;
                           [[maybe_unused]] auto n = ::read(gate[0], &ch, 1);
                           ::execl("/bin/true", "true", static_cast<char*>(nullptr));
                           ::_exit(127);
                         }
                         if (c > 0)
                           children.insert(c);
                       }
                       ::close(gate[0]);
                       ::close(gate[1]); // all at once
                       return children;
                     },
                     1000ms);
  const auto& m = o.metrics;
  const auto& lost = o.lost;
  const auto missing = o.missing;
  const auto ring_lost = m.counter("kernel", "lost_kernel_ringbuf");
  std::int64_t in_findings = 0;
  for (const auto& f : lost) {
    CHECK(f.evidence.at("cause") == "kernel_ringbuf");
    in_findings += f.evidence.at("count").get<std::int64_t>();
  }
  INFO("burst of " << o.children << ": " << missing << " missing at the sink; ring lost "
                   << ring_lost << " in " << lost.size() << " findings");
  CHECK(pg::test::edge_dropped(m, "kernel", "pids") == 0);
  REQUIRE(missing > 0);
  CHECK(ring_lost > 0);
  // Each missing exec is in the kernel's count (which also holds other processes' execs).
  CHECK(static_cast<std::int64_t>(missing) <= ring_lost);
  CHECK(in_findings == ring_lost);
}
