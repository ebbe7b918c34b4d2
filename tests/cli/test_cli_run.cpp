// SPDX-License-Identifier: Apache-2.0
// phantomguard run: signals. SIGHUP with a broken config keeps the running one; SIGTERM drains.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "cli_process.hpp"

using namespace pg::test;
namespace fs = std::filesystem;

namespace {

bool eventually_contains(const fs::path& file, const std::string& text,
                         std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream in(file);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

} // namespace

SCENARIO("the daemon reloads on SIGHUP and stops on SIGTERM") {
  GIVEN("phantomguard run with a config file") {
    char tmpl[] = "/tmp/pg_cli_run_XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const auto cfg = dir / "pg.toml";
    const std::string good = "[engine]\nlog_level = \"info\"\nshutdown_timeout = \"5s\"\n"
                             "[sources.procfs]\ntype = \"procfs\"\ninterval = \"1s\"\n"
                             "[sinks.archive]\ntype = \"jsonl\"\ninputs = [\"procfs\"]\n"
                             "path = \"" +
                             (dir / "out.jsonl").string() + "\"\n";
    std::ofstream(cfg) << good;
    cli_process p({"run", "--config", cfg.string()});
    REQUIRE(wait_for(p, "running ", std::chrono::seconds(10)));

    WHEN("the file is broken and SIGHUP arrives") {
      std::ofstream(cfg) << good << "[sinks.bad]\ntype = \"jsonl\"\ninputs = [\"procfx\"]\n";
      p.signal(SIGHUP);
      THEN("the reload is refused with the diagnostics and the daemon keeps running") {
        CHECK(wait_for(p, "reload refused", std::chrono::seconds(10)));
        CHECK(p.err().find(cfg.string() + ":13:11: unknown input 'procfx' in [sinks.bad]; did "
                                          "you mean 'procfs'?") != std::string::npos);
        CHECK(p.err().find(cfg.string() + ":11:1: [sinks.bad] is missing required key 'path'") !=
              std::string::npos);
        CHECK(p.running());
        // The refusal reaches the sinks too, as engine.reload_failed with the errors.
        CHECK(eventually_contains(dir / "out.jsonl", "\"rule\":\"engine.reload_failed\"",
                                  std::chrono::seconds(10)));

        AND_WHEN("the file is fixed and SIGHUP arrives again, then SIGTERM") {
          std::ofstream(cfg) << good;
          p.signal(SIGHUP);
          CHECK(wait_for(p, "reloaded " + cfg.string(), std::chrono::seconds(10)));
          CHECK(p.running());
          p.signal(SIGTERM);
          THEN("it drains and exits 0 within the shutdown deadline") {
            CHECK(p.wait(std::chrono::seconds(15)) == 0);
            CHECK(p.err().find("draining") != std::string::npos);
          }
        }
      }
    }
    fs::remove_all(dir);
  }
}

SCENARIO("run with a broken config does not start") {
  THEN("exit 2 with the diagnostics") {
    auto r = run_cli({"run", "--config", "configs/broken.toml"});
    CHECK(r.code == 2);
    CHECK(r.err == golden("validate_broken.stderr", r.err));
  }
}
