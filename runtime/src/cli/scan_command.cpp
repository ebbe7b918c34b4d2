// SPDX-License-Identifier: Apache-2.0
// `phantomguard scan`: one pass of every source, analyzer and detector, a report, an exit code.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/engine_setup.hpp"
#include "cli/logging.hpp"
#include "phantomguard/runtime/engine.hpp"
#include "phantomguard/runtime/prometheus.hpp"

namespace pg::cli {

using namespace pg::runtime;

namespace {

std::int64_t sum_prefixed(const component_metrics& m, std::string_view prefix) {
  std::int64_t total = 0;
  for (const auto& [name, value] : m.counters)
    if (name.rfind(prefix, 0) == 0)
      total += value;
  return total;
}

void print_summary(std::ostream& out, const scan_report& report, const pipeline_config& cfg,
                   std::chrono::steady_clock::duration took) {
  std::size_t per_level[5] = {};
  for (const auto& f : report.findings)
    ++per_level[static_cast<std::size_t>(f.level)];
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2fs", std::chrono::duration<double>(took).count());
  out << "scan: " << report.findings.size()
      << (report.findings.size() == 1 ? " finding" : " findings");
  std::string levels;
  for (int i = 4; i >= 0; --i)
    if (per_level[i] > 0)
      levels += (levels.empty() ? "" : ", ") + std::to_string(per_level[i]) + " " +
                std::string(to_string(static_cast<severity>(i)));
  if (!levels.empty())
    out << " (" << levels << ")";
  out << " from " << cfg.components.size()
      << (cfg.components.size() == 1 ? " component in " : " components in ") << secs;
  if (report.timed_out)
    out << " (TIMED OUT: busy components were stopped)";
  std::int64_t suppressed = 0;
  for (const auto& m : report.metrics.components)
    suppressed += sum_prefixed(m, "custom.findings_suppressed");
  if (suppressed > 0)
    out << "; " << suppressed << (suppressed == 1 ? " finding" : " findings")
        << " suppressed by [[suppress]] (validate lists them)";
  out << '\n';
  std::size_t width = 9;
  for (const auto& m : report.metrics.components)
    width = std::max(width, m.name.size());
  out << std::left << std::setw(static_cast<int>(width)) << "COMPONENT" << std::right
      << std::setw(11) << "EVENTS_IN" << std::setw(12) << "EVENTS_OUT" << std::setw(9) << "DROPPED"
      << std::setw(7) << "LOST" << std::setw(10) << "RESTARTS" << '\n';
  for (const auto& m : report.metrics.components) {
    out << std::left << std::setw(static_cast<int>(width)) << m.name << std::right << std::setw(11)
        << sum_prefixed(m, "events_in") << std::setw(12) << sum_prefixed(m, "events_out")
        << std::setw(9) << sum_prefixed(m, "dropped") << std::setw(7)
        << sum_prefixed(m, "events_lost") << std::setw(10) << sum_prefixed(m, "restarts") << '\n';
  }
}

// node_exporter's textfile collector reads *.prom files: written whole to a temporary file, then
// renamed over the old one, so a scrape never sees half a file.
bool write_metrics_file(const std::string& path, const std::string& tmp, const scan_report& report,
                        std::chrono::steady_clock::duration took) {
  std::string text = to_prometheus(report.metrics, PG_VERSION, false);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", std::chrono::duration<double>(took).count());
  text += "# HELP phantomguard_scan_duration_seconds How long the last scan took.\n"
          "# TYPE phantomguard_scan_duration_seconds gauge\n"
          "phantomguard_scan_duration_seconds " +
          std::string(buf) + "\n";
  const auto now = unix_seconds();
  std::snprintf(buf, sizeof buf, "%.3f", now);
  text += "# HELP phantomguard_scan_completion_timestamp_seconds When the last scan ended (unix "
          "time).\n# TYPE phantomguard_scan_completion_timestamp_seconds gauge\n"
          "phantomguard_scan_completion_timestamp_seconds " +
          std::string(buf) + "\n";
  std::size_t per_level[5] = {};
  for (const auto& f : report.findings)
    ++per_level[static_cast<std::size_t>(f.level)];
  text += "# HELP phantomguard_scan_findings Findings of the last scan, by severity.\n"
          "# TYPE phantomguard_scan_findings gauge\n";
  for (int i = 0; i < 5; ++i)
    text += "phantomguard_scan_findings{severity=\"" +
            std::string(to_string(static_cast<severity>(i))) + "\"} " +
            std::to_string(per_level[i]) + "\n";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::cerr << "phantomguard scan: writing --metrics-file " << path
                << " failed: " << std::strerror(errno) << '\n';
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::cerr << "phantomguard scan: cannot replace " << path << ": " << std::strerror(errno)
              << '\n';
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

} // namespace

int scan_command(const global_options& global, const scan_arguments& args) {
  auto pipeline = reporting_pipeline(global, args.only, "scan");
  if (!pipeline)
    return 2;
  auto cfg = std::move(*pipeline);
  const auto timeout = parse_duration(args.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::cerr << "phantomguard scan: --timeout '" << args.timeout
              << "' is not a duration such as \"10m\"\n";
    return 2;
  }

  // Open the report file before scanning: a typo in --output should not cost a whole scan.
  std::ofstream file;
  if (!args.output.empty()) {
    file.open(args.output, std::ios::out | std::ios::trunc);
    if (!file) {
      std::cerr << "phantomguard scan: cannot write --output " << args.output << ": "
                << std::strerror(errno) << '\n';
      return 2;
    }
  }
  // The metrics file's folder is checked before scanning too: it is written by rename, from a
  // temporary file beside it.
  std::string metrics_tmp;
  if (!args.metrics_file.empty()) {
    metrics_tmp = args.metrics_file + ".tmp." + std::to_string(::getpid());
    std::ofstream probe(metrics_tmp);
    if (!probe) {
      std::cerr << "phantomguard scan: cannot write --metrics-file " << args.metrics_file << ": "
                << std::strerror(errno) << '\n';
      return 2;
    }
    probe.close();
    std::remove(metrics_tmp.c_str());
  }
  scan_report report;
  const auto started = std::chrono::steady_clock::now();
  try {
    engine eng(cfg);
    scan_options opts;
    opts.timeout = *timeout;
    report = eng.scan(opts);
  } catch (const std::exception& e) {
    spdlog::critical("scan failed: {}", e.what());
    return 2;
  }
  const auto took = std::chrono::steady_clock::now() - started;

  std::ostream& out = args.output.empty() ? std::cout : file;
  write_findings(out, report.findings, args.format);
  if (!out) {
    std::cerr << "phantomguard scan: writing the report failed: " << std::strerror(errno) << '\n';
    return 2;
  }
  if (!global.quiet)
    print_summary(std::cerr, report, cfg, took);
  if (!args.metrics_file.empty() &&
      !write_metrics_file(args.metrics_file, metrics_tmp, report, took))
    return 2;
  return exit_code_for(report.findings, args.fail_on);
}

} // namespace pg::cli
