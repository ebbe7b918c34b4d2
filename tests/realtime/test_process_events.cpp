#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "phantomguard/actors/realtime/process_events_source.hpp"
#include "phantomguard/actors/realtime/register.hpp"
#include "realtime_fixture.hpp"

using namespace pg::actors::realtime;
using namespace std::chrono_literals;

namespace {

process_events_settings settings_for(const std::string& mode) {
  toml::table t{{"mode", mode}, {"poll_interval", "20ms"}};
  return process_events_settings::from(pg::runtime::component_settings(t));
}

pid_t run_child(const char* seconds) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", seconds, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

const pg::runtime::event* event_for(const pg::test::test_context& ctx, const char* kind,
                                    pid_t pid) {
  for (const auto* e : ctx.of_kind(kind))
    if (e->get_int("pid") == pid)
      return e;
  return nullptr;
}

void check_lifecycle(const std::string& mode) {
  process_events_source src(settings_for(mode));
  pg::test::test_context ctx("procs");
  src.start(ctx);
  REQUIRE(src.active_mode() == mode);
  pid_t child = run_child("0.3");
  REQUIRE(child > 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  pg::test::tick_until(
      src, ctx,
      [&] {
        return event_for(ctx, "process_exec", child) && event_for(ctx, "process_exit", child);
      },
      2000ms);
  src.stop(ctx);

  const auto* exec = event_for(ctx, "process_exec", child);
  REQUIRE(exec);
  CHECK(exec->get_int("ppid") == ::getpid());
  CHECK(exec->get_string("comm") == "sleep");
  CHECK(exec->get_string("exe").find("sleep") != std::string_view::npos);
  CHECK(exec->get_string("cmdline") == "sleep 0.3");
  CHECK(exec->get_int("uid", -1) == static_cast<std::int64_t>(::getuid()));
  CHECK(exec->get_string("via") == mode);
  const auto* exit = event_for(ctx, "process_exit", child);
  REQUIRE(exit);
  CHECK(exit->get_string("comm") == "sleep");
  if (mode == "netlink")
    CHECK(exit->get_int("exit_status", -1) == 0);
  CHECK(ctx.counters["process_exec"] >= 1);
}

} // namespace

SCENARIO("a child's exec and exit arrive through the netlink process connector") {
  if (!pg::test::is_root()) {
    WARN("not root: the netlink process connector needs CAP_NET_ADMIN; skipped");
    return;
  }
  check_lifecycle("netlink");
}

SCENARIO("a child's exec and exit arrive through /proc polling") {
  check_lifecycle("poll");
}

SCENARIO("a short-lived process is seen by netlink even if it lives a millisecond") {
  if (!pg::test::is_root()) {
    WARN("not root: skipped");
    return;
  }
  process_events_source src(settings_for("netlink"));
  pg::test::test_context ctx("procs");
  src.start(ctx);
  pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/true", "true", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::waitpid(child, nullptr, 0);
  pg::test::tick_until(
      src, ctx, [&] { return event_for(ctx, "process_exit", child) != nullptr; }, 2000ms);
  src.stop(ctx);
  CHECK(event_for(ctx, "process_exec", child));
  CHECK(event_for(ctx, "process_exit", child));
}

SCENARIO("without CAP_NET_ADMIN, auto mode polls and says so, naming the capability") {
  if (!pg::test::is_root()) {
    WARN("not root: cannot drop privileges for this test");
    return;
  }
  // Drop to nobody in a child (privileges cannot be regained in this process) and report back.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0)
      ::_exit(3);
    process_events_source src(settings_for("auto"));
    pg::test::test_context ctx("procs");
    src.start(ctx);
    src.on_tick(ctx);
    src.stop(ctx);
    std::string out = src.active_mode() + "\n";
    for (const auto* f : ctx.with_rule("realtime.privilege_limited"))
      out += f->evidence["missing_capabilities"].dump() + "\n";
    [[maybe_unused]] auto n = ::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
    got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(got.rfind("poll\n", 0) == 0);
  CHECK(got.find("CAP_NET_ADMIN") != std::string::npos);
}

SCENARIO("the realtime types are registered and a bad mode is refused") {
  pg::runtime::registry reg;
  register_components(reg);
  using pg::runtime::component_kind;
  const auto* src = reg.find(component_kind::source, "process_events");
  REQUIRE(src);
  CHECK(src->produces == std::vector<std::string>{"process_exec", "process_exit"});
  CHECK(reg.find(component_kind::analyzer, "file_watch"));
  CHECK(reg.find(component_kind::analyzer, "host_health"));
  toml::table bad{{"mode", "ebpf"}};
  CHECK_THROWS_WITH(src->factory({"p", pg::runtime::component_settings(bad), "/tmp"}),
                    Catch::Contains("mode"));
}
