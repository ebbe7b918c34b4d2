// SPDX-License-Identifier: Apache-2.0
// Hiding a process from user space, performed for real and judged by everyone: ps, `unhide
// proc`, `unhide sys`, `unhide brute` and the installed engine (the phantomguard binary, started
// after the technique is in place, so a hook reaches it as it would reach any program). Each
// technique runs in a mount namespace of a child of the test, so the host's own /proc and /etc
// stay as they are:
//   - a mount over /proc/PID (an empty directory bind-mounted on it);
//   - a readdir hook in every program, through /etc/ld.so.preload (a libprocesshider-style
//     library compiled here), /etc being an overlay whose upper layer is the test's.
// Ours must find every process any unhide mode finds; the verdicts are printed for
// docs/analyzers/rootkit.md.
#include <catch2/catch.hpp>

#include <csignal>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/rootkit/pid_cross_view.hpp"
#include "rootkit_fixture.hpp"
#include "skip.hpp"

namespace {

bool sh(const std::string& cmd) {
  return std::system(cmd.c_str()) == 0;
}

// What each judge said about `pid`, from inside the namespace where the technique is in place.
std::map<std::string, std::string> judge(pid_t pid, const std::string& work) {
  std::map<std::string, std::string> v;
  const auto p = std::to_string(pid);
  v["ps -e"] = sh("ps -e -o pid= | grep -qx ' *" + p + "'") ? "sees it" : "hidden";
  for (const char* mode : {"proc", "sys", "brute"}) {
    const auto out = work + "/unhide-" + mode + ".txt";
    int rc =
        std::system(("timeout 300 unhide " + std::string(mode) + " > " + out + " 2>&1").c_str());
    bool found = sh("grep -q 'Found HIDDEN PID: " + p + "\\b' " + out);
    bool crashed = !WIFEXITED(rc) || WEXITSTATUS(rc) > 1;
    v[std::string("unhide ") + mode] = found ? "finds it"
                                       : crashed
                                           ? "aborts (exit " + std::to_string(WEXITSTATUS(rc)) + ")"
                                           : "misses it";
  }
  // The engine, started now: a hook in every program reaches it too.
  const auto cfg = work + "/rootkit.toml";
  std::ofstream(cfg) << "[engine]\nstate_dir = \"" << work << "/state\"\n"
                     << "[analyzers.rootkit]\ntype = \"rootkit\"\n"
                     << "checks = [\"hidden_process\", \"ld_so_preload\"]\n"
                     << "[sinks.out]\ntype = \"jsonl\"\ninputs = [\"rootkit\"]\npath = \"" << work
                     << "/findings.jsonl\"\n";
  const int scan = std::system((PG_BINARY_DIR "/bin/phantomguard scan -q --config " + cfg +
                                " --format jsonl > " + work + "/ours.jsonl 2>" + work + "/ours.err")
                                   .c_str());
  CHECK((WIFEXITED(scan) && WEXITSTATUS(scan) <= 1)); // 1: a finding, which is the point
  std::ifstream in(work + "/ours.jsonl");
  std::string verdict = "misses it", technique, preload;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object())
      continue;
    if (j["rule"] == "rootkit.hidden_process" && j["entity"].value("pid", -1) == pid) {
      verdict = "finds it (" + j["severity"].get<std::string>() + ")";
      technique = j["evidence"].value("technique", "");
    }
    if (j["rule"] == "rootkit.ld_so_preload")
      preload = j["severity"].get<std::string>();
  }
  v["phantomguard"] = verdict;
  v["phantomguard technique"] = technique;
  v["phantomguard ld_so_preload"] = preload.empty() ? "none" : preload;
  // An engine already running when the technique was put in place (this process was forked
  // before): a hook in programs does not reach it, its program view does.
  auto ctx = pg::test::run_rootkit({{"checks", pg::test::list_of({"hidden_process"})}});
  std::string running = "misses it";
  for (const auto* f : ctx.with_rule("rootkit.hidden_process"))
    if (f->entity["pid"] == pid)
      running = "finds it (" + f->evidence.value("technique", std::string("cross view")) + ")";
  v["phantomguard, running before"] = running;
  return v;
}

// Runs `setup` then the judges in a forked child in its own mount namespace; the verdicts come
// back through a file.
std::map<std::string, std::string> in_namespace(const std::function<bool()>& setup, pid_t pid,
                                                const pg::test::temp_dir& work) {
  const auto result = work / "verdicts.json";
  pid_t child = ::fork();
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      ::_exit(10);
    if (!setup())
      ::_exit(11);
    nlohmann::json j = judge(pid, work.path());
    std::ofstream(result) << j.dump();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::ifstream in(result);
  return nlohmann::json::parse(in).get<std::map<std::string, std::string>>();
}

std::string table(const std::map<std::string, std::string>& v) {
  std::ostringstream out;
  for (const auto& [who, said] : v)
    out << "  " << who << ": " << said << "\n";
  return out.str();
}

void require_tools() {
  if (!pg::test::is_root())
    PG_SKIP("not root: the techniques need mount namespaces (CAP_SYS_ADMIN)");
  if (!sh("command -v unhide >/dev/null 2>&1"))
    PG_SKIP("unhide is not installed (scripts/install-deps installs it)");
  if (!sh("command -v cc >/dev/null 2>&1"))
    PG_SKIP("no C compiler to build the readdir hook");
}

bool any_unhide_finds(const std::map<std::string, std::string>& v) {
  for (const char* m : {"unhide proc", "unhide sys", "unhide brute"})
    if (v.at(m) == "finds it")
      return true;
  return false;
}

} // namespace

SCENARIO("a mount over /proc/PID: ps is fooled, unhide and the engine are not") {
  require_tools();
  pg::test::temp_dir work;
  pg::test::sleeping_child victim(120);
  const auto empty = work / "empty";
  std::filesystem::create_directories(empty);
  auto v = in_namespace(
      [&] {
        auto target = "/proc/" + std::to_string(victim.pid);
        return ::mount(empty.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0;
      },
      victim.pid, work);
  INFO(table(v));
  std::cout << "mount over /proc/PID:\n" << table(v);
  CHECK(v.at("ps -e") == "hidden");
  CHECK(v.at("unhide proc") == "finds it");
  CHECK(v.at("phantomguard") == "finds it (critical)");
  CHECK(v.at("phantomguard technique") == "mount over /proc/PID");
  CHECK(v.at("phantomguard, running before") == "finds it (mount over /proc/PID)");
  CHECK(any_unhide_finds(v));
}

SCENARIO("a readdir hook in /etc/ld.so.preload: ps is fooled, the engine finds the process and "
         "the hook") {
  require_tools();
  pg::test::temp_dir work;
  pg::test::sleeping_child victim(120);
  // libprocesshider's idea, written here: readdir and readdir64 skip the victim's /proc entry.
  const auto src = work / "hider.c";
  pg::test::write_file(src, R"(#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <string.h>
#define HOOK(name, type)                                                       \
  type *name(DIR *d) {                                                         \
    static type *(*real)(DIR *);                                               \
    if (!real) real = (type * (*)(DIR *)) dlsym(RTLD_NEXT, #name);             \
    type *e;                                                                   \
    while ((e = real(d)) && strcmp(e->d_name, HIDE) == 0) {}                   \
    return e;                                                                  \
  }
HOOK(readdir, struct dirent)
HOOK(readdir64, struct dirent64)
)");
  const auto lib = work / "libnss_cache.so";
  REQUIRE(sh("cc -shared -fPIC -O2 -DHIDE='\"" + std::to_string(victim.pid) + "\"' -o " + lib +
             " " + src + " -ldl"));
  const auto upper = work / "upper";
  const auto workdir = work / "ovl-work";
  std::filesystem::create_directories(upper);
  std::filesystem::create_directories(workdir);
  auto v = in_namespace(
      [&] {
        // /etc as an overlay: /etc/ld.so.preload exists in this namespace only.
        auto opts = "lowerdir=/etc,upperdir=" + upper + ",workdir=" + workdir;
        if (::mount("overlay", "/etc", "overlay", 0, opts.c_str()) != 0)
          return false;
        std::ofstream("/etc/ld.so.preload") << lib << "\n";
        return true;
      },
      victim.pid, work);
  INFO(table(v));
  std::cout << "readdir hook through /etc/ld.so.preload:\n" << table(v);
  CHECK(v.at("ps -e") == "hidden");
  CHECK(v.at("phantomguard") == "finds it (critical)");
  CHECK(v.at("phantomguard technique") == "readdir hook");
  CHECK(v.at("phantomguard ld_so_preload") != "none");
  CHECK(v.at("phantomguard, running before") == "finds it (readdir hook)");
  CHECK(any_unhide_finds(v));
  // The host's own /etc never saw the file.
  std::ifstream host_preload("/etc/ld.so.preload");
  std::string host_text((std::istreambuf_iterator<char>(host_preload)),
                        std::istreambuf_iterator<char>());
  CHECK(host_text.find(lib) == std::string::npos);
}

SCENARIO("a program view that cannot be taken is said, and a clean host shows no gap") {
  GIVEN("a lister that does not exist, and one that fails") {
    for (const char* lister : {"/nonexistent/ls", "/bin/false"}) {
      auto ctx = pg::test::run_rootkit(
          {{"checks", pg::test::list_of({"hidden_process"})}, {"program_view", lister}});
      auto incomplete = ctx.with_rule("rootkit.check_incomplete");
      REQUIRE(incomplete.size() == 1);
      CHECK(incomplete[0]->evidence["reason"].get<std::string>().find(lister) != std::string::npos);
    }
  }
  GIVEN("this host, with no hook in place") {
    auto gaps = pg::actors::rootkit::find_listing_gaps("/proc", "/bin/ls");
    CHECK(gaps.program_ran);
    CHECK(gaps.gaps.empty());
  }
}
