// SPDX-License-Identifier: Apache-2.0
// process_behavior's rules on kernel events. The events here are recorded in the form the
// kernel_events source emits them (tests/realtime/test_kernel_events.cpp checks that form against
// the real kernel, and tests/cli/test_kernel_sensor.cpp runs the whole path with each technique
// performed); here each rule's edges are pinned: what fires, what stays quiet, what is said once.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/actors/process/behavior_analyzer.hpp"
#include "test_context.hpp"

using namespace pg::actors::process;
using pg::runtime::event;

namespace {

event kernel_event(std::string kind, std::int64_t pid, std::string comm, std::int64_t ppid = 1) {
  event e;
  e.kind = std::move(kind);
  e.source = "kernel";
  e.set("pid", pid);
  e.set("ppid", ppid);
  e.set("uid", std::int64_t{0});
  e.set("euid", std::int64_t{0});
  e.set("comm", std::move(comm));
  e.set("via", std::string("kernel"));
  return e;
}

event exec_event(std::int64_t pid, std::string comm, std::string exe, std::int64_t ppid = 1,
                 std::int64_t stdio_sockets = 0, std::int64_t nlink = 1) {
  auto e = kernel_event("process_exec", pid, std::move(comm), ppid);
  e.set("hook", std::string("sched_process_exec"));
  e.set("filename", exe);
  e.set("exe", exe);
  e.set("exe_nlink", nlink);
  e.set("stdio_sockets", stdio_sockets);
  return e;
}

struct analyzer {
  explicit analyzer(behavior_analyzer::options o = behavior_analyzer::default_options())
      : a(std::move(o)) {
    a.start(ctx);
  }
  void feed(std::vector<event> events) {
    pg::runtime::event_batch b;
    b.events = std::move(events);
    a.on_batch(b, ctx);
  }
  behavior_analyzer a;
  pg::test::test_context ctx{"behavior"};
};

} // namespace

SCENARIO("a shell started with socket stdio is a reverse shell, said once per session") {
  analyzer t;
  auto dup = kernel_event("socket_dup", 500, "bash", 400);
  dup.set("hook", std::string("sys_enter_dup2"));
  dup.set("oldfd", std::int64_t{3});
  dup.set("newfd", std::int64_t{0});
  dup.set("family", std::string("inet"));
  dup.set("remote_address", std::string("203.0.113.9"));
  dup.set("remote_port", std::int64_t{4444});
  dup.set("local_port", std::int64_t{51000});
  auto dup1 = dup;
  dup1.set("newfd", std::int64_t{1});
  // bash dups the socket onto 0 and 1, then execs `bash -i`, which starts children on the same
  // socket: one finding, from the dup, naming the peer.
  dup.set("socket_inode", std::int64_t{777001});
  dup1.set("socket_inode", std::int64_t{777001});
  // A subshell's child whose parent we never saw exec: the same socket, the same session.
  auto grandchild = exec_event(503, "sh", "/usr/bin/dash", 502, 7);
  grandchild.set("socket_inode", std::int64_t{777001});
  auto other = exec_event(504, "sh", "/usr/bin/dash", 1, 3);
  other.set("socket_inode", std::int64_t{777002});
  t.feed({dup, dup1, exec_event(500, "bash", "/usr/bin/bash", 400, 7),
          exec_event(501, "sh", "/usr/bin/dash", 500, 7), grandchild});
  auto found = t.ctx.with_rule("process.reverse_shell");
  REQUIRE(found.size() == 1);
  CHECK(found[0]->level == pg::runtime::severity::critical);
  CHECK(found[0]->evidence["remote_address"] == "203.0.113.9");
  CHECK(found[0]->evidence["remote_port"] == 4444);
  CHECK(found[0]->evidence["kernel_event"] == "sys_enter_dup2");
  CHECK(found[0]->mitre == std::vector<std::string>{"T1059.004", "T1071"});
  t.feed({other}); // another socket: another session
  CHECK(t.ctx.with_rule("process.reverse_shell").size() == 2);

  // A python one-liner dups (not a shell: quiet), then execs sh on the socket: said at exec.
  analyzer p;
  auto pdup = dup;
  pdup.set("pid", std::int64_t{700});
  pdup.set("comm", std::string("python3"));
  p.feed({pdup, exec_event(700, "sh", "/usr/bin/dash", 600, 7)});
  auto at_exec = p.ctx.with_rule("process.reverse_shell");
  REQUIRE(at_exec.size() == 1);
  CHECK(at_exec[0]->evidence["kernel_event"] == "sched_process_exec");
  CHECK(at_exec[0]->evidence["stdio_sockets"] == nlohmann::json::array({0, 1, 2}));

  // A service with socket stdin only (inetd style) and a shell with a socket on stderr only are
  // not reverse shells.
  analyzer q;
  q.feed({exec_event(800, "sh", "/usr/bin/dash", 1, 1), exec_event(801, "bash", "/usr/bin/bash", 1, 4)});
  CHECK(q.ctx.with_rule("process.reverse_shell").empty());
}

SCENARIO("an exec of a file with no name is fileless execution") {
  analyzer t;
  auto memfd = exec_event(900, "3", "/memfd:payload (deleted)", 1, 0, 0);
  memfd.set("filename", std::string("/dev/fd/3"));
  t.feed({memfd, exec_event(901, "true", "/usr/bin/true")});
  auto found = t.ctx.with_rule("process.fileless_exec");
  REQUIRE(found.size() == 1);
  CHECK(found[0]->entity["pid"] == 900);
  CHECK(found[0]->evidence["exe_nlink"] == 0);
  CHECK(found[0]->evidence["filename"] == "/dev/fd/3");
  CHECK(found[0]->mitre.front() == "T1620");
}

SCENARIO("an exec from a world-writable directory is reported, from a root-owned one not") {
  analyzer t;
  t.feed({exec_event(1000, "x", "/dev/shm/x"), exec_event(1001, "ls", "/usr/bin/ls")});
  auto found = t.ctx.with_rule("process.exec_world_writable");
  REQUIRE(found.size() == 1);
  CHECK(found[0]->evidence["directory"] == "/dev/shm");
  CHECK(found[0]->evidence["sticky"] == true);
}

SCENARIO("a service spawning a shell, and a deleted program spawning anything, are suspicious lineage") {
  analyzer t;
  t.feed({exec_event(1100, "nginx", "/usr/sbin/nginx", 1), exec_event(1101, "sh", "/usr/bin/dash", 1100),
          exec_event(1102, "ls", "/usr/bin/ls", 1100)});
  auto found = t.ctx.with_rule("process.suspicious_lineage");
  REQUIRE(found.size() == 1); // the shell, not ls
  CHECK(found[0]->entity["pid"] == 1101);
  CHECK(found[0]->evidence["parent"]["comm"] == "nginx");

  analyzer d;
  d.feed({exec_event(1200, "implant", "/tmp/implant", 1, 0, 0),
          exec_event(1201, "cat", "/usr/bin/cat", 1200)});
  auto child = d.ctx.with_rule("process.suspicious_lineage");
  REQUIRE(child.size() == 1);
  CHECK(child[0]->evidence["parent"]["exe_deleted"] == true);

  // A login shell under sshd's session process is what ssh is for.
  analyzer s;
  auto session = exec_event(1301, "sshd", "/usr/sbin/sshd", 1);
  session.set("cmdline", std::string("sshd: alice@pts/0"));
  s.feed({session, exec_event(1302, "bash", "/usr/bin/bash", 1301)});
  CHECK(s.ctx.with_rule("process.suspicious_lineage").empty());
}

SCENARIO("ptrace and process_vm_writev into another process are injection, debuggers excepted") {
  analyzer t;
  auto attach = kernel_event("ptrace", 1400, "implant");
  attach.set("hook", std::string("sys_enter_ptrace"));
  attach.set("request", std::string("attach"));
  attach.set("target_pid", std::int64_t{1500});
  attach.set("target_comm", std::string("sshd"));
  auto poke = attach;
  poke.set("request", std::string("pokedata"));
  auto gdb = attach;
  gdb.set("comm", std::string("gdb"));
  gdb.set("pid", std::int64_t{1401});
  auto vm = kernel_event("process_vm_write", 1402, "implant");
  vm.set("target_pid", std::int64_t{1500});
  t.feed({attach, attach, poke, gdb, vm});
  auto ptrace = t.ctx.with_rule("memory.ptrace_injection");
  REQUIRE(ptrace.size() == 2); // the attach and the write, once each; gdb not at all
  CHECK(ptrace[0]->evidence["target"]["comm"] == "sshd");
  CHECK(ptrace[1]->title.find("pokedata") != std::string::npos);
  REQUIRE(t.ctx.with_rule("memory.process_vm_write").size() == 1);
}

SCENARIO("anonymous memory made executable is reported unless a JIT does it") {
  analyzer t;
  auto mp = kernel_event("memory_exec", 1600, "loader");
  mp.set("call", std::string("mprotect"));
  mp.set("prot", std::string("r-x"));
  mp.set("anonymous", true);
  mp.set("was_writable", true);
  auto jit = mp;
  jit.set("pid", std::int64_t{1601});
  jit.set("comm", std::string("node"));
  t.feed({mp, mp, jit});
  auto found = t.ctx.with_rule("memory.anon_exec");
  REQUIRE(found.size() == 1);
  CHECK(found[0]->level == pg::runtime::severity::high);
  CHECK(found[0]->entity["pid"] == 1600);
}

SCENARIO("a privilege gain is judged by how it came: setuid files explain it, nothing else does") {
  auto cred = [](std::int64_t pid, bool in_exec, std::int64_t old_euid, std::int64_t new_euid,
                 std::int64_t old_uid = 1000) {
    auto e = kernel_event("credential_change", pid, "x");
    e.set("old_uid", old_uid);
    e.set("old_euid", old_euid);
    e.set("new_uid", std::int64_t{0});
    e.set("new_euid", new_euid);
    e.set("caps_gained", std::string(new_euid == 0 && old_euid != 0 ? "0x1ffffffffff" : "0x0"));
    e.set("in_exec", in_exec);
    return e;
  };
  // A setuid-root copy of a program and a plain copy, made here.
  std::string dir = "/tmp/pg-behavior-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file("/bin/true", dir + "/suid");
  std::filesystem::copy_file("/bin/true", dir + "/plain");
  ::chmod((dir + "/suid").c_str(), 04755);

  analyzer t;
  t.feed({cred(1700, false, 1000, 0),                                        // outside exec
          cred(1701, true, 1000, 0), exec_event(1701, "suid", dir + "/suid"),   // setuid: fine
          cred(1702, true, 1000, 0), exec_event(1702, "plain", dir + "/plain"), // no setuid bit
          cred(1703, false, 0, 0)}); // root setting its real uid (sudo): no gain
  auto found = t.ctx.with_rule("process.privilege_gain");
  REQUIRE(found.size() == 2);
  CHECK(found[0]->entity["pid"] == 1700);
  CHECK(found[0]->evidence["how"] == "syscall");
  CHECK(found[1]->entity["pid"] == 1702);
  CHECK(found[1]->evidence["how"] == "exec");
  CHECK(found[1]->evidence["exe"] == dir + "/plain");
  std::filesystem::remove_all(dir);
}

SCENARIO("the process table stays bounded and forgets exited processes") {
  auto o = behavior_analyzer::default_options();
  o.max_processes = 64;
  analyzer t(o);
  std::vector<event> batch;
  for (int i = 0; i < 1000; ++i)
    batch.push_back(exec_event(20000 + i, "true", "/usr/bin/true", 1));
  t.feed(std::move(batch));
  CHECK(t.ctx.gauges["processes_tracked"] <= 64);
  auto exit = kernel_event("process_exit", 20999, "true");
  t.feed({exit});
  CHECK(t.ctx.gauges["processes_tracked"] <= 63);
}
