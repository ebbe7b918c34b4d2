// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/container_command.hpp"

#include <iostream>

#include <CLI/CLI.hpp>

#include "phantomguard/actors/container/container_analyzer.hpp"
#include "phantomguard/actors/container/image_scan.hpp"
#include "phantomguard/actors/container/image_source.hpp"
#include "phantomguard/actors/container/live_container.hpp"
#include "phantomguard/runtime/report.hpp"

namespace pg::actors::container {

int run_container_command(int argc, char** argv) {
  CLI::App app{"Container checks: scan an image or root file system, or the live containers",
               "phantomguard container"};
  app.require_subcommand(1);
  std::string format = "table";
  std::string fail_on = "high";
  const std::vector<std::string> levels{"info", "low", "medium", "high", "critical"};
  auto common = [&](CLI::App* sub) {
    sub->add_option("--format", format, "table, json or jsonl")
        ->check(CLI::IsMember({"table", "json", "jsonl"}))
        ->capture_default_str();
    sub->add_option("--fail-on", fail_on, "exit 1 when a finding is at or above this severity")
        ->check(CLI::IsMember(levels))
        ->capture_default_str();
  };
  auto* scan = app.add_subcommand("scan", "scan a root file system folder or an OCI image layout");
  std::string target;
  image_scan_options options;
  options.throttle = container_analyzer::default_throttle();
  extract_limits limits;
  std::string work_dir;
  std::string default_severity = "medium";
  std::string max_secret = "1MiB";
  std::string max_extract = "4GiB";
  bool no_secrets = false;
  scan->add_option("DIR", target, "root file system or OCI image layout")->required();
  scan->add_option("--advisories", options.advisories,
                   "OSV advisories (folder or .zip) to match the packages against");
  scan->add_option("--release", options.release, "Debian release override");
  scan->add_option("--default-severity", default_severity,
                   "severity of a package match whose advisory has none")
      ->check(CLI::IsMember(levels))
      ->capture_default_str();
  scan->add_option("--max-secret-scan-size", max_secret, "bytes of each file searched for secrets")
      ->capture_default_str();
  scan->add_option("--max-extract-size", max_extract, "bytes unpacked from an OCI image")
      ->capture_default_str();
  scan->add_option("--work-dir", work_dir, "where OCI layers are unpacked (default TMPDIR)");
  scan->add_flag("--no-secrets", no_secrets, "do not search file contents for secrets");
  common(scan);
  auto* live = app.add_subcommand("live", "check the containers running on this host");
  std::string proc_root = "/proc";
  live->add_option("--proc", proc_root, "where /proc is mounted")->capture_default_str();
  common(live);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto secret_bytes = runtime::parse_size(max_secret);
  auto extract_bytes = runtime::parse_size(max_extract);
  if (!secret_bytes || !extract_bytes) {
    std::cerr << "phantomguard container: sizes are numbers with an optional unit (64MiB)\n";
    return 2;
  }
  host::collecting_sink sink;
  if (scan->parsed()) {
    options.max_secret_scan_bytes = *secret_bytes;
    options.secrets = !no_secrets;
    options.default_severity = *runtime::parse_severity(default_severity);
    limits.max_total_bytes = *extract_bytes;
    std::string error;
    auto img = open_image(target, limits, work_dir, &error);
    if (!img) {
      std::cerr << "phantomguard container scan: " << error << "\n";
      return 2;
    }
    if (img->extract.unsafe_paths > 0) {
      runtime::finding f;
      f.rule = "container.unsafe_layer";
      f.level = runtime::severity::high;
      f.title = std::to_string(img->extract.unsafe_paths) +
                " layer entries tried to leave the image root (skipped)";
      f.entity = {{"image", target}};
      f.evidence = {{"count", img->extract.unsafe_paths},
                    {"examples", img->extract.unsafe_examples}};
      f.mitre = {"T1611"};
      sink.post(std::move(f));
    }
    auto r = scan_image(*img, options, sink);
    if (format == "table")
      std::cerr << "container scan: " << r.files << " files, " << r.directories << " folders, "
                << r.packages << " packages" << (img->oci ? ", " : "")
                << (img->oci ? std::to_string(img->layers) + " layers unpacked" : "") << "\n";
  } else {
    live_scan_stats stats;
    auto host = read_host_reference(proc_root);
    auto containers = find_live_containers(host, proc_root, &stats);
    for (const auto& c : containers)
      check_live_container(c, host, sink, proc_root);
    if (format == "table")
      std::cerr << "container live: " << stats.processes << " processes, " << containers.size()
                << " containers\n";
  }
  for (auto& f : sink.findings) {
    f.analyzer = "container";
    f.time = runtime::wall_clock::now();
  }
  runtime::write_findings(std::cout, sink.findings, *runtime::parse_output_format(format));
  return runtime::exit_code_for(sink.findings, *runtime::parse_severity(fail_on));
}

} // namespace pg::actors::container
