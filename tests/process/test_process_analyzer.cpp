// SPDX-License-Identifier: Apache-2.0
// Each scenario performs the technique for real on this machine and asserts the finding.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <grp.h>
#include <sys/mman.h>
#include <sys/ptrace.h>

#include "../support/test_context.hpp"
#include "child_process.hpp"
#include "test_lineage.hpp"

#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/actors/process/process_analyzer.hpp"
#include "phantomguard/actors/process/procfs_source.hpp"

extern char** environ;

using namespace pg;
using actors::process::process_analyzer;
using runtime::severity;

namespace {

// The findings of `rule` about `pid`.
std::vector<const runtime::finding*> about(const test::test_context& ctx, std::string_view rule,
                                           pid_t pid) {
  std::vector<const runtime::finding*> out;
  for (const auto* f : ctx.with_rule(rule))
    if (f->entity.value("pid", -1) == pid)
      out.push_back(f);
  return out;
}

// The findings about `pid`, for failure messages (not the whole host: keep logs small).
std::string dump(const test::test_context& ctx, pid_t pid) {
  std::string s;
  for (const auto& f : ctx.findings)
    if (f.entity.value("pid", -1) == pid)
      s += f.to_jsonl() + "\n";
  return s;
}

// A child that maps `prot` anonymous memory, reports the address on a pipe, then sleeps.
test::child_process mapping_child(int prot, std::uintptr_t& addr) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto child = test::spawn([&] {
    ::close(fds[0]);
    void* p = ::mmap(nullptr, 65536, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return 1;
    static_cast<volatile char*>(p)[0] = 1;
    auto a = reinterpret_cast<std::uintptr_t>(p);
    if (::write(fds[1], &a, sizeof a) != sizeof a)
      return 2;
    for (;;)
      ::pause();
  });
  ::close(fds[1]);
  REQUIRE(::read(fds[0], &addr, sizeof addr) == sizeof addr);
  ::close(fds[0]);
  return child;
}

// A library this test binary has loaded: a real file for LD_PRELOAD.
std::string some_loaded_library() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash != std::string::npos && line.find("libc.so") != std::string::npos)
      return line.substr(slash);
  }
  return {};
}

} // namespace

SCENARIO("memory.rwx_region: a process maps writable and executable anonymous memory") {
  GIVEN("a child that mapped 64 KiB RWX anonymous memory") {
    std::uintptr_t addr = 0;
    auto child = mapping_child(PROT_READ | PROT_WRITE | PROT_EXEC, addr);
    WHEN("the analyzer scans") {
      process_analyzer a(process_analyzer::default_options());
      test::test_context ctx("proc");
      a.scan(ctx);
      THEN("a high memory.rwx_region finding names the child and the region") {
        auto hits = about(ctx, "memory.rwx_region", child.pid());
        INFO(dump(ctx, child.pid()));
        REQUIRE(hits.size() == 1);
        CHECK(hits[0]->level == severity::high);
        CHECK(hits[0]->mitre == std::vector<std::string>{"T1055"});
        char start[32];
        std::snprintf(start, sizeof start, "%lx", static_cast<unsigned long>(addr));
        bool listed = false;
        for (const auto& r : hits[0]->evidence["regions"])
          listed = listed || r["start"] == start;
        CHECK(listed);
      }
    }
    WHEN("the child's name is on the JIT allow-list") {
      auto opts = process_analyzer::default_options();
      auto comm = actors::host::read_proc_stat(child.pid())->comm;
      opts.jit_allowlist = {comm};
      process_analyzer a(opts);
      test::test_context ctx("proc");
      a.scan(ctx);
      THEN("no finding, and the allow-listed region is counted") {
        CHECK(about(ctx, "memory.rwx_region", child.pid()).empty());
        CHECK(ctx.counters["rwx_allowlisted"] >= 1);
      }
    }
  }
  GIVEN("a child that mapped only read-write memory") {
    std::uintptr_t addr = 0;
    auto child = mapping_child(PROT_READ | PROT_WRITE, addr);
    process_analyzer a(process_analyzer::default_options());
    test::test_context ctx("proc");
    a.scan(ctx);
    THEN("it is no finding") {
      CHECK(about(ctx, "memory.rwx_region", child.pid()).empty());
    }
  }
}

SCENARIO("memory.memfd_exec: a copy of sleep executed from a memfd (fileless)") {
  GIVEN("a child that copied /bin/sleep into a memfd and fexecve'd it") {
    auto child = test::spawn([] {
      int fd = ::memfd_create("pg-fileless", 0);
      if (fd < 0 || !test::copy_executable("/bin/sleep", "/proc/self/fd/" + std::to_string(fd)))
        return 1;
      char arg0[] = "sleep";
      char arg1[] = "30";
      char* argv[] = {arg0, arg1, nullptr};
      ::fexecve(fd, argv, environ);
      return 2;
    });
    REQUIRE(test::eventually([&] { return test::exe_of(child.pid()).rfind("/memfd:", 0) == 0; }));
    WHEN("the analyzer scans") {
      process_analyzer a(process_analyzer::default_options());
      test::test_context ctx("proc");
      a.scan(ctx);
      THEN("a critical memory.memfd_exec finding names the memfd") {
        auto hits = about(ctx, "memory.memfd_exec", child.pid());
        INFO(dump(ctx, child.pid()));
        REQUIRE(hits.size() == 1);
        CHECK(hits[0]->level == severity::critical);
        CHECK(hits[0]->evidence["kind"] == "memfd");
        CHECK(hits[0]->entity["exe"].get<std::string>().find("pg-fileless") != std::string::npos);
        CHECK(hits[0]->mitre == std::vector<std::string>{"T1620"});
        AND_THEN("it is not also reported as a plain deleted executable") {
          CHECK(about(ctx, "memory.deleted_exe", child.pid()).empty());
        }
      }
    }
  }
}

SCENARIO("memory.deleted_exe and process.exe_in_temp: a binary copied to /tmp, run, deleted") {
  GIVEN("a copy of /bin/sleep in a fresh /tmp directory, started and then deleted") {
    test::temp_dir dir("/tmp");
    REQUIRE(!dir.path().empty());
    const std::string copy = dir.path() + "/updater";
    REQUIRE(test::copy_executable("/bin/sleep", copy));
    auto child = test::spawn([&] {
      ::execl(copy.c_str(), "updater", "30", static_cast<char*>(nullptr));
      return 1;
    });
    REQUIRE(test::eventually([&] { return test::exe_of(child.pid()) == copy; }));
    REQUIRE(::unlink(copy.c_str()) == 0);
    WHEN("the analyzer scans") {
      process_analyzer a(process_analyzer::default_options());
      test::test_context ctx("proc");
      a.scan(ctx);
      INFO(dump(ctx, child.pid()));
      THEN("memory.deleted_exe is high: nothing was put back at that path") {
        auto hits = about(ctx, "memory.deleted_exe", child.pid());
        REQUIRE(hits.size() == 1);
        CHECK(hits[0]->level == severity::high);
        CHECK(hits[0]->evidence["path"] == copy);
        CHECK(hits[0]->evidence["replaced_on_disk"] == false);
        CHECK(hits[0]->mitre == std::vector<std::string>{"T1070.004"});
      }
      THEN("process.exe_in_temp names /tmp") {
        auto hits = about(ctx, "process.exe_in_temp", child.pid());
        REQUIRE(hits.size() == 1);
        CHECK(hits[0]->level == severity::high);
        CHECK(hits[0]->evidence["temp_dir"] == "/tmp");
        CHECK(hits[0]->entity["comm"] == "updater");
      }
    }
  }
}

SCENARIO("process.exe_in_temp: an executable in a hidden directory") {
  GIVEN("a copy of sleep under a dot-directory of a temp dir outside /tmp") {
    test::temp_dir dir(test::non_temp_parent(PG_BINARY_DIR)); // outside the temp dirs
    REQUIRE(!dir.path().empty());
    REQUIRE(::mkdir((dir.path() + "/.cache").c_str(), 0755) == 0);
    const std::string copy = dir.path() + "/.cache/kworker";
    REQUIRE(test::copy_executable("/bin/sleep", copy));
    auto child = test::spawn([&] {
      ::execl(copy.c_str(), "kworker", "30", static_cast<char*>(nullptr));
      return 1;
    });
    REQUIRE(test::eventually([&] { return test::exe_of(child.pid()) == copy; }));
    process_analyzer a(process_analyzer::default_options());
    test::test_context ctx("proc");
    a.scan(ctx);
    THEN("a medium finding names the hidden directory") {
      auto hits = about(ctx, "process.exe_in_temp", child.pid());
      INFO(dump(ctx, child.pid()));
      REQUIRE(hits.size() == 1);
      CHECK(hits[0]->level == severity::medium);
      CHECK(hits[0]->evidence["hidden_dir"] == dir.path() + "/.cache");
    }
  }
}

SCENARIO("memory.preload_env: a process started with LD_PRELOAD") {
  GIVEN("sleep started with LD_PRELOAD naming a real library") {
    const std::string lib = some_loaded_library();
    REQUIRE(!lib.empty());
    auto child = test::spawn([&] {
      std::string var = "LD_PRELOAD=" + lib;
      char* envp[] = {var.data(), nullptr};
      ::execle("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr), envp);
      return 1;
    });
    REQUIRE(test::eventually(
        [&] { return test::exe_of(child.pid()).find("sleep") != std::string::npos; }));
    process_analyzer a(process_analyzer::default_options());
    test::test_context ctx("proc");
    a.scan(ctx);
    THEN("a high memory.preload_env finding carries the variable and the library") {
      auto hits = about(ctx, "memory.preload_env", child.pid());
      INFO(dump(ctx, child.pid()));
      REQUIRE(hits.size() == 1);
      CHECK(hits[0]->level == severity::high);
      CHECK(hits[0]->evidence["variable"] == "LD_PRELOAD");
      CHECK(hits[0]->evidence["value"] == lib);
      CHECK(hits[0]->mitre == std::vector<std::string>{"T1574.006"});
    }
  }
}

SCENARIO("memory.ptrace_attached: a process seized with ptrace") {
  GIVEN("a sleeping child that this test seizes with PTRACE_SEIZE") {
    auto child = test::spawn([]() -> int {
      for (;;)
        ::pause();
    });
    REQUIRE(::ptrace(PTRACE_SEIZE, child.pid(), nullptr, nullptr) == 0);
    process_analyzer a(process_analyzer::default_options());
    test::test_context ctx("proc");
    a.scan(ctx);
    THEN("the finding names the tracer: this test process") {
      auto hits = about(ctx, "memory.ptrace_attached", child.pid());
      INFO(dump(ctx, child.pid()));
      REQUIRE(hits.size() == 1);
      CHECK(hits[0]->level == severity::high);
      CHECK(hits[0]->evidence["tracer"]["pid"] == ::getpid());
      CHECK(hits[0]->evidence["tracer"]["exe"] == test::exe_of(::getpid()));
      std::string tracer_comm = hits[0]->evidence["tracer"]["comm"];
      CHECK(!tracer_comm.empty());
    }
  }
}

SCENARIO("the cache reads each process once and still sees an exec") {
  GIVEN("an analyzer that scanned once, and a child that then execs a copy in /tmp") {
    test::temp_dir dir("/tmp");
    const std::string copy = dir.path() + "/stage2";
    REQUIRE(test::copy_executable("/bin/sleep", copy));
    int go[2];
    REQUIRE(::pipe(go) == 0);
    auto child = test::spawn([&] {
      ::close(go[1]);
      char c;
      if (::read(go[0], &c, 1) != 1)
        return 1;
      ::execl(copy.c_str(), "stage2", "30", static_cast<char*>(nullptr));
      return 2;
    });
    ::close(go[0]);
    process_analyzer a(process_analyzer::default_options());
    test::test_context first("proc");
    a.scan(first);
    // Before its exec the child runs the test binary: not in a temp dir unless the checkout is.
    if (!test::in_temp_dir(test::exe_of(::getpid())))
      CHECK(about(first, "process.exe_in_temp", child.pid()).empty());
    else
      WARN("the test binary itself lives in a temp dir: the pre-exec check is not meaningful");
    WHEN("nothing changes") {
      test::test_context second("proc");
      a.scan(second);
      THEN("the second scan reads almost nothing beyond stat, and reports nothing again") {
        // Processes started between the scans (other tests, the build) are analyzed; the bulk
        // of the machine comes from the cache.
        CHECK(second.counters["cache_hits"] > 10 * second.counters["analyzed"]);
        // Nothing reported in the first scan is reported again.
        for (const auto& f : second.findings)
          for (const auto& g : first.findings)
            CHECK_FALSE(
                (f.rule == g.rule && f.entity == g.entity && f.rule != "process.unreadable"));
      }
    }
    WHEN("the child execs the /tmp copy (same pid, same start time)") {
      REQUIRE(::write(go[1], "x", 1) == 1);
      REQUIRE(test::eventually([&] { return test::exe_of(child.pid()) == copy; }));
      test::test_context second("proc");
      a.scan(second);
      THEN("the new image is analyzed and reported") {
        INFO(dump(second, child.pid()));
        CHECK(about(second, "process.exe_in_temp", child.pid()).size() == 1);
      }
    }
    ::close(go[1]);
  }
  GIVEN("a process_exec event for a process the analyzer knows") {
    test::temp_dir dir("/tmp");
    const std::string copy = dir.path() + "/stage3";
    REQUIRE(test::copy_executable("/bin/sleep", copy));
    auto child = test::spawn([&] {
      ::execl(copy.c_str(), "stage3", "30", static_cast<char*>(nullptr));
      return 2;
    });
    REQUIRE(test::eventually([&] { return test::exe_of(child.pid()) == copy; }));
    auto opts = process_analyzer::default_options();
    opts.self_scan = process_analyzer::self_scan_mode::never;
    process_analyzer a(opts);
    test::test_context ctx("proc");
    runtime::event e;
    e.kind = "process_exec";
    e.set("pid", std::int64_t{child.pid()});
    a.on_batch(*runtime::make_batch({e}), ctx);
    THEN("the event alone drives the analysis") {
      CHECK(about(ctx, "process.exe_in_temp", child.pid()).size() == 1);
      CHECK(a.cached() == 1);
    }
    AND_WHEN("the process exits without an exit event and two ticks pass") {
      child.kill();
      // The first tick closes the round in which the process was seen; the second verifies
      // the entries nobody mentioned since, and finds this one gone.
      a.on_tick(ctx);
      a.on_tick(ctx);
      THEN("it is evicted") {
        CHECK(a.cached() == 0);
      }
    }
  }
}

SCENARIO("an unprivileged analyzer reports what it could not read, once, and does not crash") {
  GIVEN("the analyzer running without CAP_SYS_PTRACE (as nobody when the test is root)") {
    auto child = test::spawn([] {
      if (test::is_root()) {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0)
          return 10;
      }
      process_analyzer a(process_analyzer::default_options());
      test::test_context ctx("proc");
      a.scan(ctx);
      auto info = ctx.with_rule("process.unreadable");
      if (info.size() != 1)
        return 11;
      const auto& ev = info[0]->evidence;
      if (info[0]->level != runtime::severity::info || ev["privilege"] != "CAP_SYS_PTRACE" ||
          ev["have_privilege"] != false || ev["processes"].get<std::size_t>() == 0)
        return 12;
      return 0;
    });
    THEN("exactly one info finding names CAP_SYS_PTRACE") {
      CHECK(child.wait() == 0);
    }
  }
}

SCENARIO("clean host: the machine's own processes raise no high or critical finding") {
  GIVEN("no test children alive, and the test's own lineage set aside") {
    process_analyzer a(process_analyzer::default_options());
    test::test_context ctx("proc");
    auto ours = test::set_aside_around(PG_SOURCE_DIR, [&] { a.scan(ctx); });
    // The machine's own normal processes are those running installed programs; a process run
    // from an anonymous memfd or a temp dir (a test harness, another test's technique) is
    // exactly what the analyzer must report, so it is not judged here.
    auto installed = [](const std::string& exe) {
      for (const char* d : {"/usr/", "/bin/", "/sbin/", "/lib", "/opt/"})
        if (exe.rfind(d, 0) == 0)
          return exe.find(" (deleted)") == std::string::npos;
      return false;
    };
    std::string bad;
    for (const auto& f : ctx.findings) {
      auto pid = f.entity.value("pid", -1);
      if (f.level >= severity::high && !ours.count(pid) && test::alive(pid) &&
          installed(f.entity.value("exe", std::string())))
        bad += f.to_jsonl() + "\n";
    }
    THEN("none is left") {
      INFO(bad);
      CHECK(bad.empty());
      CHECK(ctx.counters["analyzed"] > 0);
    }
  }
}

SCENARIO("a restarted analyzer does not repeat findings about processes it already reported") {
  GIVEN("an analyzer that reported a process running from /tmp, and its snapshot") {
    test::temp_dir dir("/tmp");
    const std::string copy = dir.path() + "/persist";
    REQUIRE(test::copy_executable("/bin/sleep", copy));
    auto child = test::spawn([&] {
      ::execl(copy.c_str(), "persist", "30", static_cast<char*>(nullptr));
      return 1;
    });
    REQUIRE(test::eventually([&] { return test::exe_of(child.pid()) == copy; }));
    process_analyzer before(process_analyzer::default_options());
    test::test_context c1("proc");
    before.scan(c1);
    REQUIRE(about(c1, "process.exe_in_temp", child.pid()).size() == 1);
    auto state = before.snapshot();
    WHEN("a fresh instance restores it and scans") {
      process_analyzer after(process_analyzer::default_options());
      after.restore(state);
      test::test_context c2("proc");
      after.scan(c2);
      THEN("the process is re-read but not reported again") {
        CHECK(about(c2, "process.exe_in_temp", child.pid()).empty());
        CHECK(c2.counters["analyzed"] >= 1);
      }
    }
    WHEN("the snapshot is garbage") {
      process_analyzer after(process_analyzer::default_options());
      after.restore("{not json");
      test::test_context c2("proc");
      after.scan(c2);
      THEN("it starts empty and reports again") {
        CHECK(about(c2, "process.exe_in_temp", child.pid()).size() == 1);
      }
    }
  }
}

SCENARIO("fed by the procfs source, the analyzer finds the technique without scanning itself") {
  GIVEN("a copy of sleep running from /tmp, and the procfs source's events for one tick") {
    test::temp_dir dir("/tmp");
    const std::string copy = dir.path() + "/dropper";
    REQUIRE(test::copy_executable("/bin/sleep", copy));
    auto child = test::spawn([&] {
      ::execl(copy.c_str(), "dropper", "30", static_cast<char*>(nullptr));
      return 1;
    });
    REQUIRE(test::eventually([&] { return test::exe_of(child.pid()) == copy; }));
    actors::process::procfs_source source({});
    test::test_context sctx("procfs");
    source.on_tick(sctx);
    auto batch = runtime::make_batch(std::move(sctx.events));
    WHEN("the analyzer (self_scan auto) receives the batch, then ticks") {
      process_analyzer a(process_analyzer::default_options());
      test::test_context ctx("proc");
      a.on_batch(*batch, ctx);
      auto analyzed = ctx.counters["analyzed"];
      a.on_tick(ctx);
      THEN("the finding comes from the events, and the tick does not scan /proc again") {
        CHECK(about(ctx, "process.exe_in_temp", child.pid()).size() == 1);
        CHECK(analyzed >= static_cast<std::int64_t>(batch->size()) / 2);
        CHECK(ctx.counters["analyzed"] == analyzed);
      }
      AND_WHEN("the same events arrive again") {
        test::test_context again("proc");
        a.on_batch(*batch, again);
        THEN("every process is a cache hit, without a single read") {
          CHECK(again.counters["analyzed"] == 0);
          CHECK(again.counters["cache_hits"] == static_cast<std::int64_t>(a.cached()));
          CHECK(again.findings.empty());
        }
      }
    }
  }
}
