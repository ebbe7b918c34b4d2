// SPDX-License-Identifier: Apache-2.0
// The scanner does not report itself: phantomguard run from a directory under /tmp (a checkout,
// a build tree) is where the operator put it, not an executable dropped in a temporary
// directory. It is still reported when its binary is replaced or deleted under it, and any other
// program in the same place is reported as before.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"

using namespace std::chrono_literals;

namespace {

// A copy of the phantomguard binary in a fresh folder under /tmp, with a scan config.
struct tmp_install {
  explicit tmp_install(const std::string& process_extra = "") {
    std::filesystem::create_directories(dir.dir);
    binary = (dir.dir / "phantomguard").string();
    std::filesystem::copy_file(pg::test::phantomguard_binary, binary);
    std::filesystem::permissions(binary, std::filesystem::perms::owner_all);
    config = (dir.dir / "self.toml").string();
    std::ofstream(config) << "[engine]\nstate_dir = \"" << dir.state()
                          << "\"\n[sources.procfs]\ntype = \"procfs\"\ninterval = \"500ms\"\n"
                             "[analyzers.process]\ntype = \"process\"\ninputs = [\"procfs\"]\n"
                          << process_extra
                          << "[sinks.archive]\ntype = \"jsonl\"\ninputs = [\"process\"]\n"
                             "flush = \"event\"\npath = \""
                          << dir.archive() << "\"\n";
  }
  pg::test::daemon_dir dir;
  std::string binary, config;
};

std::vector<nlohmann::json> findings_in(const std::string& text, const std::string& rule) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("rule", "") == rule)
      out.push_back(j);
  }
  return out;
}

} // namespace

SCENARIO("a scan run from a folder under /tmp does not report itself, but reports what else runs there") {
  tmp_install t;
  // Another program in the same folder: that one is a finding.
  auto other = (t.dir.dir / "dropped").string();
  std::filesystem::copy_file("/bin/sleep", other);
  pg::test::cli_process dropped({other, "20"}, pg::test::cli_process::raw_command);
  std::this_thread::sleep_for(100ms);

  pg::test::cli_process scan({t.binary, "scan", "--config", t.config, "--format", "jsonl"},
                             pg::test::cli_process::raw_command);
  pid_t scanner = scan.pid();
  int code = scan.wait(60s);
  auto out = scan.out();
  INFO(out << scan.err());
  CHECK(code == 1); // the dropped program is high
  bool dropped_reported = false;
  for (const auto& f : findings_in(out, "process.exe_in_temp")) {
    CHECK(f["entity"]["pid"] != scanner); // never the scanner itself
    CHECK(f["entity"]["exe"] != t.binary);
    dropped_reported = dropped_reported || f["entity"]["pid"] == dropped.pid();
  }
  CHECK(dropped_reported);
  dropped.signal(SIGKILL);
}

SCENARIO("a running daemon whose binary is deleted under it reports itself") {
  // The analyzer re-reads a process it knows after `refresh`: 1 s here, so the daemon looks at
  // itself again soon after its binary goes.
  tmp_install t("refresh = \"1s\"\n");
  pg::test::cli_process daemon({t.binary, "run", "--config", t.config},
                               pg::test::cli_process::raw_command);
  std::this_thread::sleep_for(2000ms);
  // (Other tests running at the same time may have programs under /tmp: only the daemon's own
  // findings count here.)
  for (const auto& f : findings_in(pg::test::slurp(t.dir.archive()), "process.exe_in_temp"))
    CHECK(f["entity"]["pid"] != daemon.pid());
  std::filesystem::remove(t.binary);
  bool deleted = false, temp = false;
  for (int i = 0; i < 100 && !(deleted && temp); ++i) {
    std::this_thread::sleep_for(100ms);
    auto archive = pg::test::slurp(t.dir.archive());
    for (const auto& f : findings_in(archive, "memory.deleted_exe"))
      deleted = deleted || f["entity"]["pid"] == daemon.pid();
    for (const auto& f : findings_in(archive, "process.exe_in_temp"))
      temp = temp || f["entity"]["pid"] == daemon.pid();
  }
  INFO(pg::test::slurp(t.dir.archive()));
  CHECK(deleted);
  CHECK(temp);
  daemon.signal(SIGTERM);
  daemon.wait(15s);
}
