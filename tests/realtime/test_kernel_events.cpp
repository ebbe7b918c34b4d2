// SPDX-License-Identifier: Apache-2.0
// The kernel_events source against the real kernel: every technique is performed on this machine
// (pg_technique, sockets, execs) and the events the eBPF sensor delivers are checked field by
// field. Skipped, with the reason, where the sensor cannot run (not root, no BPF).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "phantomguard/actors/realtime/kernel_events_source.hpp"
#include "realtime_fixture.hpp"
#include "sensor_events.h"
#include "skip.hpp"

extern char** environ;

using namespace pg::actors::realtime;
using namespace std::chrono_literals;
using pg::runtime::event;

namespace {

kernel_events_settings settings_from(toml::table t) {
  return kernel_events_settings::from(pg::runtime::component_settings(std::move(t)));
}

// A source on the eBPF sensor, started; a skip naming the reason where it cannot run.
struct sensor {
  explicit sensor(toml::table t = {}) {
    if (!pg::test::is_root())
      PG_SKIP("not root: loading BPF programs needs CAP_BPF and CAP_PERFMON");
    t.insert_or_assign("mode", "bpf");
    src = std::make_unique<kernel_events_source>(settings_from(std::move(t)));
    try {
      src->start(ctx);
    } catch (const std::exception& e) {
      PG_SKIP(std::string("the eBPF sensor cannot run on this machine: ") + e.what());
    }
  }
  ~sensor() {
    if (src)
      src->stop(ctx);
  }
  // Ticks until an event matching `pred` arrived (or `limit`); the event or nullptr.
  const event* wait_for(const std::string& kind, const std::function<bool(const event&)>& pred,
                        std::chrono::milliseconds limit = 3000ms) {
    const event* found = nullptr;
    pg::test::tick_until(
        *src, ctx,
        [&] {
          for (const auto* e : ctx.of_kind(kind))
            if (pred(*e)) {
              found = e;
              return true;
            }
          return false;
        },
        limit);
    return found;
  }
  std::unique_ptr<kernel_events_source> src;
  pg::test::test_context ctx{"kernel"};
};

struct run_result {
  pid_t pid = -1;
  int status = -1;
  std::string out;
};

// Runs argv to completion; its pid, exit status and what it printed.
run_result run(std::vector<std::string> argv) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  run_result r;
  int rc = ::posix_spawn(&r.pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  REQUIRE(rc == 0);
  char buf[256];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0)
    r.out.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(r.pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string technique() {
  return PG_TECHNIQUE;
}

pid_t printed_pid(const std::string& out) {
  std::istringstream in(out);
  std::string ok;
  pid_t pid = 0;
  in >> ok >> pid;
  return pid;
}

std::size_t count_marked(const pg::test::test_context& ctx, const std::string& marker) {
  std::size_t n = 0;
  for (const auto* e : ctx.of_kind("process_exec"))
    if (e->get_string("cmdline").find(marker) != std::string_view::npos)
      ++n;
  return n;
}

} // namespace

SCENARIO("an exec arrives from the kernel with filename, argv, credentials and the exe's inode") {
  sensor s;
  auto marker = "pg-marker-" + std::to_string(::getpid());
  auto r = run({"/bin/true", marker, "second"});
  REQUIRE(r.status == 0);
  const auto* exec = s.wait_for("process_exec", [&](const event& e) { return e.get_int("pid") == r.pid; });
  REQUIRE(exec);
  CHECK(exec->get_string("filename") == "/bin/true");
  CHECK(exec->get_string("cmdline") == "/bin/true " + marker + " second");
  CHECK(exec->get_int("ppid") == ::getpid());
  CHECK(exec->get_int("uid", -1) == static_cast<std::int64_t>(::getuid()));
  CHECK(exec->get_int("euid", -1) == static_cast<std::int64_t>(::geteuid()));
  CHECK(exec->get_string("comm") == "true");
  CHECK(exec->get_string("via") == "kernel");
  CHECK(exec->get_string("hook") == "sched_process_exec");
  struct stat st {};
  REQUIRE(::stat("/bin/true", &st) == 0);
  CHECK(exec->get_int("exe_inode") == static_cast<std::int64_t>(st.st_ino));
  CHECK(exec->get_int("exe_nlink") >= 1);
  CHECK(exec->get_int("stdio_sockets", -1) == 0);
  CHECK(exec->get_int("start_ticks") > 0);
  const auto* exit = s.wait_for("process_exit", [&](const event& e) { return e.get_int("pid") == r.pid; });
  REQUIRE(exit);
  CHECK(exit->get_int("exit_status", -1) == 0);
  CHECK(exit->get_string("comm") == "true");
  CHECK(exit->get_string("exe").find("true") != std::string_view::npos);

  auto failing = run({"/bin/sh", "-c", "exit 3"});
  const auto* exit3 = s.wait_for("process_exit", [&](const event& e) { return e.get_int("pid") == failing.pid; });
  REQUIRE(exit3);
  CHECK(exit3->get_int("exit_status", -1) == 3);
  CHECK(s.ctx.losses.empty());
}

SCENARIO("an exec storm of 5000 processes yields 5000 exec events with filename and argv") {
  sensor s(toml::table{{"kinds", pg::test::list_of({"exec"})}, {"ring_size", "16MiB"}});
  auto marker = "pg-storm-" + std::to_string(::getpid());
  constexpr int storm = 5000;
  auto t0 = std::chrono::steady_clock::now();
  // The test drains while the storm runs: the user-space queue is not what is measured here.
  std::atomic<bool> done{false};
  std::thread spawner([&] {
    for (int i = 0; i < storm; ++i) {
      std::string n = std::to_string(i);
      char* args[] = {const_cast<char*>("/bin/true"), marker.data(), n.data(), nullptr};
      pid_t pid = -1;
      if (::posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ) == 0)
        ::waitpid(pid, nullptr, 0);
    }
    done = true;
  });
  pg::test::tick_until(
      *s.src, s.ctx, [&] { return done && count_marked(s.ctx, marker) >= storm; }, 60000ms);
  spawner.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::set<std::string> seen;
  for (const auto* e : s.ctx.of_kind("process_exec"))
    if (e->get_string("cmdline").find(marker) != std::string_view::npos) {
      CHECK(e->get_string("filename") == "/bin/true");
      seen.insert(std::string(e->get_string("cmdline")));
    }
  WARN(storm << " execs in " << seconds << " s (" << static_cast<int>(storm / seconds) << "/s)");
  CHECK(seen.size() == storm); // every one, each with its own argv
  CHECK(s.ctx.losses.count("kernel_ringbuf") == 0);
}

SCENARIO("a burst larger than the ring buffer is reported as loss with its count") {
  sensor s(toml::table{{"kinds", pg::test::list_of({"exec"})}, {"ring_size", "4KiB"}});
  auto marker = "pg-burst-" + std::to_string(::getpid());
  // 800 children wait on one pipe and exec together when it closes: far more records at once
  // than a 4 KiB ring holds.
  constexpr int burst = 800;
  int gate[2];
  REQUIRE(::pipe(gate) == 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < burst; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      [[maybe_unused]] auto n = ::read(gate[0], &c, 1);
      std::string idx = std::to_string(i);
      ::execl("/bin/true", "/bin/true", marker.c_str(), idx.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    REQUIRE(pid > 0);
    kids.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (auto pid : kids)
    ::waitpid(pid, nullptr, 0);
  pg::test::tick_until(*s.src, s.ctx, [] { return false; }, 1000ms);
  auto delivered = count_marked(s.ctx, marker);
  auto lost = s.ctx.losses["kernel_ringbuf"];
  WARN("burst of " << burst << ": " << delivered << " delivered, " << lost << " lost");
  CHECK(lost > 0);
  CHECK(s.ctx.counters["ringbuf_lost_exec"] == lost);
  // Nothing vanishes uncounted: what did not arrive is in the loss count (which may include
  // other processes' execs on this machine).
  CHECK(static_cast<std::int64_t>(delivered) + lost >= burst);
}

SCENARIO("connect, accept, bind and listen arrive with the 5-tuple and the pid") {
  sensor s(toml::table{{"kinds", pg::test::list_of({"connect", "accept", "bind", "listen"})}});
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(server, 4) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  sockaddr_in local{};
  len = sizeof local;
  ::getsockname(client, reinterpret_cast<sockaddr*>(&local), &len);
  int accepted = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(accepted >= 0);
  auto mine = [](const event& e) { return e.get_int("pid") == ::getpid(); };

  const auto* bind = s.wait_for("net_bind", mine);
  REQUIRE(bind);
  CHECK(bind->get_string("family") == "inet");
  CHECK(bind->get_string("local_address") == "127.0.0.1");
  CHECK(bind->get_int("fd") == server);
  const auto* listen = s.wait_for("net_listen", mine);
  REQUIRE(listen);
  CHECK(listen->get_int("local_port") == port);
  CHECK(listen->get_string("proto") == "tcp");
  CHECK(listen->get_int("backlog") == 4);
  const auto* connect = s.wait_for("net_connect", mine);
  REQUIRE(connect);
  CHECK(connect->get_string("remote_address") == "127.0.0.1");
  CHECK(connect->get_int("remote_port") == port);
  CHECK(connect->get_string("hook") == "sys_enter_connect");
  const auto* accept = s.wait_for("net_accept", mine);
  REQUIRE(accept);
  CHECK(accept->get_int("fd") == accepted);
  CHECK(accept->get_int("local_port") == port);
  CHECK(accept->get_int("remote_port") == ntohs(local.sin_port));
  CHECK(accept->get_string("remote_address") == "127.0.0.1");
  ::close(accepted);
  ::close(client);
  ::close(server);
}

SCENARIO("a socket duplicated onto stdio is seen at dup2, and an exec with socket stdio says so") {
  sensor s(toml::table{{"kinds", pg::test::list_of({"exec", "socket_dup"})}});
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::dup2(pair[1], 0);
    ::dup2(pair[1], 1);
    ::execl("/bin/true", "true", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pair[1]);
  ::waitpid(child, nullptr, 0);
  ::close(pair[0]);
  const auto* dup = s.wait_for("socket_dup", [&](const event& e) {
    return e.get_int("pid") == child && e.get_int("newfd") == 1;
  });
  REQUIRE(dup);
  CHECK(dup->get_int("oldfd") == pair[1]);
  CHECK(dup->get_string("family") == "unix");
  const auto* exec = s.wait_for("process_exec", [&](const event& e) { return e.get_int("pid") == child; });
  REQUIRE(exec);
  CHECK(exec->get_int("stdio_sockets") == 3); // fds 0 and 1
}

SCENARIO("injection, fileless execution, executable memory, bpf() and a privilege gain arrive as they happen") {
  sensor s;
  auto tool = technique();
  auto from_tool = [](const event& e) { return e.get_string("comm") == "pg_technique"; };

  auto memfd = run({tool, "memfd-exec"});
  REQUIRE(memfd.status == 0);
  const auto* created = s.wait_for("memfd_create", [&](const event& e) { return e.get_int("pid") == memfd.pid; });
  REQUIRE(created);
  CHECK(created->get_string("name") == "pg-payload");
  const auto* fileless = s.wait_for("process_exec", [&](const event& e) {
    return e.get_int("pid") == memfd.pid && e.get_string("cmdline") == "pg-fileless";
  });
  REQUIRE(fileless);
  CHECK(fileless->get_int("exe_nlink", -1) == 0);
  CHECK(fileless->get_string("filename").substr(0, 8) == "/dev/fd/");

  auto attach = run({tool, "ptrace-attach"});
  REQUIRE(attach.status == 0);
  pid_t victim = printed_pid(attach.out);
  const auto* at = s.wait_for("ptrace", [&](const event& e) {
    return from_tool(e) && e.get_string("request") == "attach" && e.get_int("target_pid") == victim;
  });
  REQUIRE(at);
  CHECK(at->get_string("hook") == "sys_enter_ptrace");
  CHECK(s.wait_for("ptrace", [&](const event& e) {
    return from_tool(e) && e.get_string("request") == "pokedata" && e.get_int("target_pid") == victim;
  }));

  auto vm = run({tool, "vm-write"});
  REQUIRE(vm.status == 0);
  CHECK(s.wait_for("process_vm_write", [&](const event& e) {
    return from_tool(e) && e.get_int("target_pid") == printed_pid(vm.out);
  }));

  auto rwx = run({tool, "rwx"});
  REQUIRE(rwx.status == 0);
  const auto* mp = s.wait_for("memory_exec", [&](const event& e) {
    return e.get_int("pid") == rwx.pid && e.get_string("call") == "mprotect";
  });
  REQUIRE(mp);
  CHECK(mp->get_bool("anonymous"));
  CHECK(mp->get_bool("was_writable"));
  CHECK(mp->get_string("prot") == "r-x");
  auto mm = run({tool, "mmap-rwx"});
  const auto* mx = s.wait_for("memory_exec", [&](const event& e) { return e.get_int("pid") == mm.pid; });
  REQUIRE(mx);
  CHECK(mx->get_string("call") == "mmap");
  CHECK(mx->get_string("prot") == "rwx");

  auto bpf = run({tool, "bpf-load"});
  REQUIRE(bpf.status == 0);
  const auto* load = s.wait_for("bpf_load", [&](const event& e) { return e.get_int("pid") == bpf.pid; });
  REQUIRE(load);
  CHECK(load->get_int("prog_type") == 1); // BPF_PROG_TYPE_SOCKET_FILTER
  CHECK(load->get_string("prog_name") == "pg_test_prog");

  auto regain = run({tool, "regain-root"});
  REQUIRE(regain.status == 0);
  const auto* cred = s.wait_for("credential_change", [&](const event& e) { return e.get_int("pid") == regain.pid; });
  REQUIRE(cred);
  CHECK(cred->get_int("old_euid") == 65534);
  CHECK(cred->get_int("new_euid") == 0);
  CHECK_FALSE(cred->get_bool("in_exec"));
  CHECK(cred->get_string("call") == "setresuid");
  CHECK(s.ctx.losses.empty());
}

SCENARIO("an open for write under /etc arrives with the path and the pid") {
  sensor s(toml::table{{"kinds", pg::test::list_of({"open_write"})}});
  auto path = "/etc/pg-kernel-test-" + std::to_string(::getpid());
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  ::close(fd);
  ::unlink(path.c_str());
  const auto* open = s.wait_for("file_open_write", [&](const event& e) { return e.get_string("path") == path; });
  REQUIRE(open);
  CHECK(open->get_int("pid") == ::getpid());
  CHECK((open->get_int("flags") & O_CREAT) != 0);
}

SCENARIO("kernel-side filters leave out ignored processes, and sampling is counted") {
  sensor s(toml::table{{"kinds", pg::test::list_of({"exec", "mem_exec"})},
                       {"ignore_comms", pg::test::list_of({"pg_technique"})},
                       {"sample", toml::table{{"exec", 10}}}});
  auto rwx = run({technique(), "mmap-rwx"});
  REQUIRE(rwx.status == 0);
  auto marker = "pg-sample-" + std::to_string(::getpid());
  for (int i = 0; i < 100; ++i)
    run({"/bin/true", marker});
  pg::test::tick_until(*s.src, s.ctx, [] { return false; }, 500ms);
  for (const auto* e : s.ctx.of_kind("memory_exec"))
    CHECK(e->get_int("pid") != rwx.pid);
  auto delivered = count_marked(s.ctx, marker);
  CHECK(delivered < 30); // one in ten, per CPU
  CHECK(s.ctx.counters["sampled_out_exec"] >= 70);
  CHECK(s.ctx.losses.empty()); // sampling is a choice, not a loss
}

SCENARIO("kernel_events refuses bad settings with the reason") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(settings_from(toml::table{{"kinds", pg::test::list_of({"exec", "bogus"})}}),
                    Contains("unknown kind 'bogus'"));
  CHECK_THROWS_WITH(settings_from(toml::table{{"mode", "kprobe"}}),
                    Contains("mode must be auto, bpf, netlink or poll"));
  CHECK_THROWS_WITH(settings_from(toml::table{{"sample", toml::table{{"exec", 0}}}}),
                    Contains("sample.exec must be a whole number"));
  CHECK_THROWS_WITH(settings_from(toml::table{{"sample", toml::table{{"fork2", 3}}}}),
                    Contains("sample: unknown kind 'fork2'"));
  CHECK_THROWS_WITH(settings_from(toml::table{{"ignore_uids", pg::test::list_of({"12x"})}}),
                    Contains("'12x' is not a number"));
  CHECK_THROWS_WITH(
      settings_from(toml::table{{"ignore_comms", pg::test::list_of({"a-name-longer-than-15"})}}),
      Contains("1 to 15 characters"));
}

SCENARIO("a malformed ring-buffer record is refused, not read past its end") {
  kernel_events_source src(settings_from({}));
  pg::runtime::event e;
  pg_hdr h{};
  h.kind = PG_EV_EXEC;
  CHECK_FALSE(src.convert(&h, sizeof h, e)); // an exec header without its body
  h.kind = 99;
  CHECK_FALSE(src.convert(&h, sizeof h, e));
  CHECK_FALSE(src.convert(&h, 3, e));
  pg_exit_event x{};
  x.h.kind = PG_EV_EXIT;
  x.h.pid = 4242;
  x.exit_code = 7 << 8;
  REQUIRE(src.convert(&x, sizeof x, e));
  CHECK(e.kind == "process_exit");
  CHECK(e.get_int("exit_status") == 7);
}

SCENARIO("without the privilege the source falls back and says what it cannot see") {
  if (!pg::test::is_root())
    PG_SKIP("not root: the test drops to nobody from root");
  // In a child that gives up root for good: what an unprivileged deployment gets.
  pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0)
      ::_exit(10);
    pg::test::test_context ctx("kernel");
    {
      kernel_events_source strict(settings_from(toml::table{{"mode", "bpf"}}));
      try {
        strict.start(ctx);
        ::_exit(11); // must refuse
      } catch (const std::exception& e) {
        if (std::string(e.what()).find("CAP_BPF") == std::string::npos)
          ::_exit(12);
      }
    }
    kernel_events_source src(settings_from(toml::table{{"poll_interval", "20ms"}}));
    src.start(ctx);
    if (src.active_mode() != "poll")
      ::_exit(13);
    pid_t sleeper = ::fork();
    if (sleeper == 0) {
      ::execl("/bin/sleep", "sleep", "0.5", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pg::test::tick_until(
        src, ctx,
        [&] {
          for (const auto* e : ctx.of_kind("process_exec"))
            if (e->get_int("pid") == sleeper)
              return true;
          return false;
        },
        3000ms);
    ::waitpid(sleeper, nullptr, 0);
    src.stop(ctx);
    auto limited = ctx.with_rule("realtime.privilege_limited");
    if (limited.empty())
      ::_exit(14);
    if (limited.front()->evidence.value("missing", "") != "CAP_BPF")
      ::_exit(15);
    bool saw = false;
    for (const auto* e : ctx.of_kind("process_exec"))
      saw = saw || (e->get_int("pid") == sleeper && e->get_string("via") == "poll");
    ::_exit(saw ? 0 : 16);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  // 0: fell back to polling, raised realtime.privilege_limited naming CAP_BPF, still saw the exec.
  CHECK(WEXITSTATUS(status) == 0);
}
