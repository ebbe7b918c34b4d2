// SPDX-License-Identifier: Apache-2.0
// validate, graph, version and the command line itself, through the real binary.
#include <catch2/catch.hpp>

#include "cli_process.hpp"

using namespace pg::test;

SCENARIO("phantomguard validate checks a config file") {
  GIVEN("a valid config") {
    auto r = run_cli({"validate", "--config", "configs/good.toml"});
    THEN("it exits 0 with a one-line summary") {
      CHECK(r.code == 0);
      CHECK(r.out ==
            "configs/good.toml: ok (1 source, 0 analyzers, 0 detectors, 2 sinks; 2 edges)\n");
      CHECK(r.err.empty());
    }
  }
  GIVEN("a config with many mistakes") {
    auto r = run_cli({"validate", "--config", "configs/broken.toml"});
    THEN("it exits 2 and prints every error with its position, as in the golden file") {
      CHECK(r.code == 2);
      CHECK(r.out.empty());
      CHECK(r.err == golden("validate_broken.stderr", r.err));
    }
  }
  GIVEN("a config whose keys are all valid but whose fim rule could not be watched") {
    auto r = run_cli({"validate", "--config", "configs/wont_start.toml"});
    THEN("validate refuses it as scan would: exit 2, at the component's table") {
      CHECK(r.code == 2);
      CHECK(r.err == "configs/wont_start.toml:3:1: [analyzers.fim] would not start: fim: fim rule "
                     "\"etc\": \"path\" must be an absolute path\n1 error in "
                     "configs/wont_start.toml\n");
      auto scan = run_cli({"scan", "--config", "configs/wont_start.toml"});
      CHECK(scan.code == 2);
      CHECK(scan.err == r.err);
    }
  }
  GIVEN("a config with a syntax error") {
    auto r = run_cli({"validate", "-c", "configs/syntax.toml"});
    THEN("it exits 2 and names the position of the syntax error") {
      CHECK(r.code == 2);
      CHECK(r.err == golden("validate_syntax.stderr", r.err));
    }
  }
  GIVEN("a config file that does not exist") {
    auto r = run_cli({"validate", "--config", "nope.toml"});
    THEN("it exits 2 and says why") {
      CHECK(r.code == 2);
      CHECK(r.err == "nope.toml: cannot read the config file: No such file or directory\n"
                     "1 error in nope.toml\n");
    }
  }
  GIVEN("no --config") {
    auto r = run_cli({"validate"});
    THEN("the embedded default config is checked, and it is valid") {
      CHECK(r.code == 0);
      CHECK(r.out.rfind("<default>: ok (", 0) == 0);
      CHECK(r.err.empty());
    }
  }
}

SCENARIO("phantomguard graph prints the pipeline as DOT") {
  WHEN("the config is valid") {
    auto r = run_cli({"graph", "--config", "configs/good.toml"});
    THEN("the DOT text matches the golden file") {
      CHECK(r.code == 0);
      CHECK(r.out == golden("graph_good.dot", r.out));
    }
  }
  WHEN("the config is broken") {
    auto r = run_cli({"graph", "--config", "configs/broken.toml"});
    THEN("no graph, the diagnostics, exit 2") {
      CHECK(r.code == 2);
      CHECK(r.out.empty());
      CHECK(r.err == golden("validate_broken.stderr", r.err));
    }
  }
}

SCENARIO("the command line itself") {
  THEN("version prints the version") {
    auto r = run_cli({"version"});
    CHECK(r.code == 0);
    CHECK(r.out.rfind("phantomguard ", 0) == 0);
    CHECK(r.out.back() == '\n');
  }
  THEN("an unknown subcommand exits 2 with a message") {
    auto r = run_cli({"frobnicate", "--now"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "phantomguard: unknown command 'frobnicate'\n"
                   "Run 'phantomguard --help' for the list of commands.\n");
  }
  THEN("a misspelt subcommand gets a suggestion") {
    auto r = run_cli({"scna"});
    CHECK(r.code == 2);
    CHECK(r.err.rfind("phantomguard: unknown command 'scna'; did you mean 'scan'?\n", 0) == 0);
  }
  THEN("a bad option value is a usage error, exit 2") {
    auto r = run_cli({"scan", "--format", "xml"});
    CHECK(r.code == 2);
    CHECK(r.err.find("--format") != std::string::npos);
  }
  THEN("no subcommand is a usage error, exit 2") {
    CHECK(run_cli({}).code == 2);
  }
  THEN("--help lists the subcommands and exits 0") {
    auto r = run_cli({"--help"});
    CHECK(r.code == 0);
    for (const char* sub : {"scan", "run", "validate", "graph", "version"})
      CHECK(r.out.find(std::string("  ") + sub) != std::string::npos);
  }
}
