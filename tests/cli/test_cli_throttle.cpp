// SPDX-License-Identifier: Apache-2.0
// The engine's throttle on the real daemon: a fim scan's hashing threads on the CPU its
// cpu_affinity names and at its type's nice level (read back from /proc/PID/task/*), a scan that
// pauses while this test holds the host's load above the threshold and resumes after (status,
// metrics, log, and the scan's CPU time standing still), and a tick held outside its window.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace pg::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct task {
  int tid = 0;
  std::string comm;
  std::string allowed; // Cpus_allowed_list
  int nice = 0;
  int last_cpu = -1;
  long long cpu_ticks = 0;
};

std::string first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

/// The threads of `pid` named `comm`, from /proc/PID/task/*.
std::vector<task> threads_named(int pid, const std::string& comm) {
  std::vector<task> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    task t;
    t.tid = std::stoi(e.path().filename());
    t.comm = first_line(e.path() / "comm");
    if (t.comm != comm)
      continue;
    std::ifstream status(e.path() / "status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("Cpus_allowed_list:", 0) == 0)
        t.allowed = line.substr(line.find_first_not_of(" \t", 18));
    const auto stat = first_line(e.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size())
      continue; // the thread ended between the listing and the read (workers come and go)
    std::istringstream rest(stat.substr(close + 2));
    std::vector<std::string> f{"", "", ""}; // pid, comm: gone; f[2] is field 3 (state)
    for (std::string w; rest >> w;)
      f.push_back(w);
    if (f.size() > 39) {
      t.cpu_ticks = std::stoll(f[14]) + std::stoll(f[15]);
      t.nice = std::stoi(f[19]);
      t.last_cpu = std::stoi(f[39]);
    }
    out.push_back(t);
  }
  return out;
}

long long cpu_ticks_of(int pid, const std::string& comm) {
  long long sum = 0;
  for (const auto& t : threads_named(pid, comm))
    sum += t.cpu_ticks;
  return sum;
}

nlohmann::json component(const std::string& cfg, const std::string& name) {
  auto r = run_cli({"status", "--config", cfg, "--json"});
  if (r.code != 0)
    return nullptr;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  for (const auto& c : j["status"]["components"])
    if (c["name"] == name)
      return c;
  return nullptr;
}

/// A fim analyzer hashing /usr (long enough to watch), and `extra` keys for it.
std::string fim_config(const daemon_dir& d, const std::string& extra) {
  return d.config(
      "listen = \"127.0.0.1:0\"",
      "[analyzers.fim]\ntype = \"fim\"\ninterval = \"1h\"\nworkers = 2\nsegment_size = 16\n" +
          extra + "\n[analyzers.fim.rules.usr]\npath = \"/usr\"\n");
}

/// Runnable threads that spin until destroyed: the host's load, held by the test.
struct load_holder {
  std::atomic<bool> stop{false};
  std::vector<std::thread> spinners;
  explicit load_holder(unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      spinners.emplace_back([this] {
        volatile unsigned long x = 0;
        while (!stop.load(std::memory_order_relaxed))
          x = x + 1;
      });
  }
  ~load_holder() { release(); }
  void release() {
    stop = true;
    for (auto& t : spinners)
      if (t.joinable())
        t.join();
  }
};

} // namespace

SCENARIO("a fim scan with cpu_affinity = [1] hashes only on CPU 1, at the type's nice 10") {
  if (::sysconf(_SC_NPROCESSORS_ONLN) < 2)
    PG_SKIP("needs two CPUs");
  daemon_dir d;
  const auto cfg = fim_config(d, "cpu_affinity = [1]");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "api listening on", 20s));
  // The analyzer's thread and its two hashing workers, all named after the component.
  std::vector<task> fim;
  for (int i = 0; i < 100 && fim.size() < 3; ++i) {
    std::this_thread::sleep_for(100ms);
    fim = threads_named(p.pid(), "fim");
  }
  REQUIRE(fim.size() >= 3);
  std::this_thread::sleep_for(2s); // let them hash
  // Workers are started per segment: sample until the actor's thread and two workers are seen.
  for (int i = 0; i < 100; ++i) {
    fim = threads_named(p.pid(), "fim");
    if (fim.size() >= 3)
      break;
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(fim.size() >= 3);
  for (const auto& t : fim) {
    INFO("tid " << t.tid);
    CHECK(t.allowed == "1");
    CHECK(t.nice == 10);
    if (t.cpu_ticks > 0)
      CHECK(t.last_cpu == 1);
  }
  // A component without cpu_affinity keeps the process's CPUs and its nice level.
  auto procfs = threads_named(p.pid(), "procfs");
  REQUIRE_FALSE(procfs.empty());
  CHECK(procfs[0].allowed != "1");
  CHECK(procfs[0].nice == 0);
  p.signal(SIGTERM);
  CHECK(p.wait(30s) == 0);
}

SCENARIO("a heavy scan pauses while the host's load is above its threshold and resumes after") {
  daemon_dir d;
  // The engine's own runnable threads are not the host's load: two hashing workers busy on two
  // cores must not pause the scan by themselves.
  const auto cfg = fim_config(d, "throttle = { max_load = 1.5 }");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "api listening on", 20s));
  httplib::Client api("127.0.0.1", port_of(p.err()));
  api.set_read_timeout(10, 0);
  auto paused_gauge = [&] {
    auto m = api.Get("/metrics");
    return m &&
           m->body.find("phantomguard_component_paused{component=\"fim\"} 1") != std::string::npos;
  };
  // Hashing, not paused.
  std::this_thread::sleep_for(3s);
  auto c = component(cfg, "fim");
  REQUIRE(c.is_object());
  REQUIRE(c["paused"].is_null());
  CHECK_FALSE(paused_gauge());
  const auto before = cpu_ticks_of(p.pid(), "fim");
  CHECK(before > 0);

  const unsigned cores = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  int pauses_seen = 0;
  {
    load_holder load(4 * cores); // 4 runnable per core, well above 1.5
    bool paused = false;
    for (int i = 0; i < 40 && !paused; ++i) {
      std::this_thread::sleep_for(250ms);
      c = component(cfg, "fim");
      paused = c.is_object() && c["paused"].is_string();
    }
    REQUIRE(paused);
    CHECK(c["paused"].get<std::string>().rfind("load ", 0) == 0);
    CHECK(c["paused"].get<std::string>().find(" per core > 1.5") != std::string::npos);
    CHECK(c["pauses"].get<int>() >= 1);
    const auto pauses = c["pauses"].get<int>();
    CHECK(paused_gauge());
    CHECK(wait_for(p, "[fim] paused: load ", 5s));
    // Held: the scan's threads do (next to) nothing while paused.
    std::this_thread::sleep_for(1s);
    const auto held_from = cpu_ticks_of(p.pid(), "fim");
    std::this_thread::sleep_for(3s);
    CHECK(cpu_ticks_of(p.pid(), "fim") - held_from <= 5); // clock ticks: at most 50 ms
    load.release();
    pauses_seen = pauses;
  }
  bool resumed = false;
  for (int i = 0; i < 80 && !resumed; ++i) {
    std::this_thread::sleep_for(250ms);
    c = component(cfg, "fim");
    resumed = c.is_object() && c["paused"].is_null();
  }
  REQUIRE(resumed);
  CHECK(wait_for(p, "[fim] resumed", 5s));
  CHECK(c["pauses"].get<int>() == pauses_seen); // the one pause of the held load, ended
  CHECK(c["paused_seconds"].get<double>() > 2.0);
  CHECK_FALSE(paused_gauge());
  const auto after = cpu_ticks_of(p.pid(), "fim");
  std::this_thread::sleep_for(2s);
  CHECK(cpu_ticks_of(p.pid(), "fim") > after); // hashing again
  auto m = api.Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("phantomguard_component_pauses_total{component=\"fim\"} " +
                     std::to_string(pauses_seen)) != std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait(30s) == 0);
}

SCENARIO("outside its window a component's ticks are held, counted and said") {
  // A window that starts two hours from now and lasts one: now is outside it.
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char window[32];
  std::snprintf(window, sizeof window, "%02d:00-%02d:00", (local.tm_hour + 2) % 24,
                (local.tm_hour + 3) % 24);
  daemon_dir d;
  const auto cfg = d.config("listen = \"127.0.0.1:0\"",
                            "[analyzers.network]\ntype = \"network\"\ninterval = \"500ms\"\n"
                            "throttle = { window = \"" +
                                std::string(window) + "\" }\n");
  cli_process p({"run", "--config", cfg});
  REQUIRE(wait_for(p, "api listening on", 20s));
  std::this_thread::sleep_for(3s);
  auto c = component(cfg, "network");
  REQUIRE(c.is_object());
  CHECK(c["paused"] == std::string("outside ") + window);
  httplib::Client api("127.0.0.1", port_of(p.err()));
  auto m = api.Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("phantomguard_component_ticks_total{component=\"network\"} 0") !=
        std::string::npos);
  CHECK(m->body.find("phantomguard_component_deferred_ticks_total{component=\"network\"} 0") ==
        std::string::npos); // some were held
  CHECK(m->body.find("phantomguard_component_deferred_ticks_total{component=\"network\"}") !=
        std::string::npos);
  // The source beside it has no window: it ticks.
  CHECK(m->body.find("phantomguard_component_ticks_total{component=\"procfs\"} 0") ==
        std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait(30s) == 0);
}
