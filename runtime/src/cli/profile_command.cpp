// SPDX-License-Identifier: Apache-2.0
// `phantomguard profile`: runs the config for a while (or one scan) as `run` and `scan` do, then
// writes where its time, memory and I/O went, per component, with recommendations.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/engine_setup.hpp"
#include "cli/logging.hpp"
#include "cli/process_usage.hpp"
#include "cli/profile_report.hpp"
#include "cli/signal_waiter.hpp"
#include "phantomguard/runtime/engine.hpp"
#include "phantomguard/runtime/units.hpp"

#ifndef PG_VERSION
#define PG_VERSION "0.1.0"
#endif

namespace pg::cli {

using namespace pg::runtime;

namespace {

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

int profile_command(const global_options& global, const profile_arguments& args) {
  // Before any thread exists: SIGINT/SIGTERM end a --duration run early, with its report. (A
  // scan is not interrupted that way: the signals stay as they are.)
  std::optional<signal_waiter> signals;
  if (!args.scan)
    signals.emplace();
  if (!args.scan && args.duration.empty()) {
    std::cerr << "phantomguard profile: say what to profile: --scan (one scan) or --duration D "
                 "(run the config for D, e.g. 60s)\n";
    return 2;
  }
  if (!args.scan && !args.only.empty()) {
    std::cerr << "phantomguard profile: --only goes with --scan\n";
    return 2;
  }
  std::optional<duration> span;
  if (!args.scan) {
    span = parse_duration(args.duration);
    if (!span || span->count() <= 0) {
      std::cerr << "phantomguard profile: --duration '" << args.duration
                << "' is not a duration such as \"60s\"\n";
      return 2;
    }
  }
  const auto timeout = parse_duration(args.timeout);
  if (!timeout || timeout->count() <= 0) {
    std::cerr << "phantomguard profile: --timeout '" << args.timeout
              << "' is not a duration such as \"10m\"\n";
    return 2;
  }
  std::string format = args.format;
  if (format.empty()) {
    if (ends_with(args.output, ".html") || ends_with(args.output, ".htm"))
      format = "html";
    else if (ends_with(args.output, ".json"))
      format = "json";
    else {
      std::cerr << "phantomguard profile: cannot tell the report's format from '" << args.output
                << "': name it .html or .json, or say --format html|json\n";
      return 2;
    }
  }

  auto pipeline = reporting_pipeline(global, args.only, "profile");
  if (!pipeline)
    return 2;
  auto cfg = std::move(*pipeline);

  // The report file is opened first: a typo in --output must not cost a whole run.
  std::ofstream file(args.output, std::ios::out | std::ios::trunc);
  if (!file) {
    std::cerr << "phantomguard profile: cannot write --output " << args.output << ": "
              << std::strerror(errno) << '\n';
    return 2;
  }

  profile_report report;
  report.version = PG_VERSION;
  report.host = host_of(cfg);
  report.config = global.config_path.empty() ? std::string("<default>") : global.config_path;
  report.profile = cfg.profile.name;
  report.mode = args.scan ? "scan" : "run";
  report.started = utc_now();

  std::map<std::string, std::size_t> by_component;
  std::mutex findings_mutex;
  metrics_snapshot metrics;
  report.peak_from_start = !reset_peak_rss();
  const auto before = read_process_usage();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    engine eng(cfg);
    if (args.scan) {
      scan_options opts;
      opts.timeout = *timeout;
      auto result = eng.scan(opts);
      metrics = std::move(result.metrics);
      report.timed_out = result.timed_out;
      report.findings = result.findings.size();
      for (const auto& f : result.findings)
        ++by_component[f.analyzer];
    } else {
      std::mutex m;
      std::condition_variable cv;
      bool stop = false;
      signals->start(signal_waiter::handlers{[&](int) {
                                               std::lock_guard lock(m);
                                               stop = true;
                                               cv.notify_all();
                                             },
                                             [] {}});
      std::thread timer;
      run_options opts;
      opts.on_started = [&] {
        timer = std::thread([&] {
          {
            std::unique_lock lock(m);
            cv.wait_for(lock, *span, [&] { return stop; });
          }
          metrics = eng.metrics(); // before the drain: the figures of the span asked for
          eng.request_stop();
        });
      };
      opts.on_finding = [&](const finding& f) {
        std::lock_guard lock(findings_mutex);
        ++report.findings;
        ++by_component[f.analyzer];
      };
      spdlog::info("profiling {} for {}", report.config, format_duration(*span));
      (void)eng.run(opts);
      {
        std::lock_guard lock(m);
        stop = true;
        cv.notify_all();
      }
      if (timer.joinable())
        timer.join();
      signals->finish();
    }
  } catch (const std::exception& e) {
    if (signals)
      signals->finish();
    std::cerr << "phantomguard profile: the " << report.mode << " failed: " << e.what() << '\n';
    return 1;
  }
  const auto t1 = std::chrono::steady_clock::now();
  const auto after = read_process_usage();
  report.wall_seconds = std::chrono::duration<double>(t1 - t0).count();
  report.used.user_ns = after.user_ns - before.user_ns;
  report.used.system_ns = after.system_ns - before.system_ns;
  report.used.io = after.io.since(before.io);
  report.used.io_known = after.io_known && before.io_known;
  report.peak_rss_bytes = peak_rss_bytes();
  report.rss_end_bytes = after.rss_bytes;
  fill_components(report, cfg, metrics, by_component);

  if (format == "json")
    file << to_json(report).dump(2) << '\n';
  else
    file << to_html(report);
  file.flush();
  if (!file) {
    std::cerr << "phantomguard profile: writing " << args.output
              << " failed: " << std::strerror(errno) << '\n';
    return 1;
  }
  if (!global.quiet) {
    std::cerr << "profile: " << report.mode << " of " << report.config << ", "
              << report.components.size() << " components, "
              << human_bytes(static_cast<double>(report.peak_rss_bytes)) << " peak RSS, "
              << report.recommendations.size() << " recommendation(s); report written to "
              << args.output << '\n';
  }
  return 0;
}

} // namespace pg::cli
