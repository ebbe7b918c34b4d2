// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/vuln_command.hpp"

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "phantomguard/actors/vuln/advisory_update.hpp"
#include "phantomguard/actors/vuln/vuln_analyzer.hpp"
#include "phantomguard/actors/vuln/vuln_scan.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/options.hpp"
#include "phantomguard/runtime/report.hpp"
#include "phantomguard/runtime/units.hpp"

namespace pg::actors::vuln {

namespace {

constexpr const char* default_advisory_file = "/var/lib/phantomguard/osv/debian.zip";

// `phantomguard vuln update`: refresh the advisory file the config's vuln analyzer reads.
int run_update_command(int argc, char** argv) {
  CLI::App app{"Download the advisory archive (conditional request, size limit, checksum, atomic "
               "replace; the last good copy stays when anything fails)",
               "phantomguard vuln update"};
  std::string config_path, url, output, sha256, checksum_url, ca_file, max_size, timeout;
  bool force = false;
  app.add_option("--config,-c", config_path,
                 "a pipeline config: its first vuln analyzer gives advisories, update_url, "
                 "update_checksum_url, update_max_size, update_timeout and update_ca_file "
                 "(default: the embedded default config)");
  app.add_option("--url", url,
                 std::string("http(s) URL (default: update_url, else ") + default_advisory_url +
                     ")");
  app.add_option("--output,-o", output,
                 std::string("the file to keep current (default: advisories, else ") +
                     default_advisory_file + ")");
  app.add_option("--sha256", sha256, "the SHA-256 the download must have");
  app.add_option("--checksum-url", checksum_url, "a sha256sum-style file naming the SHA-256");
  app.add_option("--max-size", max_size, "refuse a larger download (default 1GiB)");
  app.add_option("--timeout", timeout, "read timeout (default 5m)");
  app.add_option("--ca-file", ca_file, "extra CA bundle for https");
  app.add_flag("--force", force, "download even when the stored ETag / Last-Modified match");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  advisory_update_request request;
  request.output = default_advisory_file;
  // The first vuln analyzer of the config (or of the embedded default config) names the file
  // and the source; the pipeline is not built, so this works for any valid vuln table.
  // The file with its profile under it (a vuln analyzer may come from the profile).
  auto composed = runtime::compose_config_file(config_path);
  if (!composed.errors.empty()) {
    for (const auto& d : composed.errors)
      std::cerr << "phantomguard vuln update: " << d.to_string() << '\n';
    return 2;
  }
  auto table = runtime::find_component_table(composed.doc, "analyzers", "vuln");
  if (table) {
    runtime::component_settings s(table->table);
    if (auto a = s.get_string("advisories", ""); !a.empty())
      request.output = a;
    if (auto u = s.get_string("update_url", ""); !u.empty())
      request.url = u;
    request.checksum_url = s.get_string("update_checksum_url", "");
    request.ca_file = s.get_string("update_ca_file", "");
    request.max_bytes = s.get_size("update_max_size", request.max_bytes);
    request.timeout = std::chrono::duration_cast<std::chrono::seconds>(
        s.get_duration("update_timeout", request.timeout));
  } else if (!config_path.empty() && output.empty()) {
    std::cerr << "phantomguard vuln update: " << config_path
              << " has no analyzer of type \"vuln\": give --output\n";
    return 2;
  }
  if (!url.empty())
    request.url = url;
  if (!output.empty())
    request.output = output;
  if (!sha256.empty())
    request.sha256 = sha256;
  if (!checksum_url.empty())
    request.checksum_url = checksum_url;
  if (!ca_file.empty())
    request.ca_file = ca_file;
  if (!max_size.empty()) {
    auto v = runtime::parse_size(max_size);
    if (!v || *v == 0) {
      std::cerr << "phantomguard vuln update: --max-size '" << max_size
                << "' is not a size (e.g. 512MiB)\n";
      return 2;
    }
    request.max_bytes = *v;
  }
  if (!timeout.empty()) {
    auto v = runtime::parse_duration(timeout);
    if (!v || *v < std::chrono::seconds(1)) {
      std::cerr << "phantomguard vuln update: --timeout '" << timeout
                << "' is not a duration of at least 1s (e.g. 90s)\n";
      return 2;
    }
    request.timeout = std::chrono::duration_cast<std::chrono::seconds>(*v);
  }
  request.force = force;

  auto r = update_advisories(request);
  switch (r.result) {
  case advisory_update_result::outcome::updated:
    std::cout << "updated " << request.output << ": " << r.advisories << " advisories, "
              << runtime::format_size(r.bytes) << ", sha256 " << r.sha256
              << (r.sha256_checked ? " (checked)" : "")
              << (r.md5_checked ? ", server MD5 checked" : "") << '\n';
    if (!r.error.empty())
      std::cerr << "phantomguard vuln update: warning: " << r.error << '\n';
    return 0;
  case advisory_update_result::outcome::not_modified:
    std::cout << "up to date " << request.output << ": not modified at " << request.url << " ("
              << r.advisories << " advisories)\n";
    return 0;
  case advisory_update_result::outcome::failed:
    break;
  }
  std::cerr << "phantomguard vuln update: " << r.error;
  std::error_code ec;
  if (std::filesystem::exists(request.output, ec))
    std::cerr << " (kept the current " << request.output << ")";
  std::cerr << '\n';
  return 1;
}

} // namespace

int run_vuln_command(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "update")
    return run_update_command(argc - 1, argv + 1);
  CLI::App app{"Match the installed Debian packages of a root file system against OSV advisories "
               "(a local directory, .zip or .json; `phantomguard vuln update` downloads them)",
               "phantomguard vuln"};
  std::string root = "/";
  std::string advisories;
  std::string release;
  std::string format = "table";
  std::string fail_on = "high";
  std::string default_severity = "medium";
  std::string max_age = "7d";
  auto throttle = vuln_analyzer::default_throttle();
  app.add_option("--root", root, "root file system whose var/lib/dpkg is read")
      ->capture_default_str();
  app.add_option("--advisories", advisories,
                 "OSV advisories: a directory of *.json, a .zip or a .json file")
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
  app.add_option("--max-age", max_age,
                 "report vuln.advisories_stale when the data is older (0s disables)")
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
  auto age = runtime::parse_duration(max_age);
  if (!age) {
    std::cerr << "phantomguard vuln: --max-age '" << max_age
              << "' is not a duration (e.g. 7d, 0s to disable)\n";
    return 2;
  }
  std::error_code ec;
  if (!std::filesystem::exists(advisories, ec)) {
    std::cerr << "phantomguard vuln: advisory source '" << advisories
              << "' does not exist (give a directory of OSV *.json files or a .zip; `phantomguard "
                 "vuln update --output FILE` downloads one)\n";
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
  request.max_age = std::chrono::duration_cast<std::chrono::seconds>(*age);
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
