// SPDX-License-Identifier: Apache-2.0
// kernel_loads on kernel events. The module rules are tested with recorded events: the test
// machines' kernel has no module support (no init_module tracepoints, nothing to load), so the
// events below are what kernel_events emits for a finit_module / init_module / delete_module
// call (the same conversion code as every other kind, tested in test_kernel_events.cpp). The
// bpf() rule is also performed for real there and end to end in tests/cli.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "phantomguard/actors/rootkit/kernel_loads_analyzer.hpp"
#include "test_context.hpp"

using pg::actors::rootkit::kernel_loads_analyzer;
using pg::runtime::event;

namespace {

event recorded(std::string kind, std::int64_t pid, std::string comm) {
  event e;
  e.kind = std::move(kind);
  e.set("pid", pid);
  e.set("ppid", std::int64_t{1});
  e.set("uid", std::int64_t{0});
  e.set("comm", std::move(comm));
  e.set("via", std::string("kernel"));
  return e;
}

std::vector<pg::runtime::finding> run(std::vector<event> events,
                                      kernel_loads_analyzer::options o = {}) {
  kernel_loads_analyzer a(std::move(o));
  pg::test::test_context ctx("loads");
  pg::runtime::event_batch b;
  b.events = std::move(events);
  a.on_batch(b, ctx);
  return ctx.findings;
}

} // namespace

SCENARIO("a kernel module load is a finding, critical from a temporary place or from memory") {
  auto insmod = recorded("module_load", 3000, "insmod");
  insmod.set("hook", std::string("sys_enter_finit_module"));
  insmod.set("call", std::string("finit_module"));
  insmod.set("fd", std::int64_t{3});
  insmod.set("path", std::string("/usr/lib/modules/6.1.0/kernel/drivers/net/dummy.ko"));
  auto tmp = insmod;
  tmp.set("pid", std::int64_t{3001});
  tmp.set("path", std::string("/tmp/.x/diamorphine.ko"));
  auto mem = recorded("module_load", 3002, "loader");
  mem.set("hook", std::string("sys_enter_init_module"));
  mem.set("call", std::string("init_module"));
  auto rm = recorded("module_unload", 3003, "rmmod");
  rm.set("hook", std::string("sys_enter_delete_module"));
  rm.set("name", std::string("apparmor"));
  auto f = run({insmod, tmp, mem, rm});
  REQUIRE(f.size() == 4);
  CHECK(f[0].rule == "rootkit.module_load");
  CHECK(f[0].level == pg::runtime::severity::high);
  CHECK(f[0].evidence["kernel_event"] == "sys_enter_finit_module");
  CHECK(f[0].mitre.front() == "T1547.006");
  CHECK(f[1].level == pg::runtime::severity::critical);
  CHECK(f[1].entity["module_file"] == "/tmp/.x/diamorphine.ko");
  CHECK(f[2].level == pg::runtime::severity::critical);
  CHECK(f[2].title.find("from memory") != std::string::npos);
  CHECK(f[3].rule == "rootkit.module_unload");
  CHECK(f[3].entity["module"] == "apparmor");

  kernel_loads_analyzer::options allow;
  allow.module_allowlist = {"insmod"};
  CHECK(run({insmod}, allow).empty());
}

SCENARIO("a BPF program loaded by another process is a finding, but not systemd or the engine") {
  auto kprobe = recorded("bpf_load", 3100, "implant");
  kprobe.set("hook", std::string("sys_enter_bpf"));
  kprobe.set("prog_type", std::int64_t{2}); // kprobe
  kprobe.set("prog_name", std::string("hide_pid"));
  auto filter = kprobe;
  filter.set("pid", std::int64_t{3101});
  filter.set("prog_type", std::int64_t{1}); // socket filter
  auto systemd = kprobe;
  systemd.set("comm", std::string("systemd"));
  auto self = kprobe;
  self.set("pid", std::int64_t{::getpid()});
  auto f = run({kprobe, filter, systemd, self});
  REQUIRE(f.size() == 2);
  CHECK(f[0].rule == "rootkit.bpf_load");
  CHECK(f[0].level == pg::runtime::severity::high);
  CHECK(f[0].evidence["prog_type"] == "kprobe");
  CHECK(f[0].evidence["prog_name"] == "hide_pid");
  CHECK(f[1].level == pg::runtime::severity::medium);
  CHECK(f[1].evidence["prog_type"] == "socket_filter");
}
