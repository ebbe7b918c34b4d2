// SPDX-License-Identifier: Apache-2.0
// systemd's Type=notify, through the real binary: the test is the service manager. It listens on
// a datagram socket, starts the daemon with NOTIFY_SOCKET and WATCHDOG_USEC, and reads READY,
// WATCHDOG, RELOADING (on SIGHUP) and STOPPING (on SIGTERM). The unit file is checked by
// systemd-analyze when it is installed.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/service_notify.hpp"
#include "cli_process.hpp"
#include "skip.hpp"

using namespace pg::test;
namespace fs = std::filesystem;

namespace {

struct notify_socket {
  std::string path;
  int fd = -1;
  notify_socket() {
    char tmpl[] = "/tmp/pg_notify_XXXXXX";
    path = std::string(::mkdtemp(tmpl)) + "/notify";
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{0, 200000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~notify_socket() {
    ::close(fd);
    std::error_code ec;
    fs::remove_all(fs::path(path).parent_path(), ec);
  }
  /// Waits until a datagram containing `text` arrives; returns that datagram ("" on timeout).
  std::string wait_for(const std::string& text, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0)
        continue;
      std::string msg(buf, static_cast<std::size_t>(n));
      if (msg.find(text) != std::string::npos)
        return msg;
    }
    return {};
  }
};

} // namespace

SCENARIO("the daemon speaks sd_notify: READY, WATCHDOG, RELOADING, STOPPING") {
  notify_socket manager;
  char tmpl[] = "/tmp/pg_cli_notify_XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  const auto cfg = dir / "pg.toml";
  std::ofstream(cfg) << "[engine]\nstate_dir = \"" << (dir / "state").string()
                     << "\"\n[sources.procfs]\ntype = \"procfs\"\ninterval = \"1s\"\n"
                        "[sinks.out]\ntype = \"jsonl\"\ninputs = [\"procfs\"]\npath = \""
                     << (dir / "out.jsonl").string() << "\"\n";
  ::setenv("NOTIFY_SOCKET", manager.path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1); // pings every 200 ms
  ::unsetenv("WATCHDOG_PID");
  cli_process p({"run", "--config", cfg.string()});
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  auto ready = manager.wait_for("READY=1", std::chrono::seconds(10));
  REQUIRE_FALSE(ready.empty());
  CHECK(ready.find("STATUS=running 2 components") != std::string::npos);
  CHECK(ready.find("MAINPID=") != std::string::npos);
  CHECK_FALSE(manager.wait_for("WATCHDOG=1", std::chrono::seconds(2)).empty());
  p.signal(SIGHUP);
  auto reloading = manager.wait_for("RELOADING=1", std::chrono::seconds(5));
  REQUIRE_FALSE(reloading.empty());
  CHECK(reloading.find("MONOTONIC_USEC=") != std::string::npos);
  auto again = manager.wait_for("READY=1", std::chrono::seconds(5));
  INFO(again << "\n" << p.err());
  CHECK(again.find("STATUS=running (reloaded)") != std::string::npos);
  p.signal(SIGTERM);
  CHECK_FALSE(manager.wait_for("STOPPING=1", std::chrono::seconds(5)).empty());
  CHECK(p.wait(std::chrono::seconds(15)) == 0);
  fs::remove_all(dir);
}

SCENARIO("the systemd unit is one systemd accepts") {
  const std::string unit = std::string(PG_SOURCE_DIR) + "/packaging/systemd/phantomguard.service";
  REQUIRE(fs::exists(unit));
  std::ifstream in(unit);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("Type=notify") != std::string::npos);
  CHECK(text.find("WatchdogSec=") != std::string::npos);
  CHECK(text.find("ExecReload=/bin/kill -HUP $MAINPID") != std::string::npos);
  CHECK(text.find("StateDirectory=phantomguard") != std::string::npos);
  if (!fs::exists("/usr/bin/systemd-analyze"))
    PG_SKIP("systemd-analyze is not installed: the unit's syntax was not verified");
  // verify wants the ExecStart binary to exist: point a copy of the unit at the built one.
  char tmpl[] = "/tmp/pg_unit_XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);
  std::string copy = text;
  const std::string from = "/usr/bin/phantomguard";
  for (auto at = copy.find(from); at != std::string::npos; at = copy.find(from, at + 1))
    copy.replace(at, from.size(), phantomguard_binary);
  std::ofstream(dir / "phantomguard.service") << copy;
  const auto out = dir / "verify.out";
  const int rc = std::system(("/usr/bin/systemd-analyze verify " +
                              (dir / "phantomguard.service").string() + " > " + out.string() +
                              " 2>&1")
                                 .c_str());
  std::ifstream said(out);
  std::string msg((std::istreambuf_iterator<char>(said)), std::istreambuf_iterator<char>());
  INFO(msg);
  CHECK(rc == 0);
  fs::remove_all(dir);
}

SCENARIO("the watchdog stops vouching for a daemon whose engine is stuck, and resumes") {
  notify_socket manager;
  ::setenv("NOTIFY_SOCKET", manager.path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1); // pings every 100 ms
  ::unsetenv("WATCHDOG_PID");
  std::atomic<bool> stuck{false};
  {
    pg::cli::service_notifier service;
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    service.start_watchdog([&] { return stuck ? std::string("supervisor silent for 6 s") : ""; });
    CHECK_FALSE(manager.wait_for("WATCHDOG=1", std::chrono::seconds(2)).empty());
    stuck = true;
    CHECK(manager.wait_for("STATUS=unhealthy", std::chrono::seconds(2)) ==
          "STATUS=unhealthy: supervisor silent for 6 s");
    // While stuck, no ping: the manager's WatchdogSec runs out and it restarts the service.
    CHECK(manager.wait_for("WATCHDOG=1", std::chrono::milliseconds(600)).empty());
    stuck = false;
    CHECK(manager.wait_for("STATUS=running (healthy again)", std::chrono::seconds(2)) != "");
    CHECK_FALSE(manager.wait_for("WATCHDOG=1", std::chrono::seconds(2)).empty());
  }
}
