// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/yara_command.hpp"

#include <filesystem>
#include <ostream>

#include <CLI/CLI.hpp>

#include "phantomguard/actors/yara/result_cache.hpp"
#include "phantomguard/actors/yara/target_scanner.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/report.hpp"
#include "phantomguard/runtime/units.hpp"

namespace pg::actors::yara {

namespace {

// The rules of the compiled-in default config's first yara analyzer, when it has one.
std::vector<std::string> default_rules() {
  try {
    auto doc = toml::parse(runtime::default_config_text());
    if (const auto* analyzers = doc["analyzers"].as_table())
      for (const auto& [name, node] : *analyzers)
        if (const auto* t = node.as_table(); t && (*t)["type"].value<std::string>() == "yara")
          return runtime::component_settings(*t).get_string_list("rules");
  } catch (const toml::parse_error&) {
  }
  return {};
}

} // namespace

int run_yara_command(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"Scan files (recursively) or process memory with YARA rules; each matching rule "
               "and target is a yara.match finding.",
               "phantomguard yara"};
  std::vector<std::string> rules, paths, excludes;
  std::vector<int> pids;
  std::string format = "table", fail_on = "high", severity = "medium", max_size = "0";
  std::string cache_dir = "/var/lib/phantomguard/yara";
  bool no_cache = false, follow = false, fast = false, stats = false;
  int workers = 1, timeout = 60;
  // Each option takes one value per occurrence (repeat it for more): a vector option would
  // otherwise swallow the paths after it (`--rules R PATH` scanned nothing).
  app.add_option("--rules,-r", rules, "rule file or directory (repeatable)")
      ->allow_extra_args(false);
  app.add_option("paths", paths, "files and directories to scan (recursively)");
  app.add_option("--pid,-p", pids, "scan this process's memory (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--exclude", excludes, "glob or re:REGEX to leave out (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--format", format, "table, json or jsonl")
      ->check(CLI::IsMember({"table", "json", "jsonl"}));
  app.add_option("--fail-on", fail_on, "exit 1 at this severity or above")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  app.add_option("--severity", severity, "severity of a match without meta `severity`")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  app.add_option("--max-size", max_size, "skip larger files (e.g. 64MiB; 0 = no limit)");
  app.add_option("--workers,-j", workers, "scanner threads")->check(CLI::Range(1, 32));
  app.add_option("--timeout", timeout, "seconds per file or process")->check(CLI::Range(1, 86400));
  app.add_option("--cache-dir", cache_dir, "compiled rules and result cache")
      ->capture_default_str();
  app.add_flag("--no-cache", no_cache, "neither read nor write any cache");
  app.add_flag("--follow-symlinks,-L", follow, "scan symlink targets (as `yara -r` does)");
  app.add_flag("--fast", fast, "fast matching mode");
  app.add_flag("--stats", stats, "print scan counts to stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }
  if (paths.empty() && pids.empty()) {
    err << "phantomguard yara: nothing to scan (give PATH... or --pid N)\n";
    return 2;
  }
  if (rules.empty())
    rules = default_rules();
  if (rules.empty()) {
    err << "phantomguard yara: no rules (give --rules FILE_OR_DIR)\n";
    return 2;
  }
  auto limit = runtime::parse_size(max_size);
  if (!limit) {
    err << "phantomguard yara: --max-size: not a size: " << max_size << '\n';
    return 2;
  }

  try {
    std::unique_ptr<result_cache> cache;
    std::string rules_cache;
    if (!no_cache) {
      std::error_code ec;
      std::filesystem::create_directories(cache_dir, ec);
      std::vector<std::string> notes;
      cache = open_result_cache(cache_dir + "/results.db", notes);
      for (const auto& n : notes)
        err << "phantomguard yara: warning: " << n << '\n';
      if (cache)
        rules_cache = cache_dir;
    }
    auto rs = load_ruleset(rules, rules_cache);
    for (const auto& e : rs.errors)
      err << e.to_string() << '\n';
    if (!rs.rules) {
      err << "phantomguard yara: no rule file could be loaded (" << rs.files.size() << " found)\n";
      return 2;
    }
    bool from_cache = rs.from_cache;
    auto loaded = rs.loaded.size();
    target_options opts;
    opts.workers = static_cast<unsigned>(workers);
    opts.max_file_size = *limit;
    opts.timeout_seconds = timeout;
    opts.fast = fast;
    opts.follow_symlinks = follow;
    opts.exclude = excludes;
    opts.level = *runtime::parse_severity(severity);
    target_scanner scanner(std::move(rs), cache.get(), opts);

    std::vector<runtime::finding> findings;
    host::callback_sink emit([&](runtime::finding f) { findings.push_back(std::move(f)); });
    int status = 0;
    if (!paths.empty()) {
      scanner.begin(paths);
      scanner.run(emit);
    }
    for (int pid : pids) {
      std::string error;
      if (!scanner.scan_process(pid, emit, &error)) {
        err << "phantomguard yara: " << error << '\n';
        status = 2;
      }
    }
    const auto& t = scanner.totals();
    for (const auto& e : t.error_samples)
      err << "phantomguard yara: warning: " << e << '\n';
    if (stats)
      err << "phantomguard yara: rules " << loaded << " file(s)"
          << (from_cache ? " (compiled, from cache)" : "") << "; files " << t.files << ", scanned "
          << t.scanned << ", cached " << t.cache_hits << ", skipped " << t.skipped << ", errors "
          << t.errors << ", processes " << t.processes << ", matches " << t.matches << '\n';
    auto now = runtime::wall_clock::now();
    for (auto& f : findings) {
      f.time = now;
      f.analyzer = "yara";
    }
    runtime::write_findings(out, findings, *runtime::parse_output_format(format));
    int code = runtime::exit_code_for(findings, *runtime::parse_severity(fail_on));
    return status ? status : code;
  } catch (const std::exception& e) {
    err << "phantomguard yara: " << e.what() << '\n';
    return 2;
  }
}

} // namespace pg::actors::yara
