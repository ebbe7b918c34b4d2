// SPDX-License-Identifier: Apache-2.0
// bench_kernel — what the eBPF kernel sensor costs and how much it carries.
//
//  1. Overhead on a syscall-heavy workload (execs, opens, connects, mmaps, mprotects, dup2s: every
//     hook's path) with the sensor attached and consuming, against the same workload without
//     it, alternating in the same run. Goal: at most +5%.
//  2. CPU per exec event of the daemon (`phantomguard run`: kernel_events into process_behavior
//     and a jsonl sink), with the eBPF sensor against the netlink path, on the same exec storm.
//     Goal: at most 10 µs per exec.
//  3. The highest exec rate delivered without loss (default 1 MiB ring), with 1 to 4 spawners.
//
// Needs root (BPF). Prints figures; never run by CTest. Usage: bench_kernel [rounds]
#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/realtime/kernel_events_source.hpp"
#include "test_context.hpp"

extern char** environ;

using namespace std::chrono;
using pg::actors::realtime::kernel_events_settings;
using pg::actors::realtime::kernel_events_source;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

void spawn_wait(const char* path, const char* arg = nullptr) {
  char* args[] = {const_cast<char*>(path), const_cast<char*>(arg), nullptr};
  pid_t pid = -1;
  if (::posix_spawn(&pid, path, nullptr, nullptr, args, environ) == 0)
    ::waitpid(pid, nullptr, 0);
}

// One round of the workload: what a build or a busy service does, touching every hook.
void workload_round() {
  spawn_wait("/bin/true");
  char buf[256];
  for (int i = 0; i < 200; ++i) {
    int fd = ::open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::read(fd, buf, sizeof buf);
      ::close(fd);
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(1);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 20; ++i) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr); // refused
    ::close(s);
  }
  for (int i = 0; i < 40; ++i) {
    void* p = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ::mprotect(p, 4096, PROT_READ);
    ::munmap(p, 8192);
  }
  int pipes[2];
  if (::pipe(pipes) == 0) {
    for (int i = 0; i < 20; ++i)
      ::dup2(pipes[0], 100);
    ::close(100);
    ::close(pipes[0]);
    ::close(pipes[1]);
  }
}

// A real build's pattern: the compiler driver execs cc1 and as, which open headers and map
// libraries: `gcc -c` of a small file, `rounds` times.
double run_build(int rounds, const std::string& dir) {
  std::string src = dir + "/unit.c";
  std::ofstream(src) << "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
                        "int f(int x) { char b[64]; snprintf(b, sizeof b, \"%d\", x); "
                        "return (int)strlen(b) + atoi(b); }\n";
  auto t0 = steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    std::string obj = dir + "/unit.o";
    char* args[] = {const_cast<char*>("/usr/bin/gcc"), const_cast<char*>("-O2"),
                    const_cast<char*>("-c"),           src.data(),
                    const_cast<char*>("-o"),           obj.data(), nullptr};
    pid_t pid = -1;
    if (::posix_spawn(&pid, args[0], nullptr, nullptr, args, environ) == 0)
      ::waitpid(pid, nullptr, 0);
  }
  return duration<double>(steady_clock::now() - t0).count();
}

double run_workload(int rounds) {
  auto t0 = steady_clock::now();
  for (int i = 0; i < rounds; ++i)
    workload_round();
  return duration<double>(steady_clock::now() - t0).count();
}

// A source on the sensor with a thread that keeps draining it, as the engine would.
struct attached {
  explicit attached(toml::table t = {}) {
    t.insert_or_assign("mode", "bpf");
    src = std::make_unique<kernel_events_source>(
        kernel_events_settings::from(pg::runtime::component_settings(std::move(t))));
    src->start(ctx);
    drain = std::thread([this] {
      while (!stop) {
        src->on_tick(ctx);
        events += ctx.events.size();
        ctx.events.clear();
        std::this_thread::sleep_for(milliseconds(100));
      }
    });
  }
  void finish() {
    if (stop.exchange(true))
      return;
    drain.join();
    src->stop(ctx);
    events += ctx.events.size();
  }
  ~attached() { finish(); }
  std::int64_t lost() const {
    std::int64_t n = 0;
    for (const auto& [cause, count] : ctx.losses)
      n += count;
    return n;
  }
  pg::test::test_context ctx{"kernel"};
  std::unique_ptr<kernel_events_source> src;
  std::thread drain;
  std::atomic<bool> stop{false};
  std::size_t events = 0;
};

// CPU time of every thread of `pid` so far, in seconds (schedstat: nanoseconds, not ticks).
double process_cpu_seconds(pid_t pid) {
  double total = 0;
  std::string base = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& t : std::filesystem::directory_iterator(base)) {
    std::ifstream in(t.path() / "schedstat");
    double ns = 0;
    if (in >> ns)
      total += ns / 1e9;
  }
  return total;
}

// The daemon's CPU per exec for one mode: idle CPU over the same time subtracted.
double daemon_us_per_exec(const std::string& mode, int execs) {
  char tmpl[] = "/tmp/pg-bench-kernel-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string config = dir + "/bench.toml";
  std::ofstream(config) << "[engine]\nlog_level = \"info\"\nstate_dir = \"" << dir
                        << "/state\"\n[sources.kernel_events]\ntype = \"kernel_events\"\n"
                           "mode = \"" << mode << "\"\ninterval = \"100ms\"\n"
                        << "[analyzers.behavior]\ntype = \"process_behavior\"\n"
                           "inputs = [\"kernel_events\"]\n[sinks.archive]\ntype = \"jsonl\"\n"
                           "inputs = [\"behavior\"]\npath = \"" << dir << "/out.jsonl\"\n";
  std::string log = dir + "/daemon.log";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    std::string bin = std::string(PG_BINARY_DIR) + "/bin/phantomguard";
    ::execl(bin.c_str(), bin.c_str(), "run", "--config", config.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 100; ++i) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("collecting via") != std::string::npos)
      break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::this_thread::sleep_for(milliseconds(500));
  double idle0 = process_cpu_seconds(pid);
  auto i0 = steady_clock::now();
  std::this_thread::sleep_for(seconds(2));
  double idle_rate = (process_cpu_seconds(pid) - idle0) / duration<double>(steady_clock::now() - i0).count();
  double cpu0 = process_cpu_seconds(pid);
  auto t0 = steady_clock::now();
  for (int i = 0; i < execs; ++i)
    spawn_wait("/bin/true");
  std::this_thread::sleep_for(milliseconds(1500)); // drained
  double wall = duration<double>(steady_clock::now() - t0).count();
  double raw = process_cpu_seconds(pid) - cpu0;
  double cpu = raw - idle_rate * wall;
  // What the daemon's source delivered, from its own status: the storm was carried.
  std::string status_cmd = std::string(PG_BINARY_DIR) + "/bin/phantomguard status --json --config " +
                           config + " 2>/dev/null";
  std::string status;
  if (FILE* f = ::popen(status_cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      status.append(buf, n);
    ::pclose(f);
  }
  std::int64_t delivered = -1;
  auto j = nlohmann::json::parse(status, nullptr, false);
  if (!j.is_discarded())
    for (const auto& c : j["status"]["components"])
      if (c.value("name", "") == "kernel_events")
        delivered = c.value("events_out", std::int64_t{-1});
  std::printf("   %-8s storm %.2f s, daemon CPU %.1f ms (idle %.2f%% of a core subtracted), "
              "%lld events delivered\n",
              mode.c_str(), wall, raw * 1e3, idle_rate * 100, static_cast<long long>(delivered));
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("collecting via") == std::string::npos)
      std::printf("   (the %s daemon did not start: %s)\n", mode.c_str(), text.c_str());
  }
  std::string rm = "rm -rf " + dir;
  [[maybe_unused]] int rc = std::system(rm.c_str());
  return std::max(0.0, cpu) * 1e6 / execs;
}

} // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::puts("bench_kernel: needs root (BPF); skipped");
    return 0;
  }
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::string only = argc > 2 ? argv[2] : ""; // "1", "2" or "3": one part only
  std::printf("bench_kernel: %d rounds, %u cores; the machine is shared: figures are medians\n",
              rounds, std::thread::hardware_concurrency());

  // 1. Overhead.
  constexpr int work = 400;
  if (only.empty() || only == "1") {
  run_workload(50); // warm caches
  std::vector<double> without, with;
  std::size_t events = 0;
  for (int r = 0; r < rounds; ++r) {
    without.push_back(run_workload(work));
    {
      // PG_BENCH_KINDS="exec,exit,...": measure the cost of some kinds only.
      toml::table t;
      if (const char* kinds = std::getenv("PG_BENCH_KINDS"); kinds && *kinds) {
        toml::array list;
        std::stringstream in(kinds);
        std::string k;
        while (std::getline(in, k, ','))
          list.push_back(k);
        t.insert_or_assign("kinds", list);
      }
      attached a(t);
      with.push_back(run_workload(work));
      a.finish();
      events = a.events;
    }
  }
  double base = median(without), sensed = median(with);
  std::printf("\n1. syscall-heavy workload (%d rounds of 1 exec, 200 opens, 20 connects, 40 mmap+"
              "mprotect, 20 dup2)\n",
              work);
  std::printf("   without the sensor   %.3f s (median)\n", base);
  std::printf("   with the sensor      %.3f s (median), %zu events in the last round\n", sensed,
              events);
  std::printf("   overhead             %+.1f%%  (goal <= 5%%)\n", (sensed / base - 1) * 100);
  }

  // 1b. A build.
  if ((only.empty() || only == "1") && ::access("/usr/bin/gcc", X_OK) == 0) {
    char tmpl[] = "/tmp/pg-bench-build-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    constexpr int units = 60;
    run_build(5, dir);
    std::vector<double> plain, watched;
    for (int r = 0; r < rounds; ++r) {
      plain.push_back(run_build(units, dir));
      attached a;
      watched.push_back(run_build(units, dir));
    }
    double p = median(plain), w = median(watched);
    std::printf("\n1b. a build (%d x gcc -O2 -c: driver, cc1 and as per unit)\n", units);
    std::printf("   without the sensor   %.3f s (median)\n", p);
    std::printf("   with the sensor      %.3f s (median)\n", w);
    std::printf("   overhead             %+.1f%%  (goal <= 5%%; Tetragon publishes +10.6%% for a "
                "kernel build)\n",
                (w / p - 1) * 100);
    std::filesystem::remove_all(dir);
  }

  // 2. CPU per exec in the daemon.
  constexpr int execs = 5000;
  if (only.empty() || only == "2") {
  std::vector<double> bpf, netlink;
  for (int r = 0; r < std::max(1, rounds / 2); ++r) {
    bpf.push_back(daemon_us_per_exec("bpf", execs));
    netlink.push_back(daemon_us_per_exec("netlink", execs));
  }
  double b = median(bpf), n = median(netlink);
  std::printf("\n2. daemon CPU per exec (%d execs; kernel_events -> process_behavior -> jsonl)\n",
              execs);
  std::printf("   eBPF sensor          %.1f us/exec (median of %zu)\n", b, bpf.size());
  std::printf("   netlink + /proc      %.1f us/exec (median of %zu)\n", n, netlink.size());
  std::printf("   ratio                %.2fx  (goal <= 10 us)\n", b > 0 ? n / b : 0.0);
  }
  if (!only.empty() && only != "3")
    return 0;

  // 3. Highest exec rate without loss.
  std::printf("\n3. exec rate through the default 1 MiB ring\n");
  double best = 0;
  for (int spawners : {1, 2, 4}) {
    attached a(toml::table{{"kinds", toml::array{"exec"}}});
    constexpr int per = 2000;
    auto t0 = steady_clock::now();
    std::vector<std::thread> ts;
    for (int s = 0; s < spawners; ++s)
      ts.emplace_back([] {
        for (int i = 0; i < per; ++i)
          spawn_wait("/bin/true");
      });
    for (auto& t : ts)
      t.join();
    double secs = duration<double>(steady_clock::now() - t0).count();
    std::this_thread::sleep_for(milliseconds(300));
    double rate = spawners * per / secs;
    auto lost = a.lost();
    std::printf("   %d spawner(s): %6.0f execs/s, lost %lld\n", spawners, rate,
                static_cast<long long>(lost));
    if (lost == 0)
      best = std::max(best, rate);
  }
  std::printf("   highest rate without loss: %.0f execs/s (the spawners' limit on this machine, "
              "not the sensor's, when nothing was lost)\n",
              best);
  return 0;
}
