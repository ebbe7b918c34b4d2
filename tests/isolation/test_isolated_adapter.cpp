// SPDX-License-Identifier: Apache-2.0
// The isolated adapter driven directly: each hostile plugin costs an exception with its cause
// and a dead child, never the test process; the cryptominer finds the same things in both
// isolation levels.
#include <catch2/catch.hpp>

#include "skip.hpp"

#include <chrono>
#include <filesystem>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isolation_support.hpp"
#include "phantomguard/runtime/plugin_host.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "test_context.hpp"

using namespace pg::runtime;
using pg::test::hostile_path;
using pg::test::isolated;
using pg::test::miner_path;

namespace {

std::unique_ptr<component> make(const std::string& name, toml::table settings,
                                quota_settings quota = {}) {
  return pg::test::make_plugin(name, std::move(settings), std::move(quota));
}

/// `n` process events, pids from `first`; every tenth a miner.
batch_ptr processes(std::int64_t first, int n) {
  std::vector<event> evs;
  for (int i = 0; i < n; ++i) {
    const std::int64_t pid = first + i;
    const bool miner = pid % 10 == 0;
    event e;
    e.kind = "process";
    e.source = "feed";
    e.set("pid", pid).set("ppid", std::int64_t{1}).set("uid", std::int64_t{0});
    e.set("comm", std::string(miner ? "xmrig" : "bash"));
    e.set("exe", std::string(miner ? "/tmp/xmrig" : "/usr/bin/bash"));
    e.set("cmdline", std::string(miner ? "xmrig -o stratum+tcp://198.51.100.1:3333" : "-bash"));
    evs.push_back(std::move(e));
  }
  return make_batch(std::move(evs));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

const std::string hostile = "plugin \"org.phantomguard.test.hostile\" detector ";

} // namespace

TEST_CASE("the cryptominer finds the same isolated as in-process", "[isolation]") {
  auto in_proc = make("miner", toml::table{{"plugin", miner_path()}});
  // A credit window of 4: batches are pipelined, findings arrive with later hooks.
  auto iso = make("miner", isolated(miner_path(), "", {}, toml::table{{"max_outstanding", 4}}));
  pg::test::test_context a, b;
  in_proc->start(a);
  iso->start(b);
  for (int i = 0; i < 8; ++i) {
    auto batch = processes(100 + i * 50, 50);
    in_proc->on_batch(*batch, a);
    iso->on_batch(*batch, b);
  }
  in_proc->stop(a);
  iso->stop(b);
  auto summary = [](const pg::test::test_context& c) {
    std::vector<std::string> out;
    for (const auto& f : c.findings)
      out.push_back(f.rule + " " + f.entity.dump() + " " + f.evidence.dump());
    return out;
  };
  REQUIRE(a.with_rule("miner.known_binary").size() == 40);
  CHECK(summary(b) == summary(a));
}

TEST_CASE("pipelined batches never hold findings back once no input is queued", "[isolation]") {
  auto iso = make("miner", isolated(miner_path(), ""));
  pg::test::test_context ctx;
  iso->start(ctx);
  for (int i = 0; i < 8; ++i) {
    ctx.queued_input = i < 7; // the last batch has nothing behind it
    iso->on_batch(*processes(100 + i * 50, 50), ctx);
  }
  // Without stop(): the last on_batch settled every batch in flight.
  CHECK(ctx.with_rule("miner.known_binary").size() == 40);
  iso->stop(ctx);
  CHECK(ctx.with_rule("miner.known_binary").size() == 40);
}

TEST_CASE("a plugin that dereferences NULL costs its child, not the engine", "[isolation]") {
  PG_SKIP_UNDER_THREAD_SANITIZER("the child's crash, forbidden call or attack is observed "
                                 "differently under its runtime");
  auto c = make("crasher", isolated(hostile_path(), "crasher", toml::table{{"crash_at", 3}},
                                    toml::table{{"max_outstanding", 1}}));
  pg::test::test_context ctx;
  c->start(ctx);
  c->on_batch(*processes(1, 4), ctx);
  c->on_batch(*processes(5, 4), ctx);
  c->on_tick(ctx); // the state (2 batches) is kept for a restart
  // Batch 3 crashes the child; with a window of 1 its own on_batch notices.
  const auto err = error_of([&] { c->on_batch(*processes(9, 4), ctx); });
  CHECK(err == hostile + "\"crasher\" (isolated) crashed: SIGSEGV in on_batch");
  CHECK(ctx.with_rule("isolation.batch").size() == 2);
  CHECK(error_of([&] { c->on_batch(*processes(13, 4), ctx); }) == err); // stays failed
  CHECK(c->snapshot() == "2");

  // The replacement restores the snapshot: it is at batch 3 again on its first batch.
  auto again = make("crasher", isolated(hostile_path(), "crasher", toml::table{{"crash_at", 4}}));
  again->restore(c->snapshot());
  pg::test::test_context ctx2;
  again->start(ctx2);
  again->on_batch(*processes(1, 4), ctx2);
  again->stop(ctx2);
  REQUIRE(ctx2.with_rule("isolation.batch").size() == 1);
  CHECK(ctx2.with_rule("isolation.batch")[0]->evidence["batch"] == 3);
}

TEST_CASE("a plugin that spins forever misses its deadline and is killed", "[isolation]") {
  auto c = make("spinner", isolated(hostile_path(), "spinner", toml::table{{"spin_at", 2}},
                                    toml::table{{"call_timeout", "300ms"}}));
  pg::test::test_context ctx;
  c->start(ctx);
  c->on_batch(*processes(1, 4), ctx);
  const auto t0 = std::chrono::steady_clock::now();
  std::string err;
  for (int i = 0; i < 6 && err.empty(); ++i) // pipelined: the hang shows at the next wait
    err = error_of([&] { c->on_batch(*processes(5, 4), ctx); });
  const auto t1 = std::chrono::steady_clock::now();
  if (err == "(no exception)")
    err = error_of([&] { c->stop(ctx); });
  CHECK(err == hostile + "\"spinner\" (isolated) missed its deadline (300 ms) in on_batch; killed");
  CHECK(t1 - t0 < std::chrono::seconds(5));
  CHECK(ctx.with_rule("isolation.batch").size() == 1);
}

TEST_CASE("a plugin that allocates without bound hits RLIMIT_AS", "[isolation]") {
  PG_SKIP_UNDER_SANITIZER("its shadow memory and allocator make an RLIMIT_AS allowance "
                          "meaningless, and it aborts instead of returning NULL");
  auto c = make("glutton", isolated(hostile_path(), "glutton", {}, toml::table{{"memory_mb", 64}}));
  pg::test::test_context ctx;
  c->start(ctx);
  const auto err = error_of([&] { // the batch's own hook fails (window 1, the default)
    c->on_batch(*processes(1, 4), ctx);
    c->stop(ctx);
  });
  CHECK(err == hostile + "\"glutton\" (isolated) exceeded its memory limit (RLIMIT_AS 64 MiB "
                         "above the host's mappings): plugin \"org.phantomguard.test.hostile\" "
                         "detector \"glutton\": on_batch failed (code 5): out of memory in "
                         "on_batch; killed");
}

TEST_CASE("the detector's quota sets the child's address-space limit", "[isolation]") {
  PG_SKIP_UNDER_SANITIZER("its shadow memory and allocator make an RLIMIT_AS allowance "
                          "meaningless, and it aborts instead of returning NULL");
  // No sandbox table: memory_mb comes from `quota = { memory_mb = 64 }` alone.
  quota_settings quota;
  quota.memory_mb = 64;
  auto c = make("glutton", isolated(hostile_path(), "glutton"), quota);
  pg::test::test_context ctx;
  c->start(ctx);
  const auto err = error_of([&] {
    c->on_batch(*processes(1, 4), ctx);
    c->stop(ctx);
  });
  CHECK(err.find("(isolated) exceeded its memory limit (RLIMIT_AS 64 MiB") != std::string::npos);
}

TEST_CASE("every forbidden call of a plugin's hook ends its child with the syscall named",
          "[isolation]") {
  PG_SKIP_UNDER_THREAD_SANITIZER("the child's crash, forbidden call or attack is observed "
                                 "differently under its runtime");
  // attack -> the syscall the seccomp allow-list traps
  const std::pair<const char*, const char*> attacks[] = {{"socket", "socket"}, {"exec", "execve"},
                                                         {"fork", "clone"},    {"ptrace", "ptrace"},
                                                         {"write", "openat"},  {"kill", "kill"}};
  for (const auto& [attack, syscall] : attacks) {
    INFO("attack " << attack);
    auto c = make("escaper", isolated(hostile_path(), "escaper", toml::table{{"attack", attack}}));
    pg::test::test_context ctx;
    c->start(ctx);
    const auto err = error_of([&] { // the batch's own hook fails (window 1, the default)
      c->on_batch(*processes(1, 4), ctx);
      c->stop(ctx);
    });
    CHECK(err == hostile + "\"escaper\" (isolated) violated its sandbox: " + syscall +
                     " is not allowed in on_batch");
    CHECK(ctx.with_rule("isolation.attack_returned").empty()); // trapped: it never returned
    auto v = ctx.with_rule("engine.plugin_sandbox_violation");
    REQUIRE(v.size() == 1);
    CHECK(v[0]->level == severity::high);
    CHECK(v[0]->evidence["syscall"] == syscall);
    CHECK(v[0]->entity["plugin"] == "org.phantomguard.test.hostile");
    // Checked from outside: nothing was written.
    CHECK(::access("/etc/phantomguard-escaper-test", F_OK) != 0);

    auto probe = ctx.with_rule("isolation.probe");
    REQUIRE(probe.size() == 1);
    CHECK(probe[0]->evidence["open_fds"] == 4); // stdin, stdout, stderr (/dev/null), the channel
    CHECK(probe[0]->evidence["env_count"] == 0);
    if (::geteuid() == 0) {
      const passwd* nobody = ::getpwnam("nobody");
      REQUIRE(nobody != nullptr);
      CHECK(probe[0]->evidence["uid"] == static_cast<std::int64_t>(nobody->pw_uid));
    }
  }
}

TEST_CASE("a plugin cannot read what the sandbox does not grant", "[isolation]") {
  auto c = make("escaper", isolated(hostile_path(), "escaper", toml::table{{"attack", "read"}}));
  pg::test::test_context ctx;
  c->start(ctx);
  c->on_batch(*processes(1, 4), ctx);
  c->stop(ctx);
  auto r = ctx.with_rule("isolation.read_attempt");
  REQUIRE(r.size() == 1);
  CHECK(r[0]->evidence["errno"] == "EACCES"); // Landlock (and the drop to nobody)
}

TEST_CASE("what an isolated plugin's child reads counts as its component's I/O", "[isolation]") {
  auto c = make("reader", isolated(hostile_path(), "reader", toml::table{}));
  pg::test::test_context ctx;
  c->start(ctx);
  for (int i = 0; i < 3; ++i)
    c->on_batch(*processes(1 + 4 * i, 4), ctx);
  c->stop(ctx);
  auto r = ctx.with_rule("isolation.read_done");
  REQUIRE(r.size() == 3);
  std::int64_t read = 0;
  for (const auto* f : r)
    read += f->evidence["bytes"].get<std::int64_t>();
  // The child read the C library's file three times (a MiB or more); the engine's own thread
  // read none of it, so only the child's /proc/PID/io can account for it.
  CHECK(read > 3 * 16 * 1024);
  CHECK(ctx.charged_io.read_chars >= static_cast<std::uint64_t>(read));
  CHECK(ctx.charged_io.read_chars < static_cast<std::uint64_t>(read) + (8u << 20));
}

TEST_CASE("a plugin that writes garbage onto the channel is killed", "[isolation]") {
  auto c = make("babbler", isolated(hostile_path(), "babbler"));
  pg::test::test_context ctx;
  c->start(ctx);
  const auto err = error_of([&] { // the batch's own hook fails (window 1, the default)
    c->on_batch(*processes(1, 4), ctx);
    c->stop(ctx);
  });
  CHECK(err == hostile + "\"babbler\" (isolated) sent garbage on the channel (unknown frame "
                         "type 0x47) in on_batch; killed");
}

TEST_CASE("a plugin that forges a finding with a severity no int holds is killed, nothing emitted",
          "[isolation]") {
  auto c = make("forger", isolated(hostile_path(), "forger"));
  pg::test::test_context ctx;
  c->start(ctx);
  const auto err = error_of([&] {
    c->on_batch(*processes(1, 4), ctx);
    c->stop(ctx);
  });
  CHECK(err == hostile + "\"forger\" (isolated) sent garbage on the channel (a finding without a "
                         "rule or with a bad severity) in on_batch; killed");
  CHECK(ctx.with_rule("isolation.forged").empty());
}

TEST_CASE("an isolated plugin its sandbox user cannot read is refused with the fix",
          "[isolation]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(PG_ISOLATION_PLUGIN_DIR) / "unreadable";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms(0755));
  const std::string path = (dir / "cryptominer.so").string();
  fs::copy_file(miner_path(), path, fs::copy_options::overwrite_existing);
  fs::permissions(path, fs::perms(0600)); // root only: nobody cannot reopen it
  const auto err = error_of([&] { make("miner", isolated(path, "")); });
  CHECK(err == "plugin \"org.phantomguard.cryptominer\" (" + path +
                   ") refused: the sandbox user cannot read the file: expected a mode readable by "
                   "nobody (e.g. 0644), found mode 0600; fix: chmod o+r " +
                   path + " (an isolated plugin is loaded after the drop to the sandbox user)");
  fs::remove_all(dir);
}

TEST_CASE("the child says which sandbox it could apply", "[isolation]") {
  auto c = make("miner", isolated(miner_path(), ""));
  pg::test::test_context ctx;
  c->start(ctx);
  bool said = false;
  for (const auto& l : ctx.logs)
    said = said || l.rfind("sandbox: Landlock ABI ", 0) == 0 ||
           l.rfind("sandbox: this kernel has no Landlock", 0) == 0;
  CHECK(said);
  c->stop(ctx);
}

TEST_CASE("an isolated plugin is refused by the same load-time checks", "[isolation]") {
  try {
    make("miner", isolated(miner_path(), "", toml::table{{"min_flags", "two"}}));
    FAIL("not refused");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("refused") != std::string::npos);
    CHECK(std::string(e.what()).find("min_flags") != std::string::npos);
  }
}
