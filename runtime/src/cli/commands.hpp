// SPDX-License-Identifier: Apache-2.0
// commands.hpp — the built-in subcommands of `phantomguard`. Each returns the process exit code:
// 0 clean, 1 a finding at or above --fail-on (scan), 2 a usage or config error.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/report.hpp"

namespace pg::runtime {
struct engine_settings;
}

namespace pg::cli {

/// Options every subcommand shares.
struct global_options {
  std::string config_path;               // empty: the embedded default config
  std::optional<std::string> log_level;  // overrides engine.log_level
  std::optional<std::string> plugin_dir; // overrides engine.plugin_dir
  std::string profile;                   // --profile: overrides engine.profile
  std::string host_resources;            // --host-resources: the host "auto" sizes for
  bool explain = false;                  // validate --explain
  bool quiet = false;
};

struct scan_arguments {
  std::vector<std::string> only;
  runtime::output_format format = runtime::output_format::table;
  runtime::severity fail_on = runtime::severity::high;
  std::string output; // empty: stdout
  std::string timeout = "30m";
  std::string metrics_file; // node_exporter textfile format, written by atomic rename
};

struct status_arguments {
  bool json = false;
  std::string url;        // the API instead of the control socket ("http://127.0.0.1:9464")
  std::string token_file; // default: the config's [api] token_file
  std::chrono::milliseconds interval{1000}; // top: between screens
  std::size_t count = 0;                    // top: stop after this many screens (0: never)
};

struct bench_arguments {
  std::string component;
  std::size_t iterations = 10;
  std::size_t warmup = 1;
  std::string input;     // JSON Lines of events for on_batch; empty: one pass of its inputs
  std::string state_dir; // empty: a temporary one, removed after
  bool json = false;
};

struct profile_arguments {
  bool scan = false;    // one scan; else run for `duration`
  std::string duration; // "60s"
  std::vector<std::string> only;
  std::string output; // report.html or report.json
  std::string format; // html | json; empty: from the output's extension
  std::string timeout = "30m";
};

/// `<run_dir>/control.sock` (run_dir defaults to state_dir): where `run` answers `status` and
/// `top`.
std::string control_socket_path(const runtime::engine_settings& engine);

int scan_command(const global_options& global, const scan_arguments& args);
int run_command(const global_options& global);
int validate_command(const global_options& global);
int graph_command(const global_options& global);
/// 0 shown, 2 a config error, 3 no daemon answers.
int status_command(const global_options& global, const status_arguments& args);
int top_command(const global_options& global, const status_arguments& args);
/// What this host gives the engine as the config declares it: 0 all ok (notes included),
/// 1 a warning (something runs degraded), 2 a failure or a config that does not load.
int doctor_command(const global_options& global, bool json);
/// Times one component's handler in this process: 0 measured, 1 the component failed, 2 a usage
/// or config error.
int bench_command(const global_options& global, const bench_arguments& args);
/// Runs the config (or one scan) with per-component accounting and writes a report: 0 written,
/// 1 the run failed or the report could not be written, 2 a usage or config error.
int profile_command(const global_options& global, const profile_arguments& args);

} // namespace pg::cli
