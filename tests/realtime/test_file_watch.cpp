// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phantomguard/actors/realtime/file_watch_analyzer.hpp"
#include "realtime_fixture.hpp"
#include "skip.hpp"

using namespace pg::actors::realtime;
using namespace std::chrono_literals;
using pg::runtime::severity;
using pg::test::temp_dir;

namespace {

file_watch_settings watch_settings(std::initializer_list<std::string> persistence,
                                   std::initializer_list<std::string> credential) {
  toml::table t{{"persistence_paths", pg::test::list_of(persistence)},
                {"credential_paths", pg::test::list_of(credential)}};
  return file_watch_settings::from(pg::runtime::component_settings(t));
}

const pg::runtime::finding* finding_for(const pg::test::test_context& ctx, const std::string& rule,
                                        const std::string& path) {
  for (const auto* f : ctx.with_rule(rule))
    if (f->entity["path"] == path)
      return f;
  return nullptr;
}

} // namespace

SCENARIO("touching a watched cron file is a persistence change within a second") {
  temp_dir d;
  pg::test::write_file(d / "crontab", "# m h dom mon dow user command\n");
  std::filesystem::create_directories(d / "cron.d");
  GIVEN("a file_watch on a crontab and a cron.d folder in a temporary directory") {
    file_watch_analyzer fw(watch_settings({d / "crontab", d / "cron.d"}, {}));
    pg::test::test_context ctx("watch");
    fw.start(ctx);
    CHECK(fw.watch_count() >= 2);
    WHEN("a job is dropped into cron.d and the crontab is touched") {
      pg::test::write_file(d / "cron.d/backdoor", "* * * * * root /tmp/x\n");
      REQUIRE(std::system(("touch " + d / "crontab").c_str()) == 0);
      auto took = pg::test::tick_until(
          fw, ctx,
          [&] {
            return finding_for(ctx, "realtime.persistence_change", d / "cron.d/backdoor") &&
                   finding_for(ctx, "realtime.persistence_change", d / "crontab");
          },
          1000ms);
      fw.stop(ctx);
      THEN("both are realtime.persistence_change findings naming file and change") {
        CHECK(took <= 1000ms);
        const auto* job = finding_for(ctx, "realtime.persistence_change", d / "cron.d/backdoor");
        REQUIRE(job);
        CHECK(job->evidence["change"] == "created");
        CHECK(job->level == severity::medium);
        CHECK(job->mitre == std::vector<std::string>{"T1053.003"});
        const auto* tab = finding_for(ctx, "realtime.persistence_change", d / "crontab");
        REQUIRE(tab);
        CHECK(tab->evidence["change"] == "written"); // touch: opened for writing, closed
        CHECK(ctx.of_kind("file_change").size() >= 2);
      }
    }
  }
}

SCENARIO("modifying a watched passwd file is a credential change, with the writer named") {
  temp_dir d;
  pg::test::write_file(d / "passwd", "root:x:0:0:root:/root:/bin/bash\n");
  pg::test::write_file(d / "unrelated", "x\n");
  file_watch_analyzer fw(watch_settings({}, {d / "passwd"}));
  pg::test::test_context ctx("watch");
  fw.start(ctx);
  WHEN("a child process appends an account and keeps the file open for a moment") {
    pid_t child = ::fork();
    if (child == 0) {
      int fd = ::open((d / "passwd").c_str(), O_WRONLY | O_APPEND);
      const char line[] = "toor:x:0:0::/root:/bin/sh\n";
      [[maybe_unused]] auto n = ::write(fd, line, sizeof line - 1);
      ::usleep(800 * 1000);
      ::_exit(0);
    }
    pg::test::append_file(d / "unrelated", "y\n"); // same folder, not watched
    pg::test::tick_until(
        fw, ctx, [&] { return finding_for(ctx, "realtime.credential_change", d / "passwd"); },
        1000ms);
    ::waitpid(child, nullptr, 0);
    fw.stop(ctx);
    THEN("a high realtime.credential_change names the file, the change and the process") {
      const auto* f = finding_for(ctx, "realtime.credential_change", d / "passwd");
      REQUIRE(f);
      CHECK(f->level == severity::high);
      CHECK(f->evidence["change"] == "modified");
      CHECK(f->entity["pid"] == child);
      CHECK(f->mitre[0] == "T1136.001");
      CHECK_FALSE(finding_for(ctx, "realtime.credential_change", d / "unrelated"));
      CHECK_FALSE(finding_for(ctx, "realtime.persistence_change", d / "unrelated"));
    }
  }
}

SCENARIO("a writer that closed the file at once is still named, through fanotify") {
  if (!pg::test::is_root()) {
    PG_SKIP("not root: fanotify needs CAP_SYS_ADMIN; skipped");
  }
  temp_dir d;
  pg::test::write_file(d / "sudoers", "root ALL=(ALL:ALL) ALL\n");
  toml::table t{{"persistence_paths", toml::array{}},
                {"credential_paths", pg::test::list_of({d / "sudoers"})},
                {"scan_fds", false}};
  file_watch_analyzer fw(file_watch_settings::from(pg::runtime::component_settings(t)));
  pg::test::test_context ctx("watch");
  fw.start(ctx);
  REQUIRE(fw.fanotify_active());
  pid_t child = ::fork();
  if (child == 0) {
    int fd = ::open((d / "sudoers").c_str(), O_WRONLY | O_APPEND);
    const char line[] = "evil ALL=(ALL) NOPASSWD: ALL\n";
    [[maybe_unused]] auto n = ::write(fd, line, sizeof line - 1);
    ::close(fd); // closed before anyone could scan /proc/PID/fd
    ::usleep(300 * 1000);
    ::_exit(0);
  }
  pg::test::tick_until(
      fw, ctx, [&] { return finding_for(ctx, "realtime.credential_change", d / "sudoers"); },
      1000ms);
  ::waitpid(child, nullptr, 0);
  fw.stop(ctx);
  const auto* f = finding_for(ctx, "realtime.credential_change", d / "sudoers");
  REQUIRE(f);
  CHECK(f->entity["pid"] == child);
  CHECK(f->evidence["attribution"] == "fanotify: the writing process");
  CHECK(f->mitre[0] == "T1548.003");
}

SCENARIO("a watched path that does not exist yet is reported when it is created") {
  temp_dir d;
  auto keys = d / "home/.ssh/authorized_keys";
  file_watch_analyzer fw(watch_settings({}, {keys}));
  pg::test::test_context ctx("watch");
  fw.start(ctx);
  WHEN("the folders and the key file are created") {
    std::filesystem::create_directories(d / "home/.ssh");
    std::this_thread::sleep_for(50ms); // let the watch move down to .ssh
    pg::test::write_file(keys, "ssh-ed25519 AAAA attacker\n");
    // Detection is what is asserted, not its latency: a loaded machine (CI runs two tests at
    // once) may take longer than a second to schedule the watch thread.
    pg::test::tick_until(
        fw, ctx, [&] { return finding_for(ctx, "realtime.credential_change", keys); }, 5000ms);
    fw.stop(ctx);
    THEN("authorized_keys is a credential change") {
      const auto* f = finding_for(ctx, "realtime.credential_change", keys);
      REQUIRE(f);
      CHECK(f->evidence["change"] == "created");
      CHECK(f->mitre[0] == "T1098.004");
    }
  }
}

SCENARIO("a recent exec whose command line names the file is given as the candidate") {
  temp_dir d;
  std::filesystem::create_directories(d / "profile.d");
  toml::table t{{"persistence_paths", pg::test::list_of({d / "profile.d"})},
                {"credential_paths", toml::array{}},
                {"scan_fds", false}};
  file_watch_analyzer fw(file_watch_settings::from(pg::runtime::component_settings(t)));
  pg::test::test_context ctx("watch");
  fw.start(ctx);
  pg::runtime::event exec;
  exec.kind = "process_exec";
  exec.time = pg::runtime::wall_clock::now();
  exec.set("pid", std::int64_t{4242}).set("comm", std::string("cp"));
  exec.set("cmdline", "cp /tmp/evil.sh " + d / "profile.d/evil.sh");
  fw.on_batch(*pg::runtime::make_batch({exec}), ctx);
  pg::test::write_file(d / "profile.d/evil.sh", "curl x | sh\n");
  pg::test::tick_until(
      fw, ctx,
      [&] { return finding_for(ctx, "realtime.persistence_change", d / "profile.d/evil.sh"); },
      1000ms);
  fw.stop(ctx);
  const auto* f = finding_for(ctx, "realtime.persistence_change", d / "profile.d/evil.sh");
  REQUIRE(f);
  CHECK(f->entity["pid"] == 4242);
  CHECK(f->evidence["exec_candidates"].size() == 1);
  CHECK(f->mitre[0] == "T1546.004");
}

SCENARIO("home directory paths expand for every account with a home") {
  temp_dir d;
  std::filesystem::create_directories(d / "alice");
  auto passwd = "alice:x:1000:1000::" + d / "alice" + ":/bin/bash\nnobody:x:65534:65534::" +
                "/nonexistent:/usr/sbin/nologin\nsys:x:3:3:sys:/dev:/usr/sbin/nologin\n";
  auto out = expand_watch_path("~/.bashrc", passwd);
  CHECK(std::find(out.begin(), out.end(), d / "alice/.bashrc") != out.end());
  CHECK(std::find(out.begin(), out.end(), "/root/.bashrc") != out.end());
  CHECK(out.size() == 2);
  std::filesystem::create_directories(d / "cron.daily");
  std::filesystem::create_directories(d / "cron.hourly");
  CHECK(expand_watch_path(d / "cron.*", "").size() == 2);
}
