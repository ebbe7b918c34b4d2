#include "phantomguard/actors/vuln/vuln_command.hpp"

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "phantomguard/actors/vuln/vuln_analyzer.hpp"
#include "phantomguard/actors/vuln/vuln_scan.hpp"
#include "phantomguard/runtime/report.hpp"

namespace pg::actors::vuln {

int run_vuln_command(int argc, char** argv) {
  CLI::App app{"Match the installed Debian packages of a root file system against OSV advisories "
               "(local directory or .zip; no network)",
               "phantomguard vuln"};
  std::string root = "/";
  std::string advisories;
  std::string release;
  std::string format = "table";
  std::string fail_on = "high";
  std::string default_severity = "medium";
  auto throttle = vuln_analyzer::default_throttle();
  throttle.nice = 0; // an interactive command runs at the caller's priority unless asked
  throttle.io_class = 2;
  throttle.io_level = 4;
  app.add_option("--root", root, "root file system whose var/lib/dpkg is read")
      ->capture_default_str();
  app.add_option("--advisories", advisories, "OSV advisories: a directory of *.json or a .zip")
      ->required();
  app.add_option("--release", release, "Debian release (\"12\"); default: from etc/os-release");
  app.add_option("--format", format, "table, json or jsonl")
      ->check(CLI::IsMember({"table", "json", "jsonl"}))
      ->capture_default_str();
  app.add_option("--fail-on", fail_on, "exit 1 when a finding is at or above this severity")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}))
      ->capture_default_str();
  app.add_option("--default-severity", default_severity,
                 "severity when an advisory has no CVSS score or severity")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}))
      ->capture_default_str();
  app.add_option("--workers", throttle.workers, "threads parsing advisories")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  std::error_code ec;
  if (!std::filesystem::exists(advisories, ec)) {
    std::cerr << "phantomguard vuln: advisory source '" << advisories
              << "' does not exist (give a directory of OSV *.json files or a .zip)\n";
    return 2;
  }
  if (!std::filesystem::is_directory(root, ec)) {
    std::cerr << "phantomguard vuln: root '" << root << "' is not a directory\n";
    return 2;
  }
  vuln_scan_request request;
  request.root = root;
  request.advisories = advisories;
  request.release = release;
  request.default_severity = *runtime::parse_severity(default_severity);
  request.throttle = throttle;
  collecting_sink sink;
  auto result = run_vuln_scan(request, sink);
  for (auto& f : sink.findings) {
    f.analyzer = "vuln";
    f.time = runtime::wall_clock::now();
  }
  runtime::write_findings(std::cout, sink.findings, *runtime::parse_output_format(format));
  if (format == "table")
    std::cerr << "vuln: " << result.packages << " packages, " << result.advisories
              << " advisories, release " << (result.release.empty() ? "unknown" : result.release)
              << ", " << result.findings << " vulnerable package matches\n";
  return runtime::exit_code_for(sink.findings, *runtime::parse_severity(fail_on));
}

} // namespace pg::actors::vuln
