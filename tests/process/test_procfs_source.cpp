// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "../support/test_context.hpp"
#include "child_process.hpp"

#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/process/procfs_source.hpp"
#include "phantomguard/actors/process/register.hpp"

using namespace pg;
using actors::process::procfs_source;

SCENARIO("the procfs source emits one process event per process, this one included") {
  GIVEN("a procfs source over /proc") {
    procfs_source src({});
    test::test_context ctx("procfs");
    WHEN("it ticks") {
      src.on_tick(ctx);
      THEN("this test process is there with the fields the design names") {
        auto events = ctx.of_kind("process");
        REQUIRE(events.size() > 5);
        const runtime::event* self = nullptr;
        for (const auto* e : events)
          if (e->get_int("pid") == ::getpid())
            self = e;
        REQUIRE(self != nullptr);
        auto st = actors::host::read_proc_stat(::getpid());
        REQUIRE(st);
        CHECK(self->get_int("ppid") == ::getppid());
        CHECK(self->get_int("uid") == ::getuid());
        CHECK(self->get_int("euid") == ::geteuid());
        CHECK(self->get_string("comm") == st->comm);
        CHECK(self->get_string("exe") == test::exe_of(::getpid()));
        CHECK(self->get_int("start_time") == static_cast<std::int64_t>(st->start_ticks));
        CHECK(self->get_string("state") == "R");
        CHECK(self->get_string("cmdline").find(st->comm.substr(0, 5)) != std::string_view::npos);
        CHECK(ctx.gauges["processes"] == Approx(static_cast<double>(events.size())));
      }
    }
  }
  GIVEN("a child started with arguments") {
    auto child = test::spawn([] {
      ::execl("/bin/sleep", "sleep", "30", "--", static_cast<char*>(nullptr));
      return 1;
    });
    REQUIRE(test::eventually([&] { return test::exe_of(child.pid()) == "/usr/bin/sleep"; }));
    procfs_source src({});
    test::test_context ctx("procfs");
    src.on_tick(ctx);
    THEN("its cmdline is the arguments joined with spaces, and its parent is us") {
      const runtime::event* ev = nullptr;
      for (const auto* e : ctx.of_kind("process"))
        if (e->get_int("pid") == child.pid())
          ev = e;
      REQUIRE(ev != nullptr);
      CHECK(ev->get_string("cmdline") == "sleep 30 --");
      CHECK(ev->get_int("ppid") == ::getpid());
      CHECK(ev->get_string("comm") == "sleep");
    }
  }
}

SCENARIO("entries that vanish or cannot be parsed are skipped and counted, never fatal") {
  GIVEN("a proc tree with a process that vanished and one with a malformed stat") {
    test::temp_dir root("/tmp");
    namespace fs = std::filesystem;
    fs::create_directories(root.path() + "/4242"); // no stat: exited meanwhile
    fs::create_directories(root.path() + "/4343");
    std::ofstream(root.path() + "/4343/stat") << "garbage without parentheses";
    procfs_source::options o;
    o.proc_root = root.path();
    procfs_source src(o);
    test::test_context ctx("procfs");
    src.on_tick(ctx);
    THEN("no event, one vanished and one malformed") {
      CHECK(ctx.of_kind("process").empty());
      CHECK(ctx.counters["vanished"] == 1);
      CHECK(ctx.counters["malformed"] == 1);
    }
  }
}

SCENARIO("the family registers its component types with their options") {
  runtime::registry reg;
  actors::process::register_components(reg);
  const auto* src = reg.find(runtime::component_kind::source, "procfs");
  const auto* an = reg.find(runtime::component_kind::analyzer, "process");
  REQUIRE(src != nullptr);
  REQUIRE(an != nullptr);
  CHECK(src->produces == std::vector<std::string>{"process"});
  runtime::component_init init;
  init.name = "mem";
  init.settings = runtime::component_settings(toml::table{{"self_scan", "never"}});
  auto c = an->factory(init);
  REQUIRE(c != nullptr);
  test::test_context ctx("mem");
  c->on_tick(ctx); // self_scan = never: a tick alone reads nothing
  CHECK(ctx.counters["analyzed"] == 0);
}
