// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "phantomguard/actors/rootkit/module_views.hpp"
#include "phantomguard/actors/rootkit/register.hpp"
#include "phantomguard/actors/rootkit/taint_flags.hpp"
#include "rootkit_fixture.hpp"
#include "skip.hpp"

using namespace pg::actors::rootkit;
using pg::runtime::severity;
using pg::test::temp_dir;

SCENARIO("taint values decode into the kernel's letters and meanings") {
  CHECK(decode_taint(0).empty());
  CHECK(taint_letters(decode_taint(1)) == "P");
  CHECK(taint_letters(decode_taint(4096)) == "O");
  CHECK(taint_letters(decode_taint(12288)) == "OE");
  CHECK(taint_letters(decode_taint(512)) == "W");
  auto flags = decode_taint((1u << 13) | (1u << 9));
  REQUIRE(flags.size() == 2);
  CHECK(flags[0].level == severity::info);   // W: a warning
  CHECK(flags[1].level == severity::medium); // E: unsigned module
  CHECK(flags[1].meaning.find("unsigned") != std::string_view::npos);
  CHECK(decode_taint(1ull << 40)[0].letter == '?');
  CHECK(parse_taint("12288\n") == 12288u);
  CHECK_FALSE(parse_taint("x"));
}

SCENARIO("a tainted kernel is a finding whose severity follows its worst flag") {
  temp_dir d;
  auto run = [&](const std::string& value) {
    pg::test::write_file(d / "tainted", value + "\n");
    return pg::test::run_rootkit(
        {{"checks", pg::test::list_of({"kernel_tainted"})}, {"tainted", d / "tainted"}});
  };
  auto oe = run("12289"); // P + O + E
  auto f = oe.with_rule("rootkit.kernel_tainted");
  REQUIRE(f.size() == 1);
  CHECK(f[0]->evidence["letters"] == "POE");
  CHECK(f[0]->level == severity::medium);
  CHECK(f[0]->evidence["flags"].size() == 3);
  auto w = run("512");
  REQUIRE(w.with_rule("rootkit.kernel_tainted").size() == 1);
  CHECK(w.with_rule("rootkit.kernel_tainted")[0]->level == severity::info);
  CHECK(run("0").with_rule("rootkit.kernel_tainted").empty());
  CHECK(run("garbage").with_rule("rootkit.check_incomplete").size() == 1);
}

SCENARIO("module lists are compared in both directions") {
  temp_dir d;
  for (const char* m : {"good", "evil"})
    pg::test::write_file(d / (std::string("module/") + m + "/initstate"), "live\n");
  std::filesystem::create_directories(d / "module/builtin_param/parameters"); // built-in
  pg::test::write_file(d / "modules", "good 16384 0 - Live 0x0\nghost 16384 0 - Live 0x0\n");
  auto ctx = pg::test::run_rootkit({{"checks", pg::test::list_of({"hidden_module"})},
                                    {"sys_module_dir", d / "module"},
                                    {"proc_modules", d / "modules"}});
  std::map<std::string, severity> by_module;
  for (const auto* f : ctx.with_rule("rootkit.hidden_module"))
    by_module[f->entity["module"].get<std::string>()] = f->level;
  CHECK(by_module.size() == 2);
  CHECK(by_module["evil"] == severity::high);    // in sysfs, unlinked from /proc/modules
  CHECK(by_module["ghost"] == severity::medium); // listed, no kobject
  CHECK(parse_proc_modules("a 1 0 - Live 0x0\nb 2 1 a, Live 0x0\n") ==
        std::set<std::string>{"a", "b"});
}

SCENARIO("this clean host has no hidden process, module or port and the default list is clean") {
  auto ctx = pg::test::run_rootkit({});
  for (const auto& f : ctx.findings)
    UNSCOPED_INFO(f.rule << " " << pg::runtime::to_string(f.level) << " " << f.title);
  for (const char* rule : {"rootkit.hidden_process", "rootkit.hidden_module", "rootkit.hidden_port",
                           "rootkit.known_file", "rootkit.hidden_file", "rootkit.ld_so_preload"})
    for (const auto* f : ctx.with_rule(rule))
      CHECK(f->level < severity::high);
  CHECK(ctx.counters["checks_run"] == 7);
  CHECK(ctx.gauges.count("pid_walk_ms"));
  CHECK(ctx.gauges["known_paths"] > 100); // the shipped list was found beside the build tree
}

SCENARIO("without privilege the analyzer says what it could not check, naming the capability") {
  if (!pg::test::is_root()) {
    PG_SKIP("not root: cannot drop privileges for this test");
  }
  // Drop to nobody in a child (privileges cannot be regained in this process) and report back.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0)
      ::_exit(3);
    auto ctx = pg::test::run_rootkit({{"checks", pg::test::list_of({"hidden_port"})},
                                      {"port_range", "1-1023"},
                                      {"port_ipv6", false}});
    std::string out;
    for (const auto* f : ctx.with_rule("rootkit.privilege_limited"))
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
  CHECK(got.find("CAP_NET_BIND_SERVICE") != std::string::npos);
}

SCENARIO("the rootkit type is registered with its options") {
  pg::runtime::registry reg;
  register_components(reg);
  const auto* t = reg.find(pg::runtime::component_kind::analyzer, "rootkit");
  REQUIRE(t);
  CHECK(t->options.size() >= 10);
  auto c = t->factory({"rk", pg::runtime::component_settings{}, "/tmp"});
  CHECK(c != nullptr);
  toml::table bad{{"port_range", "9-1"}};
  CHECK_THROWS_WITH(t->factory({"rk", pg::runtime::component_settings{bad}, "/tmp"}),
                    Catch::Contains("port_range"));
}
