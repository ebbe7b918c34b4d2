// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "phantomguard/actors/host/raw_directory.hpp"
#include "phantomguard/actors/rootkit/pid_cross_view.hpp"
#include "rootkit_fixture.hpp"
#include "skip.hpp"

using namespace pg::actors::rootkit;
using pg::test::sleeping_child;
using pg::test::temp_dir;

SCENARIO("the whole PID space agrees with the /proc listing on this clean host") {
  GIVEN("a thread of ours, whose TID answers kill() and /proc/TID but is never listed") {
    std::atomic<bool> done{false};
    std::atomic<pid_t> tid{0};
    std::thread t([&] {
      tid = ::gettid();
      while (!done)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    });
    while (tid == 0)
      std::this_thread::yield();

    WHEN("the PID space is walked up to pid_max") {
      auto res = scan_pid_space();
      done = true;
      t.join();
      THEN("no process is hidden, the thread is recognised as a thread, and it is fast") {
        for (const auto& a : res.anomalies)
          UNSCOPED_INFO("anomaly pid "
                        << a.pid << " comm " << a.comm << " kind "
                        << (a.what == pid_anomaly::kind::hidden ? "hidden" : "ghost"));
        CHECK(res.anomalies.empty());
        CHECK(res.pid_max == read_pid_max());
        CHECK(res.threads >= 1);
        CHECK(res.listed > 1);
        // Not answering >= listed: on a busy host (another test's fork storm) processes end
        // between the listing and the probe; what must hold is that none looks hidden.
        CHECK(res.answering > 1);
        for (const auto& a : res.anomalies)
          CHECK(a.pid != tid.load());
        double walk_ms = std::chrono::duration<double, std::milli>(res.elapsed).count();
        WARN("walked " << res.pid_max << " pids in " << walk_ms << " ms");
        // Budget: well under a second; generous here because the test machine is shared.
        CHECK(res.elapsed < std::chrono::seconds(3));
      }
    }
  }
}

SCENARIO("a process missing from the /proc listing is reported, a dead listed PID too") {
  GIVEN("a running child and a copy of the /proc listing without it plus a dead PID") {
    sleeping_child child;
    REQUIRE(child.pid > 0);
    temp_dir view;
    REQUIRE(!view.path().empty());
    // This is what a getdents-hooking rootkit makes /proc look like: every PID but its own.
    for (int pid : pg::actors::host::list_pids_raw())
      if (pid != child.pid)
        std::filesystem::create_directory(view / std::to_string(pid));
    int dead = 0;
    for (int pid = read_pid_max() - 1; pid > 1; --pid)
      if (probe_pid(pid) == 0) {
        dead = pid;
        break;
      }
    REQUIRE(dead > 0);
    std::filesystem::create_directory(view / std::to_string(dead));

    WHEN("the analyzer compares that listing with the system calls") {
      toml::table t{{"checks", pg::test::list_of({"hidden_process"})}, {"proc_view", view.path()}};
      auto ctx = pg::test::run_rootkit(t);
      THEN("the child is a hidden process and the dead PID a ghost") {
        bool child_found = false;
        bool ghost_found = false;
        for (const auto* f : ctx.with_rule("rootkit.hidden_process")) {
          if (f->entity["pid"] == child.pid) {
            child_found = true;
            CHECK(f->level == pg::runtime::severity::high);
            CHECK(f->evidence["in_proc_listing"] == false);
            CHECK(f->entity["comm"] == "sleep");
            auto answered = f->evidence["answered"].dump();
            CHECK(answered.find("kill") != std::string::npos);
            CHECK(answered.find("getsid") != std::string::npos);
            CHECK(f->mitre == std::vector<std::string>{"T1014", "T1564"});
          }
          if (f->entity["pid"] == dead) {
            ghost_found = true;
            CHECK(f->level == pg::runtime::severity::medium);
            CHECK(f->evidence["in_proc_listing"] == true);
          }
        }
        CHECK(child_found);
        CHECK(ghost_found);
      }
    }
  }
}

SCENARIO("every probe answers for a live process and none for a free PID") {
  auto self = probe_pid(::getpid());
  CHECK(self == (probe_kill | probe_getpgid | probe_getsid | probe_sched | probe_proc_stat));
  CHECK(probe_names(self).size() == 5);
  sleeping_child child;
  pid_t gone = child.pid;
  REQUIRE(probe_pid(gone) != 0);
  ::kill(gone, SIGKILL);
  ::waitpid(gone, nullptr, 0);
  child.pid = -1;
  CHECK(probe_pid(gone) == 0);
}

SCENARIO("mounts over /proc/PID are read from mountinfo, and nothing else is") {
  // Found by fuzz_mountinfo: /proc/0 (and a PID written with a leading zero) is not a process.
  CHECK(find_proc_masks("44 22 254:0 /x /proc/0 rw - ext4 /dev/vda rw\n"
                        "45 22 254:0 /x /proc/007 rw - ext4 /dev/vda rw\n")
            .empty());
  auto masks = find_proc_masks(
      "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "44 22 254:0 /tmp/pg-empty /proc/18463 rw,relatime - ext4 /dev/vda rw\n"
      "45 22 0:5 /1 /proc/4242/fd rw - proc proc rw\n"
      "46 22 0:40 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw\n"
      "garbage\n");
  REQUIRE(masks.size() == 2);
  CHECK(masks[0].pid == 18463);
  CHECK(masks[0].root == "/tmp/pg-empty");
  CHECK(masks[0].fs_type == "ext4");
  CHECK(masks[0].source == "/dev/vda");
  CHECK(masks[1].pid == 4242);
  CHECK(masks[1].mount_point == "/proc/4242/fd");
}
