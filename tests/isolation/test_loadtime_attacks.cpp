// SPDX-License-Identifier: Apache-2.0
// Attacks a plugin makes before any hook runs: from its ELF constructor (inside dlopen) and from
// its entry point. Isolated, each attempt happens inside the complete sandbox and fails, checked
// from outside (no file, no connection, no secret), and the engine names the forbidden syscall;
// in-process with engine.plugin_signature = "required", an unsigned copy never gets to dlopen.
#include <catch2/catch.hpp>

#include "skip.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "isolation_support.hpp"
#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/plugin_loader.hpp"
#include "phantomguard/runtime/refusal.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "phantomguard/runtime/unique_fd.hpp"
#include "test_context.hpp"

using namespace pg::runtime;
namespace fs = std::filesystem;

namespace {

std::string unique_tag() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "x" + std::to_string(++n);
}

/// A copy of the attacker named for its attack, in a root-owned 0755 folder of the build tree.
std::string attacker_copy(const std::string& what, const std::string& phase,
                          const std::string& arg) {
  const fs::path dir = fs::path(PG_ISOLATION_PLUGIN_DIR) / "attacks";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms(0755));
  const fs::path to =
      dir / ("attack-" + what + "-" + phase + (arg.empty() ? "" : "-" + arg) + ".so");
  fs::copy_file(pg::test::attacker_path(), to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms(0644));
  return to.string();
}

std::unique_ptr<component> make(toml::table settings) {
  return pg::test::make_plugin("attacker", std::move(settings));
}

/// A TCP listener on 127.0.0.1 (random port) that never accepts by itself.
struct listener {
  unique_fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  int port = 0;
  listener() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd.get(), 8) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  bool saw_connection() const {
    unique_fd c(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return static_cast<bool>(c);
  }
};

struct attack_case {
  const char* what;
  const char* trapped; // the syscall that ends the child, or "" when the call fails with an error
};

} // namespace

SCENARIO("an isolated plugin that attacks before its first hook is stopped inside the sandbox",
         "[isolation][attack]") {
  PG_SKIP_UNDER_THREAD_SANITIZER("the child's crash, forbidden call or attack is observed "
                                 "differently under its runtime");
  const attack_case cases[] = {{"write", "openat"}, {"shadow", ""},    {"connect", "socket"},
                               {"exec", "execve"},  {"fork", "clone"}, {"ptrace", "ptrace"},
                               {"environ", ""},     {"stateread", ""}, {"statewrite", "openat"}};
  // The engine's secret: in its environment and in a file of its state directory that only
  // Landlock keeps from the plugin (the file is world-readable).
  ::setenv("PG_TEST_SECRET", "s3cr3t-of-the-engine", 1);
  for (const char* phase : {"ctor", "entry"}) {
    for (const auto& c : cases) {
      const std::string tag = unique_tag();
      {
        INFO("a plugin whose " << phase << " attacks: " << c.what << " (tag " << tag << ")");
        const fs::path state = "/tmp/pg-attack-" + tag;
        fs::create_directories(state);
        fs::permissions(state, fs::perms(0755));
        std::ofstream(state / "secret") << "s3cr3t-of-the-engine\n";
        fs::permissions(state / "secret", fs::perms(0644));
        listener l;
        const std::string what = c.what;
        const std::string arg = what == "connect" ? std::to_string(l.port) : tag;
        const std::string path = attacker_copy(what, phase, arg);

        std::string refusal;
        std::string rule;
        std::unique_ptr<component> comp;
        try {
          comp = make(pg::test::isolated(path, "attacker"));
        } catch (const component_refused& e) {
          refusal = e.what();
          rule = e.rule();
        }
        pg::test::test_context ctx;
        if (comp) {
          comp->start(ctx);
          event e;
          e.kind = "process";
          e.set("pid", std::int64_t{1});
          comp->on_batch(*make_batch({e}), ctx);
          comp->stop(ctx);
        }

        { // the attempt failed, as seen from outside
          CHECK(::access(("/etc/phantomguard-attack-" + tag).c_str(), F_OK) != 0);
          CHECK(::access(("/tmp/phantomguard-attack-" + tag).c_str(), F_OK) != 0);
          CHECK(::access((state / "planted").c_str(), F_OK) != 0);
          CHECK_FALSE(l.saw_connection());
          for (const auto& f : ctx.findings)
            CHECK(f.evidence.dump().find("s3cr3t") == std::string::npos);
        }
        if (*c.trapped != '\0') {
          { // the engine refuses the plugin and names the syscall
            INFO(refusal);
            CHECK(rule == "engine.plugin_sandbox_violation");
            CHECK(refusal.find(std::string("violated its sandbox: ") + c.trapped +
                               " is not allowed in start") != std::string::npos);
            CHECK(comp == nullptr);
          }
        } else {
          { // the call failed with an error and the plugin got nothing
            INFO(refusal);
            REQUIRE(comp != nullptr);
            auto r = ctx.with_rule("attack.result");
            REQUIRE(r.size() == 1);
            CHECK(r[0]->evidence["attack"] == what);
            CHECK(r[0]->evidence["bytes"] == 0);
            CHECK(r[0]->evidence["secret_seen"] == false);
            CHECK(r[0]->evidence["env_count"] == 0);
            CHECK(r[0]->evidence["errno"] == "EACCES");
          }
        }
        fs::remove_all(state);
        fs::remove(path);
      }
    }
  }
}

SCENARIO("an unsigned hostile copy is refused in-process before dlopen when signatures are "
         "required",
         "[isolation][attack]") {
  const std::string tag = unique_tag();
  const std::string path = attacker_copy("write", "ctor", tag);
  const fs::path trust = fs::path(PG_ISOLATION_PLUGIN_DIR) / "empty-trust";
  fs::create_directories(trust);
  fs::permissions(trust, fs::perms(0755));
  toml::table settings{{"plugin", path}};
  set_plugin_trust(plugin_trust{signature_policy::required, trust.string()});
  std::string refusal;
  try {
    make(std::move(settings));
  } catch (const component_refused& e) {
    refusal = e.what();
  }
  set_plugin_trust(plugin_trust{});
  INFO(refusal);
  CHECK(refusal.find("refused: unsigned plugin (engine.plugin_signature = \"required\")") !=
        std::string::npos);
  CHECK(refusal.find("plugins sign --key KEY") != std::string::npos);
  // Its constructor never ran: as root in this process it would have created the file.
  CHECK(::access(("/etc/phantomguard-attack-" + tag).c_str(), F_OK) != 0);
  fs::remove(path);
}

namespace {

std::string sha256_of(const std::string& path) {
  std::string out;
  FILE* p = ::popen(("sha256sum '" + path + "'").c_str(), "r");
  char buf[128] = {};
  if (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr)
    out.assign(buf, 64);
  if (p != nullptr)
    ::pclose(p);
  return out;
}

/// Renames the good and the swapped copy over `target` in a tight loop until destroyed.
class swapper {
public:
  swapper(std::string good, std::string evil, std::string target)
      : good_(std::move(good)), evil_(std::move(evil)), target_(std::move(target)),
        thread_([this] { loop(); }) {}
  ~swapper() {
    stop_ = true;
    thread_.join();
  }
  std::uint64_t swaps() const { return swaps_.load(); }

private:
  void loop() {
    const std::string tmp = target_ + ".next";
    while (!stop_) {
      for (const auto* from : {&good_, &evil_}) {
        ::unlink(tmp.c_str());
        if (::link(from->c_str(), tmp.c_str()) == 0 && ::rename(tmp.c_str(), target_.c_str()) == 0)
          ++swaps_;
      }
    }
  }
  std::string good_, evil_, target_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> swaps_{0};
  std::thread thread_;
};

struct swap_dir {
  fs::path dir = fs::path(PG_ISOLATION_PLUGIN_DIR) / "swap";
  std::string good, evil, target, pin;
  swap_dir() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms(0755));
    good = (dir / "good.keep").string();
    evil = (dir / "swapped.keep").string();
    target = (dir / "plugin.so").string();
    fs::copy_file(pg::test::attacker_path(), good);
    fs::copy_file(std::string(PG_ISOLATION_PLUGIN_DIR) + "/attacker_swapped.so", evil);
    fs::permissions(good, fs::perms(0644));
    fs::permissions(evil, fs::perms(0644));
    pin = sha256_of(good);
    REQUIRE(pin.size() == 64);
    REQUIRE(pin != sha256_of(evil));
    ::unlink("/etc/phantomguard-attack-swap");
  }
  ~swap_dir() { fs::remove_all(dir); }
};

} // namespace

SCENARIO("a plugin renamed over in a tight loop never runs the swapped bytes",
         "[isolation][swap]") {
  swap_dir d;
  GIVEN("the checked copy pinned by its sha256, the other renamed over it all the time") {
    swapper s(d.good, d.evil, d.target);
    while (s.swaps() < 10) // the target exists, and the loop is going
      std::this_thread::yield();
    WHEN("it is loaded in-process again and again") {
      int loaded = 0, refused = 0;
      for (int i = 0; i < 3000 && (i < 300 || loaded < 3 || refused < 3); ++i) {
        plugin_request r;
        r.plugin = d.target;
        r.sha256 = d.pin;
        try {
          auto p = load_plugin(r);
          CHECK(p->manifest().id == "org.phantomguard.test.attacker");
          ++loaded;
        } catch (const component_refused&) {
          ++refused; // the swapped copy (pin), or no file at the instant of the rename
        }
      }
      THEN("some loads saw each copy, and the swapped one never ran") {
        INFO("loaded " << loaded << ", refused " << refused << ", swaps " << s.swaps());
        CHECK(loaded > 0);
        CHECK(refused > 0);
        // Run as root in this process, its constructor would have created the file.
        CHECK(::access("/etc/phantomguard-attack-swap", F_OK) != 0);
      }
    }
    WHEN("it is started isolated again and again") {
      int started = 0, refused = 0, violations = 0;
      std::string last_refusal;
      // Each start checks twice (engine and child), each check may meet either copy: try until
      // both outcomes were seen a few times (a few dozen starts; 300 at most).
      for (int i = 0; i < 300 && (started < 3 || refused < 3); ++i) {
        try {
          auto settings = pg::test::isolated(d.target, "attacker");
          settings.insert("sha256", d.pin);
          auto c = make(std::move(settings));
          ++started;
        } catch (const component_refused& e) {
          ++refused;
          last_refusal = e.what();
          if (e.rule() == "engine.plugin_sandbox_violation")
            ++violations; // the swapped copy's constructor ran in the child
        }
      }
      THEN("the child never ran the swapped bytes either") {
        INFO("started " << started << ", refused " << refused << ", swaps " << s.swaps()
                        << "; last refusal: " << last_refusal);
        CHECK(started > 0);
        CHECK(violations == 0);
        CHECK(::access("/etc/phantomguard-attack-swap", F_OK) != 0);
      }
    }
  }
}
