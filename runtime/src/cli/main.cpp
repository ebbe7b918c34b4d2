// SPDX-License-Identifier: Apache-2.0
// main.cpp — the composition root of `phantomguard`: registers the built-in families (and plugin
// support when the plugin host is built), then dispatches to a built-in subcommand (CLI11) or to
// an ad hoc command a family registered (`phantomguard fim ...`).
#include <algorithm>
#include <csignal>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/logging.hpp"
#include "phantomguard/actors/builtin.hpp"
#include "phantomguard/runtime/build_families.hpp"
#include "phantomguard/runtime/process_memory.hpp"
#include "phantomguard/runtime/registry.hpp"
#include "phantomguard/runtime/suggestion.hpp"
#ifdef PG_HAVE_PLUGIN_HOST
#include "phantomguard/runtime/plugin_host.hpp"
#endif

#ifndef PG_VERSION
#define PG_VERSION "0.1.0"
#endif

namespace {

using namespace pg;

const std::vector<std::string> builtin_commands = {
    "scan", "run", "validate", "graph", "status", "top", "doctor", "bench", "profile", "version"};
const std::vector<std::string> log_levels = {"trace", "debug",    "info", "warn",
                                             "error", "critical", "off"};

// Global options that take a value, so that their value is not mistaken for a command name.
bool takes_value(std::string_view arg) {
  return arg == "--log-level" || arg == "--plugin-dir";
}

// The first argument that is not an option (or an option's value): the command name.
int command_index(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (takes_value(a)) {
      ++i;
      continue;
    }
    if (!a.empty() && a.front() == '-')
      continue;
    return i;
  }
  return 0;
}

std::string option_value(char** argv, int end, std::string_view name) {
  std::string value;
  for (int i = 1; i < end; ++i) {
    std::string_view a = argv[i];
    if (a == name && i + 1 < end)
      value = argv[i + 1];
    else if (a.size() > name.size() + 1 && a.substr(0, name.size()) == name &&
             a[name.size()] == '=')
      value = std::string(a.substr(name.size() + 1));
  }
  return value;
}

std::string commands_footer() {
  std::string out;
  for (const auto* c : runtime::registry::instance().commands()) {
    if (out.empty())
      out = "\nCommands contributed by analyzer families (phantomguard COMMAND --help):\n";
    std::string name = "  " + c->name;
    name.resize(std::max<std::size_t>(name.size() + 2, 14), ' ');
    out += name + c->summary + "\n";
  }
  out += "\nExit codes: 0 clean, 1 a finding at or above --fail-on, 2 a usage or config error.\n";
  return out;
}

// `phantomguard fim ...`: argv[0] becomes "phantomguard fim", the rest is the command's own.
int run_ad_hoc(const runtime::command& cmd, int argc, char** argv, int index) {
  const std::string level = option_value(argv, index, "--log-level");
  cli::configure_logging(level.empty() ? "warn" : level, runtime::log_format::text);
  std::string argv0 = "phantomguard " + cmd.name;
  std::vector<char*> args;
  args.push_back(argv0.data());
  for (int i = index + 1; i < argc; ++i)
    args.push_back(argv[i]);
  args.push_back(nullptr);
  return cmd.run(static_cast<int>(args.size() - 1), args.data());
}

int dispatch(int argc, char** argv) {
  auto& reg = runtime::registry::instance();
  if (const int index = command_index(argc, argv); index > 0) {
    const std::string name = argv[index];
    const bool builtin =
        std::find(builtin_commands.begin(), builtin_commands.end(), name) != builtin_commands.end();
    if (!builtin) {
      if (const auto* cmd = reg.find_command(name))
        return run_ad_hoc(*cmd, argc, argv, index);
      if (const auto family = runtime::left_out_family(name)) {
        std::cerr << "phantomguard: command " << runtime::left_out_message(name, *family) << '\n';
        return 2;
      }
      std::vector<std::string> known = builtin_commands;
      for (const auto* c : reg.commands())
        known.push_back(c->name);
      const auto guess = runtime::closest_match(name, known);
      std::cerr << "phantomguard: unknown command '" << name << "'"
                << (guess.empty() ? std::string() : "; did you mean '" + guess + "'?") << '\n'
                << "Run 'phantomguard --help' for the list of commands.\n";
      return 2;
    }
  }

  CLI::App app{"PhantomGuard: host security monitoring with supervised analyzer pipelines",
               "phantomguard"};
  app.footer(commands_footer());
  app.require_subcommand(1);
  app.fallthrough(); // global options also work after the subcommand

  cli::global_options global;
  std::string log_level;
  std::string plugin_dir;
  app.add_option("--log-level", log_level, "Log level (overrides engine.log_level)")
      ->check(CLI::IsMember(log_levels));
  app.add_option("--plugin-dir", plugin_dir,
                 "Where plugin ids are looked up (overrides "
                 "engine.plugin_dir)");

  auto add_config = [&](CLI::App* sub) {
    sub->add_option("-c,--config", global.config_path,
                    "Config file (default: the configuration compiled into the binary)");
    sub->add_option("--profile", global.profile,
                    "Stand the config on this profile (low-resource, desktop, server, auto or a "
                    "file; overrides engine.profile); without --config, run the profile alone");
    sub->add_option("--host-resources", global.host_resources,
                    "Size \"auto\" for this host instead of the detected one: "
                    "cores=N,memory=SIZE[,battery=yes|no][,on_battery=yes|no][,chassis=KIND]");
  };

  cli::scan_arguments scan_args;
  std::string format = "table";
  std::string fail_on = "high";
  auto* scan =
      app.add_subcommand("scan", "Run every source, analyzer and detector once and report");
  add_config(scan);
  scan->add_option("--only", scan_args.only,
                   "Keep only these sources/analyzers/detectors (comma-separated); sinks stay")
      ->delimiter(',');
  scan->add_option("--format", format, "Report format")
      ->check(CLI::IsMember({"table", "json", "jsonl"}))
      ->capture_default_str();
  scan->add_option("--fail-on", fail_on, "Exit 1 when a finding reaches this severity")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}))
      ->capture_default_str();
  scan->add_option("-o,--output", scan_args.output, "Write the report to this file");
  scan->add_option("--metrics-file", scan_args.metrics_file,
                   "Write the scan's metrics here (Prometheus text, for node_exporter's textfile "
                   "collector; replaced atomically)");
  scan->add_option("--timeout", scan_args.timeout, "Stop components still busy after this long")
      ->capture_default_str();
  scan->add_flag("-q,--quiet", global.quiet, "No summary on stderr");

  auto* run =
      app.add_subcommand("run", "Run the pipelines as a daemon (SIGHUP reloads the config)");
  add_config(run);
  auto* validate = app.add_subcommand("validate", "Check the config; print every error");
  add_config(validate);
  validate->add_flag("--explain", global.explain,
                     "Also print the profile chosen and why, every \"auto\" value and what it "
                     "came to, and where each key of the effective config was set (FILE:LINE:COL)");
  auto* graph = app.add_subcommand("graph", "Print the pipeline graph as Graphviz DOT");
  add_config(graph);
  cli::status_arguments status_args;
  std::string top_interval = "1s";
  auto add_daemon = [&](CLI::App* sub) {
    add_config(sub);
    sub->add_option("--url", status_args.url,
                    "Ask the HTTP API at this URL (e.g. http://127.0.0.1:9464) instead of the "
                    "control socket");
    sub->add_option("--token-file", status_args.token_file,
                    "The API's bearer token (default: the config's [api] token_file)");
  };
  auto* status = app.add_subcommand(
      "status", "Show what the running daemon does: components, rates, quotas, last findings");
  add_daemon(status);
  status->add_flag("--json", status_args.json, "Print JSON");
  auto* top = app.add_subcommand("top", "A live view of the running daemon, refreshed");
  add_daemon(top);
  top->add_option("--interval", top_interval, "Time between screens")->capture_default_str();
  top->add_option("-n,--count", status_args.count, "Stop after this many screens");
  bool doctor_json = false;
  auto* doctor = app.add_subcommand(
      "doctor", "Check what this host gives the engine (privileges, kernel features, folders, "
                "data, clock) and say what to do; exit 0 ok, 1 warnings, 2 failures");
  add_config(doctor);
  doctor->add_flag("--json", doctor_json, "Print JSON");
  cli::bench_arguments bench_args;
  auto* bench = app.add_subcommand(
      "bench", "Time one component's tick or batch handler in this process: min/median/p95 time, "
               "CPU, peak memory, I/O");
  add_config(bench);
  bench->add_option("component", bench_args.component, "The component's name in the config")
      ->required();
  bench->add_option("-n,--iterations", bench_args.iterations, "Timed calls")->capture_default_str();
  bench->add_option("--warmup", bench_args.warmup, "Calls before the timed ones (not timed)")
      ->capture_default_str();
  bench->add_option("--input", bench_args.input,
                    "Events to time on_batch with (JSON Lines: {\"kind\": ..., fields...}); "
                    "default: one pass of the component's inputs");
  bench->add_option("--state-dir", bench_args.state_dir,
                    "Where the component keeps state while benched (default: a temporary dir, "
                    "removed after)");
  bench->add_flag("--json", bench_args.json, "Print JSON");
  cli::profile_arguments profile_args;
  auto* profile = app.add_subcommand(
      "profile", "Run the config (--duration) or one scan (--scan) with per-component "
                 "accounting and write a report (HTML with charts, or JSON)");
  add_config(profile);
  auto* profile_scan = profile->add_flag("--scan", profile_args.scan, "Profile one scan");
  profile->add_option("--duration", profile_args.duration, "Profile `run` for this long (e.g. 60s)")
      ->excludes(profile_scan);
  profile
      ->add_option("--only", profile_args.only,
                   "With --scan: keep only these sources/analyzers/detectors (comma-separated)")
      ->delimiter(',');
  profile->add_option("-o,--output", profile_args.output, "The report: FILE.html or FILE.json")
      ->required();
  profile
      ->add_option("--format", profile_args.format,
                   "html or json (default: from the output's extension)")
      ->check(CLI::IsMember({"html", "json"}));
  profile->add_option("--timeout", profile_args.timeout, "With --scan: as scan's --timeout")
      ->capture_default_str();
  auto* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!log_level.empty())
    global.log_level = log_level;
  if (!plugin_dir.empty())
    global.plugin_dir = plugin_dir;

  if (*version) {
    std::cout << "phantomguard " << PG_VERSION << '\n';
    if (const auto left = runtime::left_out_families(); !left.empty()) {
      std::cout << "built without the families:";
      for (const auto& f : left)
        std::cout << ' ' << f;
      std::cout << " (docs/build.md)\n";
    }
    return 0;
  }
  if (*validate)
    return cli::validate_command(global);
  if (*doctor)
    return cli::doctor_command(global, doctor_json);
  if (*bench)
    return cli::bench_command(global, bench_args);
  if (*profile)
    return cli::profile_command(global, profile_args);
  if (*graph)
    return cli::graph_command(global);
  if (*run)
    return cli::run_command(global);
  if (*status)
    return cli::status_command(global, status_args);
  if (*top) {
    auto d = runtime::parse_duration(top_interval);
    if (!d || *d < std::chrono::milliseconds(100)) {
      std::cerr << "phantomguard: --interval must be a duration of 100ms or more (e.g. 2s), not '"
                << top_interval << "'\n";
      return 2;
    }
    status_args.interval = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    return cli::top_command(global, status_args);
  }
  scan_args.format = *runtime::parse_output_format(format);
  scan_args.fail_on = *runtime::parse_severity(fail_on);
  return cli::scan_command(global, scan_args);
}

} // namespace

int main(int argc, char** argv) {
  // glibc's default of 8 malloc arenas per core lets a long-running daemon add an arena at each
  // lock-contention episode, whose free pages then stay resident (docs/operations.md, "Memory").
  runtime::cap_heap_arenas(2 * std::max(1u, std::thread::hardware_concurrency()));
  // A receiver that resets a connection must give the sender EPIPE, not kill the daemon:
  // OpenSSL writes to its sockets with write(2), which has no MSG_NOSIGNAL. Children get the
  // default back (posix_spawn with POSIX_SPAWN_SETSIGDEF).
  std::signal(SIGPIPE, SIG_IGN);
  try {
    actors::register_builtin();
#ifdef PG_HAVE_PLUGIN_HOST
    runtime::register_plugin_support(runtime::registry::instance());
#endif
    return dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "phantomguard: " << e.what() << '\n';
    return 2;
  }
}
