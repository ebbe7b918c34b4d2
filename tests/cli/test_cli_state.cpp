// SPDX-License-Identifier: Apache-2.0
// The engine's temp folder through the real binary: a scan cleans what a killed process left
// in `<state_dir>/tmp` and leaves a live process's entry; `temp_dir` moves it; a temp folder
// that cannot be made is a warning, not a failed scan.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
