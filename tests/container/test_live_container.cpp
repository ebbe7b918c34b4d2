// SPDX-License-Identifier: Apache-2.0
// Live containers, for real: no container engine runs here, so the test makes a container the way
// runtimes do — a child in new mount/UTS/IPC/network namespaces (sharing the host PID namespace),
// chrooted into an overlay whose upper layer holds a binary the "image" did not have, with the
// host root, a docker.sock and a proc file system mounted in, and, when the cgroup hierarchy is
// writable, moved into a /docker/<id> cgroup. The scanner then reads the real /proc.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sched.h>
#include <set>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "container_fixture.hpp"
#include "phantomguard/actors/container/container_analyzer.hpp"
#include "phantomguard/actors/container/live_container.hpp"
#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "skip.hpp"
#include "test_context.hpp"
#include "vuln_fixture.hpp"

using namespace pg::actors::container;
namespace fs = std::filesystem;

namespace {

const std::string container_id = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

// A cgroup /docker/<id> in the first writable hierarchy; removed on destruction.
class docker_cgroup {
public:
  docker_cgroup() {
    for (const char* base : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup", "/sys/fs/cgroup/pids"}) {
      std::error_code ec;
      if (!fs::exists(fs::path(base) / "cgroup.procs", ec))
        continue;
      created_parent_ = !fs::exists(fs::path(base) / "docker", ec);
      fs::path dir = fs::path(base) / "docker" / container_id;
      if (::mkdir((fs::path(base) / "docker").c_str(), 0755) != 0 && errno != EEXIST)
        continue;
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        continue;
      dir_ = dir;
      return;
    }
  }
  ~docker_cgroup() {
    if (dir_.empty())
      return;
    ::rmdir(dir_.c_str());
    if (created_parent_)
      ::rmdir(dir_.parent_path().c_str());
  }
  bool add(pid_t pid) {
    if (dir_.empty())
      return false;
    std::ofstream procs(dir_ / "cgroup.procs");
    procs << pid << std::flush;
    return static_cast<bool>(procs);
  }

private:
  fs::path dir_;
  bool created_parent_ = false;
};

// The fake container: forked, namespaced, chrooted into the overlay, running pg-drifted.
class fake_container {
public:
  explicit fake_container(const pg::test::temp_dir& dir) {
    auto upper = dir.path() / "upper";
    auto work = dir.path() / "work";
    merged_ = dir.path() / "merged";
    for (const auto& p : {upper / "usr/local/bin", work, merged_})
      fs::create_directories(p);
    fs::copy_file("/bin/sleep", upper / "usr/local/bin/pg-drifted");
    ::chmod((upper / "usr/local/bin/pg-drifted").c_str(), 0755);
    std::ofstream(dir.path() / "docker.sock") << "";
    std::string opts = "lowerdir=/,upperdir=" + upper.string() + ",workdir=" + work.string();
    std::string sock = (dir.path() / "docker.sock").string();
    std::string merged = merged_.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) != 0)
        ::_exit(10);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        ::_exit(11);
      if (::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) != 0)
        ::_exit(12);
      ::mkdir((merged + "/host").c_str(), 0755);
      ::mkdir((merged + "/hostproc").c_str(), 0755);
      ::mkdir((merged + "/run").c_str(), 0755);
      int fd = ::open((merged + "/run/docker.sock").c_str(), O_CREAT | O_WRONLY, 0600);
      if (fd >= 0)
        ::close(fd);
      if (::mount("/", (merged + "/host").c_str(), nullptr, MS_BIND, nullptr) != 0 ||
          ::mount(sock.c_str(), (merged + "/run/docker.sock").c_str(), nullptr, MS_BIND, nullptr) !=
              0 ||
          ::mount("proc", (merged + "/hostproc").c_str(), "proc", 0, nullptr) != 0)
        ::_exit(13);
      if (::chroot(merged.c_str()) != 0 || ::chdir("/") != 0)
        ::_exit(14);
      ::execl("/usr/local/bin/pg-drifted", "pg-drifted", "120", static_cast<char*>(nullptr));
      ::_exit(15);
    }
  }
  ~fake_container() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  // Waits until the child runs pg-drifted; false with the child's exit code when it failed.
  bool wait_running(int& exit_code) {
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
        return false;
      }
      auto exe = pg::actors::host::read_link("/proc/" + std::to_string(pid_) + "/exe");
      if (exe && exe->ends_with("pg-drifted"))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    exit_code = -2;
    return false;
  }

private:
  fs::path merged_;
  pid_t pid_ = -1;
};

const live_container* containing(const std::vector<live_container>& cs, pid_t pid) {
  for (const auto& c : cs)
    if (std::find(c.pids.begin(), c.pids.end(), pid) != c.pids.end())
      return &c;
  return nullptr;
}

std::uint64_t own_cap_eff() {
  auto st = pg::actors::host::read_proc_status(::getpid());
  return st ? std::stoull(st->at("CapEff"), nullptr, 16) : 0;
}

} // namespace

SCENARIO(
    "a process in its own namespaces, chroot and overlay is found and checked as a container") {
  if (::geteuid() != 0) {
    PG_SKIP("not root: the live container test needs namespaces and mounts; skipped");
  }
  GIVEN("a fake container and, where the cgroup tree is writable, a /docker/<id> cgroup") {
    pg::test::temp_dir dir("pg-live");
    docker_cgroup cgroup;
    fake_container child(dir);
    REQUIRE(child.pid() > 0);
    bool in_cgroup = cgroup.add(child.pid());
    int code = 0;
    if (!child.wait_running(code)) {
      PG_SKIP("the fake container could not start (exit "
              << code
              << ": 10 unshare, 12 overlay, 13 mounts, 14 chroot): live checks not exercised");
    }
    if (!in_cgroup)
      WARN("no writable cgroup hierarchy: the container is found by its namespaces only");
    auto host = read_host_reference();
    live_scan_stats stats;
    auto containers = find_live_containers(host, "/proc", &stats);
    const auto* c = containing(containers, child.pid());
    THEN("it is found, by its cgroup when it has one, else by its namespaces") {
      REQUIRE(c != nullptr);
      if (in_cgroup) {
        CHECK(c->runtime == "docker");
        CHECK(c->id == container_id);
      } else {
        CHECK(c->runtime == "namespaces");
      }
      CHECK(c->leader == child.pid());
      CHECK(stats.processes > 1);
    }
    THEN("this test process and an ordinary child are not containers") {
      CHECK(containing(containers, ::getpid()) == nullptr);
      CHECK(containing(containers, ::getppid()) == nullptr);
    }
    REQUIRE(c != nullptr);
    pg::actors::host::collecting_sink sink;
    check_live_container(*c, host, sink);
    const auto& fs_ = sink.findings;
    THEN("it shares the host PID namespace, not the network or IPC ones") {
      auto ns = pg::test::with_rule(fs_, "container.host_namespace");
      REQUIRE(ns.size() == 1);
      auto shared = ns[0]->evidence["shared"];
      CHECK(shared == nlohmann::json::array({"pid"}));
      CHECK(ns[0]->level == pg::runtime::severity::high);
    }
    THEN("the host root, docker.sock and a proc file system mounted in are sensitive mounts") {
      std::set<std::string> reasons;
      std::set<std::string> points;
      for (const auto* f : pg::test::with_rule(fs_, "container.sensitive_mount")) {
        reasons.insert(f->evidence["reason"].get<std::string>());
        points.insert(f->evidence["mount_point"].get<std::string>());
      }
      CHECK(reasons.count("host root file system") == 1);
      CHECK(reasons.count("container runtime socket") == 1);
      CHECK(reasons.count("host /proc") == 1);
      CHECK(points.count("/host") == 1);
      CHECK(points.count("/run/docker.sock") == 1);
      CHECK(points.count("/hostproc") == 1);
    }
    THEN("the binary from the overlay's upper layer is drift") {
      auto drift = pg::test::with_rule(fs_, "container.drift");
      REQUIRE(drift.size() == 1);
      CHECK(drift[0]->entity["exe"] == "/usr/local/bin/pg-drifted");
      CHECK(drift[0]->entity["pid"] == child.pid());
      CHECK(drift[0]->evidence["upperdir"] == (dir.path() / "upper").string());
    }
    THEN("privileged exactly when it holds the host's whole bounding set (it has our caps)") {
      bool full = (own_cap_eff() & host.full_capabilities) == host.full_capabilities;
      CHECK(pg::test::with_rule(fs_, "container.privileged").size() == (full ? 1u : 0u));
      if (!full)
        WARN("this test runs without every capability of PID 1's bounding set");
    }
    WHEN("the container analyzer runs its live checks through a context") {
      pg::runtime::component_init init;
      init.name = "container";
      toml::table t;
      t.insert("live", true);
      init.settings = pg::runtime::component_settings(t);
      container_analyzer a(init);
      pg::test::test_context ctx("container");
      a.start(ctx);
      a.on_tick(ctx);
      THEN("the drift finding reaches the context, with the analyzer's counters") {
        bool found = false;
        for (const auto* f : ctx.with_rule("container.drift"))
          found |= f->entity["pid"] == child.pid();
        CHECK(found);
        CHECK(ctx.counters["containers"] >= 1);
        CHECK(ctx.counters["scans_completed"] == 1);
      }
    }
  }
}

SCENARIO("an exiting process, which has let go of its namespaces, is not taken for a container") {
  // A zombie keeps its PID and user namespace links and loses the mount, UTS, IPC and network
  // ones: a scan that ran into a process exiting reported it as a privileged container sharing
  // the host's PID namespace (found by the clean-host check).
  pid_t zombie = ::fork();
  REQUIRE(zombie >= 0);
  if (zombie == 0)
    ::_exit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100)); // exited, not reaped
  const std::string mnt = "/proc/" + std::to_string(zombie) + "/ns/mnt";
  std::error_code ec;
  const bool lost_mnt =
      !fs::exists(fs::symlink_status(mnt, ec)) || !pg::actors::host::read_link(mnt).has_value();
  live_scan_stats stats;
  auto containers = find_live_containers(read_host_reference(), "/proc", &stats);
  CHECK(containing(containers, zombie) == nullptr);
  if (lost_mnt)
    CHECK(stats.vanished >= 1);
  ::waitpid(zombie, nullptr, 0);
}
