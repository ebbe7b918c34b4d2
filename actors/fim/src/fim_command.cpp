// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/fim_command.hpp"

#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <pwd.h>
#include <sstream>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "phantomguard/actors/fim/baseline_db.hpp"
#include "phantomguard/actors/fim/fim_scanner.hpp"
#include "phantomguard/actors/fim/fim_settings.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/report.hpp"

namespace pg::actors::fim {

namespace {

// The fim settings of a config file: a standalone rules file (top-level `rules`) or a pipeline
// config, whose analyzer of type "fim" named `name` (the first one when empty) is used; with the
// database the daemon's analyzer of that config uses (<state_dir>/<name>/fim.db unless the
// table names one).
struct fim_table {
  toml::table table;
  std::string database;
};

std::optional<fim_table> find_fim_table(const toml::table& doc, const std::string& name) {
  if (doc.contains("rules") && name.empty())
    return fim_table{doc, default_database_path("", "fim")};
  auto found = runtime::find_component_table(doc, "analyzers", "fim", name);
  if (!found)
    return std::nullopt;
  auto state_dir = doc["engine"]["state_dir"].value<std::string>().value_or("");
  return fim_table{found->table, default_database_path(state_dir, found->name)};
}

// Keys of the pipeline table that are the runtime's, not the analyzer's.
void strip_runtime_keys(toml::table& t) {
  for (const auto& k : runtime::common_component_keys())
    t.erase(k);
}

} // namespace

int run_fim_command(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"File integrity: `init` records a baseline of the watched trees, `check` reports "
               "fim.added, fim.removed and fim.changed against it (every time, until `accept` "
               "records them, with who and when).",
               "phantomguard fim"};
  std::string action, config_path, db_path, analyzer;
  std::vector<std::string> paths;
  std::string format = "table", fail_on = "high", rehash;
  bool update = false, stats = false;
  int workers = 0;
  std::string seal_value, seal_path, by;
  app.add_option("action", action, "init, check or accept")
      ->required()
      ->check(CLI::IsMember({"init", "check", "accept"}));
  app.add_option("paths", paths, "paths to scan instead of the configured trees");
  app.add_option("--config,-c", config_path,
                 "a rules file (rules = [...]) or a pipeline config with a fim analyzer");
  app.add_option("--analyzer", analyzer,
                 "the fim analyzer of --config to use, by name (default: the first)");
  app.add_option("--db", db_path,
                 "baseline database (default: the one the config's analyzer uses, "
                 "<state_dir>/<name>/fim.db, normally /var/lib/phantomguard/fim/fim.db)");
  app.add_option("--format", format, "table, json or jsonl")
      ->check(CLI::IsMember({"table", "json", "jsonl"}));
  app.add_option("--fail-on", fail_on, "exit 1 at this severity or above")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  app.add_option("--rehash", rehash, "changed or always")
      ->check(CLI::IsMember({"changed", "always"}));
  app.add_option("--workers", workers, "hashing threads")->check(CLI::Range(1, 64));
  app.add_flag("--update", update, "check: accept what it reports (as `accept` does)");
  app.add_option("--seal", seal_value,
                 "check: the digest the baseline must have (printed by init and accept; keep it "
                 "where the host cannot change it)");
  app.add_option("--seal-file", seal_path, "where the baseline's seal is kept")
      ->capture_default_str();
  app.add_option("--by", by, "accept: who accepts (default: $SUDO_USER, else the login name)");
  app.add_flag("--stats", stats, "print scan counts to stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }

  // Settings: the config file, else the compiled-in default config's fim analyzer, else the
  // built-in rules.
  toml::table table;
  std::string origin, analyzer_db;
  try {
    if (!config_path.empty()) {
      // The file with its profile under it: a fim analyzer may come from the profile.
      auto composed = runtime::compose_config_file(config_path);
      if (!composed.errors.empty()) {
        for (const auto& d : composed.errors)
          err << "phantomguard fim: " << d.to_string() << '\n';
        return 2;
      }
      const auto& doc = composed.doc;
      auto t = find_fim_table(doc, analyzer);
      if (!t) {
        err << "phantomguard fim: " << config_path << ": "
            << (analyzer.empty() ? std::string("no `rules` and no analyzer of type \"fim\"")
                                 : "no analyzer of type \"fim\" named \"" + analyzer + "\"")
            << " found\n";
        return 2;
      }
      table = std::move(t->table);
      analyzer_db = std::move(t->database);
      origin = config_path;
    } else {
      auto doc = toml::parse(runtime::default_config_text());
      if (auto t = find_fim_table(doc, analyzer)) {
        table = std::move(t->table);
        analyzer_db = std::move(t->database);
      } else if (!analyzer.empty()) {
        err << "phantomguard fim: the default config has no fim analyzer named \"" << analyzer
            << "\"\n";
        return 2;
      }
      origin = "<default>";
    }
  } catch (const toml::parse_error& e) {
    err << "phantomguard fim: " << (config_path.empty() ? "<default>" : config_path) << ':'
        << e.source().begin.line << ':' << e.source().begin.column << ": " << e.description()
        << '\n';
    return 2;
  }
  strip_runtime_keys(table);
  std::string error;
  auto settings = parse_fim_settings(table, &error);
  if (!settings) {
    err << "phantomguard fim: " << origin << ": " << error << '\n';
    return 2;
  }
  // The database (and seal) the daemon's analyzer of this config uses, unless --db names one.
  if (db_path.empty())
    db_path = !settings->database.empty() ? settings->database
              : !analyzer_db.empty()      ? analyzer_db
                                          : default_database_path("", "fim");
  if (!rehash.empty())
    settings->scan.rehash = rehash == "always" ? rehash_policy::always : rehash_policy::changed;
  if (workers > 0)
    settings->scan.workers = static_cast<unsigned>(workers);

  // Paths override the configured trees; the rule governing each one still applies, and a path
  // outside every rule is watched with the NORMAL attributes.
  std::vector<std::string> roots;
  for (const auto& p : paths) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(p, ec);
    auto n = normalise_path(ec ? p : abs.string());
    if (!settings->rules.rule_for(n)) {
      fim_rule r;
      r.path = n;
      settings->rules.add(std::move(r));
    }
    roots.push_back(n);
  }

  bool init = action == "init";
  bool accept = action == "accept" || (action == "check" && update);
  if (seal_path.empty())
    seal_path = seal_path_for(db_path, settings->seal);
  if (!seal_value.empty() && seal_value.rfind("sha256:", 0) == 0)
    seal_value = seal_value.substr(7);
  try {
    if (init) {
      std::error_code ec;
      auto parent = std::filesystem::path(db_path).parent_path();
      if (!parent.empty())
        std::filesystem::create_directories(parent, ec);
    } else if (!std::filesystem::exists(db_path)) {
      err << "phantomguard fim: no baseline at " << db_path
          << " (record one with `phantomguard fim init`)\n";
      return 2;
    }
    baseline_db db(db_path, init);
    if (auto wal = db.replayed_wal_bytes(); wal > 0)
      err << "phantomguard fim: " << recovery_note(db_path, wal) << "\n";
    if (!init && !db.initialized()) {
      err << "phantomguard fim: " << db_path
          << " holds no complete baseline (record one with `phantomguard fim init`)\n";
      return 2;
    }
    // The baseline against its seal, before it is used: edited behind our back, it is a finding.
    std::vector<runtime::finding> findings;
    if (!init) {
      std::optional<baseline_seal> seal;
      std::string seal_error;
      try {
        seal = read_seal(seal_path);
      } catch (const baseline_error& e) {
        seal_error = e.what();
      }
      std::string expected = !seal_value.empty() ? seal_value : seal ? seal->digest : "";
      std::string now = db.digest();
      if (!seal_error.empty() || (!expected.empty() && expected != now)) {
        runtime::finding f;
        f.rule = "fim.baseline_tampered";
        f.level = runtime::severity::critical;
        f.title = seal_error.empty() ? "The file integrity baseline does not match its seal"
                                     : "The file integrity baseline's seal is damaged";
        f.entity = {{"path", db_path}};
        f.evidence = {{"seal", seal_value.empty() ? seal_path : std::string("--seal")},
                      {"digest_now", now},
                      {"entries_now", db.count()}};
        if (!expected.empty())
          f.evidence["sealed_digest"] = expected;
        if (!seal_error.empty())
          f.evidence["error"] = seal_error;
        f.mitre = {"T1565.001", "T1070"};
        findings.push_back(std::move(f));
      }
    }
    fim_scanner scanner(settings->rules, db, settings->scan);
    std::size_t before = findings.size();
    scanner.begin(init ? fim_scanner::mode::init : fim_scanner::mode::check, roots, accept);
    host::callback_sink emit([&](runtime::finding f) { findings.push_back(std::move(f)); });
    scanner.run(emit);
    const auto& st = scanner.stats();
    for (const auto& e : st.error_samples)
      err << "phantomguard fim: warning: cannot read " << e << '\n';
    if (init || accept) {
      if (accept) {
        // Who accepted what, and when, kept with the baseline.
        if (by.empty()) {
          if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo)
            by = sudo;
          else if (const passwd* pw = ::getpwuid(::getuid()))
            by = pw->pw_name;
          else
            by = "uid " + std::to_string(::getuid());
        }
        auto at = runtime::format_rfc3339(runtime::wall_clock::now());
        for (std::size_t i = before; i < findings.size(); ++i) {
          const auto& f = findings[i];
          std::string path = f.entity.value("path", "");
          db.record_acceptance({path, f.rule, by, at});
          out << "accepted " << f.rule << ' ' << path << '\n';
        }
      }
      auto seal = write_seal(db, seal_path);
      if (init)
        err << "phantomguard fim: baseline of " << db.count() << " entries written to " << db_path
            << " (" << st.hashed << " files hashed, " << st.errors << " unreadable)\n";
      else
        err << "phantomguard fim: " << findings.size() - before << " change(s) accepted by " << by
            << " into " << db_path << '\n';
      err << "phantomguard fim: baseline seal sha256:" << seal.digest << " (" << seal_path
          << "; keep a copy where this host cannot change it: `fim check --seal sha256:...`)\n";
      return 0;
    }
    if (stats)
      err << "phantomguard fim: entries " << st.entries << ", hashed " << st.hashed << " ("
          << st.hashed_bytes << " bytes), added " << st.added << ", removed " << st.removed
          << ", changed " << st.changed << ", unreadable " << st.errors << '\n';
    auto now = runtime::wall_clock::now();
    for (auto& f : findings) {
      f.time = now;
      f.analyzer = "fim";
    }
    runtime::write_findings(out, findings, *runtime::parse_output_format(format));
    return runtime::exit_code_for(findings, *runtime::parse_severity(fail_on));
  } catch (const baseline_error& e) {
    err << "phantomguard fim: " << e.what() << '\n';
    return 2;
  }
}

std::pair<int, nlohmann::json> accept_over_api(const nlohmann::json& request,
                                               const std::string& config_path) {
  auto refuse = [](int status, std::string why) {
    return std::pair<int, nlohmann::json>{status, {{"error", std::move(why)}}};
  };
  if (!request.is_object())
    return refuse(400, "the body must be a JSON object: {\"by\": NAME, \"paths\": [...]}");
  for (const auto& [key, value] : request.items())
    if (key != "by" && key != "paths" && key != "analyzer")
      return refuse(400, "unknown key \"" + key + "\" (by, paths, analyzer)");
  auto by = request.find("by");
  if (by == request.end() || !by->is_string() || by->get<std::string>().empty())
    return refuse(400, "\"by\" (who accepts, kept with the baseline) is required");
  std::vector<std::string> args{"phantomguard fim", "accept", "--by", by->get<std::string>()};
  if (!config_path.empty()) {
    args.push_back("--config");
    args.push_back(config_path);
  }
  if (auto a = request.find("analyzer"); a != request.end()) {
    if (!a->is_string() || a->get<std::string>().empty())
      return refuse(400, "\"analyzer\" must be a fim analyzer's name");
    args.push_back("--analyzer");
    args.push_back(a->get<std::string>());
  }
  std::vector<std::string> paths;
  if (auto p = request.find("paths"); p != request.end()) {
    if (!p->is_array())
      return refuse(400, "\"paths\" must be an array of absolute paths");
    for (const auto& v : *p) {
      if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>()[0] != '/')
        return refuse(400, "\"paths\" must be an array of absolute paths");
      paths.push_back(v.get<std::string>());
    }
  }
  if (!paths.empty())
    args.push_back("--"); // a path is never taken for an option
  args.insert(args.end(), paths.begin(), paths.end());
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  std::ostringstream out, err;
  const int rc = run_fim_command(static_cast<int>(argv.size()), argv.data(), out, err);
  std::vector<std::string> messages;
  std::string seal;
  std::istringstream err_lines(err.str());
  for (std::string line; std::getline(err_lines, line);) {
    messages.push_back(line);
    if (auto at = line.find("baseline seal sha256:"); at != std::string::npos)
      seal = line.substr(at + 14, 7 + 64);
  }
  if (rc != 0)
    return {
        422,
        {{"error", messages.empty() ? "accept failed" : messages.back()}, {"messages", messages}}};
  nlohmann::json accepted = nlohmann::json::array();
  std::istringstream out_lines(out.str());
  for (std::string line; std::getline(out_lines, line);) {
    // "accepted RULE PATH"
    if (line.rfind("accepted ", 0) != 0)
      continue;
    auto rest = line.substr(9);
    auto space = rest.find(' ');
    if (space == std::string::npos)
      continue;
    accepted.push_back({{"rule", rest.substr(0, space)}, {"path", rest.substr(space + 1)}});
  }
  return {200,
          {{"accepted", accepted},
           {"by", by->get<std::string>()},
           {"seal", seal},
           {"messages", messages}}};
}

} // namespace pg::actors::fim
