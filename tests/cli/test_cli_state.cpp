// SPDX-License-Identifier: Apache-2.0
// The engine's temp folder through the real binary: a scan cleans what a killed process left
// in `<state_dir>/tmp` and leaves a live process's entry; `temp_dir` moves it; a temp folder
// that cannot be made is a warning, not a failed scan.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "skip.hpp"

#include "dead_pid.hpp"

#include "api_support.hpp"
#include "cli_process.hpp"

using namespace pg::test;
namespace fs = std::filesystem;

namespace {

std::string scan_config(const daemon_dir& d, const std::string& engine_extra = "") {
  const auto path = (d.dir / "pg.toml").string();
  std::ofstream(path) << "[engine]\nstate_dir = \"" << d.state() << "\"\n"
                      << engine_extra
                      << "[sources.procfs]\ntype = \"procfs\"\n[sinks.archive]\ntype = "
                         "\"jsonl\"\ninputs = [\"procfs\"]\npath = \""
                      << d.archive() << "\"\n";
  return path;
}

} // namespace

SCENARIO("a scan removes what a killed process left in the temp folder, and nothing else") {
  daemon_dir d;
  const auto tmp = fs::path(d.state()) / "tmp";
  const auto left = tmp / ("image-" + std::to_string(pg::test::dead_pid()) + "-Ab12Cd");
  fs::create_directories(left / "rootfs/usr/bin");
  std::ofstream(left / "rootfs/usr/bin/tool", std::ios::binary) << std::string(50000, 'z');
  const auto live = tmp / ("bench-" + std::to_string(::getpid()) + "-Ef34Gh");
  fs::create_directories(live);
  const auto foreign = tmp / "README";
  std::ofstream(foreign) << "an operator's note";

  auto r = run_cli(
      {"scan", "--config", scan_config(d), "-q", "--format", "json", "--log-level", "info"});
  INFO(r.err);
  CHECK(r.code <= 1);
  CHECK_FALSE(fs::exists(left));
  CHECK(fs::exists(live));
  CHECK(fs::exists(foreign));
  CHECK(r.err.find("removed 1 leftover entry") != std::string::npos);
  CHECK(r.err.find(tmp.string()) != std::string::npos);

  WHEN("temp_dir names another folder") {
    const auto other = d.dir / "scratch";
    const auto old = other / ("image-" + std::to_string(pg::test::dead_pid()) + "-Zz99Yy");
    fs::create_directories(old);
    auto s = run_cli({"scan", "--config", scan_config(d, "temp_dir = \"" + other.string() + "\"\n"),
                      "-q", "--format", "json"});
    INFO(s.err);
    CHECK(s.code <= 1);
    CHECK_FALSE(fs::exists(old));
  }
  WHEN("the temp folder cannot be made") {
    std::ofstream(d.dir / "blocker") << "a file where a folder should be";
    auto s = run_cli({"scan", "--config",
                      scan_config(d, "temp_dir = \"" + (d.dir / "blocker").string() + "\"\n"), "-q",
                      "--format", "json"});
    INFO(s.err);
    CHECK(s.code <= 1); // the scan still runs
    CHECK(s.err.find("temp_dir unusable: ") != std::string::npos);
  }
  WHEN("temp_max_size is not a size") {
    auto s = run_cli({"validate", "--config", scan_config(d, "temp_max_size = \"lots\"\n")});
    CHECK(s.code == 2);
    CHECK(s.err.find("temp_max_size") != std::string::npos);
  }
}

namespace {

std::map<std::string, std::vector<std::string>> key_values(const std::string& text) {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos)
      out[line.substr(0, eq)].push_back(line.substr(eq + 1));
  return out;
}

std::string first(const std::map<std::string, std::vector<std::string>>& kv,
                  const std::string& key) {
  auto it = kv.find(key);
  return it == kv.end() || it->second.empty() ? std::string("(missing)") : it->second.front();
}

} // namespace

SCENARIO("on a read-only root, scan and run write only under state_dir, log_dir, run_dir and "
         "temp_dir, and a state folder that fills or vanishes is a finding") {
  if (::geteuid() != 0)
    PG_SKIP("needs root: the test makes a mount namespace with a read-only root");
  if (::system("unshare --mount true 2>/dev/null") != 0)
    PG_SKIP("this machine does not let a process make a mount namespace (unshare --mount)");
  daemon_dir d;
  for (const char* sub : {"state", "log", "run", "tmp", "small"})
    fs::create_directories(d.dir / sub);
  const auto w = d.dir.string();
  // The profile's archive is `path = "findings.jsonl"`: relative, so under log_dir.
  std::ofstream(d.dir / "pg.toml")
      << "[engine]\nprofile = \"low-resource\"\nstate_dir = \"" << w << "/state\"\nlog_dir = \""
      << w << "/log\"\nrun_dir = \"" << w << "/run/phantomguard\"\ntemp_dir = \"" << w
      << "/tmp/pg\"\nshutdown_timeout = \"5s\"\n"
         "[sinks.console]\nenabled = false\n";
  // The small file system holds the state and the control socket; log_dir keeps its default,
  // which no sink writes under (the archive's path is absolute), so it is not made or checked.
  std::ofstream(d.dir / "small.toml")
      << "[engine]\nstate_dir = \"" << w << "/small/state\"\nrun_dir = \"" << w
      << "/small/run\"\nstate_min_free = \"1MiB\"\nshutdown_timeout = \"5s\"\n"
         "[sources.procfs]\ntype = \"procfs\"\ninterval = \"1s\"\n"
         "[sinks.archive]\ntype = \"jsonl\"\ninputs = [\"procfs\"]\npath = \""
      << w << "/log/small-findings.jsonl\"\n";
  cli_process p({"/usr/bin/unshare", "--mount", "--", "/bin/bash",
                 cli_test_dir + "/readonly_root.sh", phantomguard_binary, w},
                cli_process::raw_command);
  const int rc = p.wait(std::chrono::seconds(240));
  const auto out = p.out();
  INFO(out);
  INFO(p.err());
  REQUIRE(rc == 0);
  const auto kv = key_values(out);
  REQUIRE(first(kv, "root_writable") == "no");

  THEN("scan finds and exits by severity, run stops cleanly, nothing met a read-only file system") {
    CHECK((first(kv, "scan_rc") == "0" || first(kv, "scan_rc") == "1"));
    CHECK(first(kv, "run_rc") == "0");
    CHECK(first(kv, "erofs") == "0");
    CHECK(std::stoi(first(kv, "scan_findings")) > 0);
    CHECK(std::stoi(first(kv, "archive_findings")) > 0);
    CHECK(kv.count("log_error") == 0);
    for (const auto& rule :
         kv.count("engine_rule") ? kv.at("engine_rule") : std::vector<std::string>{}) {
      INFO(rule);
      CHECK(rule != "engine.state_dir_unusable");
      CHECK(rule != "engine.component_failed");
    }
    // What the engine keeps went where it was told: the fim baseline in state_dir, the control
    // socket in run_dir (made by the daemon, 0700), the temp folder in temp_dir; nothing of it
    // in state_dir but the state.
    CHECK(first(kv, "state_files").find("fim") != std::string::npos);
    CHECK(first(kv, "state_files").find("control.sock") == std::string::npos);
    CHECK(first(kv, "socket_in_run_dir") == "yes");
    CHECK(first(kv, "run_dir_mode") == "700");
    CHECK(first(kv, "status_rc") == "0");
    CHECK(first(kv, "temp_dir_made") == "yes");
  }
  THEN("the full file system, its recovery and the vanished folder are findings; the daemon "
       "lives on and stops with 0") {
    CHECK(first(kv, "small_alive") == "yes");
    CHECK(first(kv, "small_rc") == "0");
    CHECK(first(kv, "small_recreated") == "yes");
    std::vector<nlohmann::json> state_findings, run_findings;
    for (const auto& line :
         kv.count("small_finding") ? kv.at("small_finding") : std::vector<std::string>{}) {
      auto j = nlohmann::json::parse(line);
      if (j["evidence"]["key"] == "state_dir")
        state_findings.push_back(j);
      else if (j["evidence"]["key"] == "run_dir")
        run_findings.push_back(j);
      CHECK(j["evidence"]["key"] != "log_dir"); // no sink writes under the default log_dir
    }
    // run_dir shares the full file system: it is checked too, and says what fails there.
    REQUIRE(run_findings.size() >= 2);
    CHECK(run_findings[0]["rule"] == "engine.state_dir_unusable");
    CHECK(run_findings[0]["evidence"]["problem"] == "full");
    CHECK(run_findings[0]["title"].get<std::string>().find("control socket") != std::string::npos);
    CHECK(run_findings[1]["rule"] == "engine.state_dir_recovered");
    REQUIRE(state_findings.size() >= 4);
    CHECK(state_findings[0]["rule"] == "engine.state_dir_unusable");
    CHECK(state_findings[0]["evidence"]["problem"] == "full");
    CHECK(state_findings[0]["severity"] == "high");
    CHECK(state_findings[1]["rule"] == "engine.state_dir_recovered");
    CHECK(state_findings[2]["rule"] == "engine.state_dir_unusable");
    CHECK(state_findings[2]["evidence"]["problem"] == "vanished");
    CHECK(state_findings[2]["evidence"]["recreated"] == true);
    CHECK(state_findings[3]["rule"] == "engine.state_dir_recovered");
  }
}
