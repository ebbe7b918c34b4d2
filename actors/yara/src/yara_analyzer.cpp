// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/yara_analyzer.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/proc_stat.hpp"
#include "phantomguard/runtime/process_memory.hpp"
#include "phantomguard/runtime/refusal.hpp"

namespace pg::actors::yara {

yara_analyzer::yara_analyzer(const runtime::component_init& init) : name_(init.name) {
  std::string error;
  auto parsed = parse_yara_settings(init.settings.table(), &error);
  if (!parsed)
    throw runtime::component_refused("yara.config", init.name + ": " + error);
  if (parsed->rules.empty())
    throw runtime::component_refused("yara.config", init.name + ": no `rules` configured");
  settings_ = std::move(*parsed);
  cache_dir_ = settings_.cache_dir;
  if (cache_dir_.empty())
    cache_dir_ =
        (std::filesystem::path(init.state_dir.empty() ? "/var/lib/phantomguard" : init.state_dir) /
         init.name)
            .string();
  // The engine's own files are never targets: the compiled rules and the result cache hold the
  // rules' strings, and a state folder under /tmp would otherwise report itself.
  for (const auto& own : {cache_dir_, init.state_dir}) {
    if (own.empty())
      continue;
    auto dir = std::filesystem::path(own).lexically_normal().string();
    while (dir.size() > 1 && dir.back() == '/')
      dir.pop_back();
    settings_.targets.exclude.push_back(dir);
    settings_.targets.exclude.push_back(dir + "/*");
  }
}

yara_analyzer::~yara_analyzer() = default;

namespace {

// This process's resident set, 0 when unreadable.
std::int64_t resident_bytes() {
  return static_cast<std::int64_t>(runtime::process_rss_bytes());
}

} // namespace

void yara_analyzer::load_rules(runtime::context& ctx) {
  const auto resident_before = resident_bytes();
  auto rs = load_ruleset(settings_.rules, settings_.cache ? cache_dir_ : std::string());
  for (const auto& e : rs.errors) {
    runtime::finding f;
    f.rule = "yara.rule_error";
    f.level = runtime::severity::low;
    f.title = "YARA rule file not loaded: " + e.to_string();
    f.entity = {{"path", e.file}};
    f.evidence = {{"file", e.file}, {"line", e.line}, {"message", e.message}};
    ctx.emit_finding(std::move(f));
  }
  ctx.count("rule_files_loaded", static_cast<std::int64_t>(rs.loaded.size()));
  ctx.count("rule_errors", static_cast<std::int64_t>(rs.errors.size()));
  if (!rs.rules)
    throw runtime::component_refused("yara.rules",
                                     name_ + ": no YARA rule file could be loaded (" +
                                         std::to_string(rs.files.size()) + " found, " +
                                         std::to_string(rs.errors.size()) + " errors)");
  if (rs.from_cache)
    ctx.count("rules_cache_hits");
  if (cache_)
    cache_->forget_other_rulesets(rs.hash);
  if (scanner_)
    publish(ctx);
  auto targets = settings_.targets;
  targets.threads = &ctx.threads(); // scanning on the component's metered threads
  // Compiling builds libyara's automaton from millions of small allocations it frees again; the
  // heap keeps them resident unless asked: give them back (tens of MiB for a large rule set).
  ::malloc_trim(0);
  // The compiled set lives in libyara's own allocations, which the engine cannot see: what the
  // load left resident (measured across it; at least the arena's used bytes) is accounted while
  // this set is the one loaded.
  const auto rules_bytes = std::max(static_cast<std::int64_t>(rs.rules ? rs.rules->bytes() : 0),
                                    resident_bytes() - resident_before);
  ctx.account_memory(rules_bytes - rules_accounted_);
  rules_accounted_ = rules_bytes;
  ctx.gauge("rules_bytes", static_cast<double>(rules_bytes));
  scanner_ = std::make_unique<target_scanner>(std::move(rs), cache_.get(), targets);
  published_ = {};
}

void yara_analyzer::start(runtime::context& ctx) {
  if (settings_.cache) {
    std::error_code ec;
    std::filesystem::create_directories(cache_dir_, ec);
    // The cache only saves work: without it every file is scanned, nothing is missed.
    std::vector<std::string> notes;
    cache_ = open_result_cache(cache_dir_ + "/results.db", notes);
    for (const auto& n : notes)
      ctx.log(runtime::log_level::warn, name_ + ": " + n);
    if (!cache_)
      ctx.count("cache_errors");
    else
      cache_->set_policy(settings_.cache_policy);
  }
  load_rules(ctx);
}

void yara_analyzer::on_tick(runtime::context& ctx) {
  if (!scanner_)
    return;
  host::context_sink emit(ctx);
  if (!scanner_->active()) {
    if (ruleset_hash(settings_.rules) != scanner_->rules().hash)
      load_rules(ctx);
    scanner_->begin(settings_.paths);
  }
  bool done = scanner_->run(emit, [&ctx] { return ctx.should_stop(); });
  if (done && settings_.scan_processes) {
    auto self = ::getpid();
    for (auto pid : host::list_pids()) {
      if (ctx.should_stop())
        break;
      if (pid == self)
        continue;
      std::string error;
      // Kernel threads have no memory to scan and no exe; vanished processes are normal.
      if (!host::read_link("/proc/" + std::to_string(pid) + "/exe"))
        continue;
      if (!scanner_->scan_process(pid, emit, &error))
        ctx.count("process_errors");
    }
  }
  publish(ctx);
}

void yara_analyzer::stop(runtime::context& ctx) {
  publish(ctx);
}

void yara_analyzer::publish(runtime::context& ctx) {
  if (!scanner_)
    return;
  const auto& t = scanner_->totals();
  auto delta = [&](const char* name, std::uint64_t now, std::uint64_t& before) {
    if (now != before)
      ctx.count(name, static_cast<std::int64_t>(now - before));
    before = now;
  };
  delta("files", t.files, published_.files);
  delta("files_scanned", t.scanned, published_.scanned);
  delta("skipped", t.skipped, published_.skipped);
  delta("matches", t.matches, published_.matches);
  delta("errors", t.errors, published_.errors);
  delta("processes", t.processes, published_.processes);
  delta("segments", t.segments, published_.segments);
  if (cache_) // hits, misses, evictions, expired: the cache facility's counters
    cache_->counters().publish(ctx);
}

const target_totals* yara_analyzer::totals() const noexcept {
  return scanner_ ? &scanner_->totals() : nullptr;
}

} // namespace pg::actors::yara
