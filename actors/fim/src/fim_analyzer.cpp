// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/fim_analyzer.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "phantomguard/runtime/refusal.hpp"

namespace pg::actors::fim {

fim_analyzer::fim_analyzer(const runtime::component_init& init) : name_(init.name) {
  std::string error;
  auto parsed = parse_fim_settings(init.settings.table(), &error);
  if (!parsed)
    throw runtime::component_refused("fim.config", init.name + ": " + error);
  settings_ = std::move(*parsed);
  db_path_ = settings_.database;
  if (db_path_.empty())
    db_path_ = default_database_path(init.state_dir, init.name);
}

fim_analyzer::~fim_analyzer() = default;

void fim_analyzer::start(runtime::context& ctx) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(db_path_).parent_path(), ec);
  try {
    db_ = std::make_unique<baseline_db>(db_path_);
  } catch (const baseline_error& e) {
    throw runtime::component_refused("fim.database", name_ + ": " + e.what());
  }
  if (auto wal = db_->replayed_wal_bytes(); wal > 0) {
    ctx.log(runtime::log_level::warn, name_ + ": " + recovery_note(db_path_, wal));
    ctx.count("recovered_wal_bytes", static_cast<std::int64_t>(wal));
  }
  seal_path_ = seal_path_for(db_path_, settings_.seal);
  check_seal(ctx);
  try {
    if (const auto freed = db_->compact(); freed > 0)
      ctx.count("state_compacted_bytes", freed);
  } catch (const baseline_error& e) { // only space not given back: the baseline itself is fine
    ctx.log(runtime::log_level::warn, name_ + ": compacting the baseline failed: " + e.what());
  }
  auto scan = settings_.scan;
  scan.threads = &ctx.threads(); // hashing on the component's metered threads
  scanner_ = std::make_unique<fim_scanner>(settings_.rules, *db_, scan);
  if (settings_.realtime) {
    std::vector<std::string> roots;
    for (const auto& r : settings_.rules.rules())
      roots.push_back(r.path);
    const rule_set& rules = settings_.rules;
    // A directory is watched when it is itself watched and a rule governs its entries.
    auto watched = [&rules](const std::string& dir) {
      return rules.watched(dir) && rules.rule_for(dir == "/" ? "/x" : dir + "/x") != nullptr;
    };
    watcher_ =
        std::make_unique<tree_watcher>(roots, watched, [](const std::string&) { return true; });
    try {
      watcher_->start(ctx.threads());
    } catch (const std::system_error& e) {
      ctx.log(runtime::log_level::warn,
              name_ + ": real-time mode unavailable (" + e.what() + "), scheduled scans only");
      watcher_.reset();
    }
    if (watcher_)
      ctx.gauge("watches", static_cast<double>(watcher_->watch_count()));
  }
}

void fim_analyzer::on_tick(runtime::context& ctx) {
  if (!db_)
    return;
  host::context_sink emit(ctx);
  bool need_full = !settings_.realtime || !last_full_ || scanner_->active() ||
                   ctx.now() - *last_full_ >= settings_.full_scan_interval;
  // Changed paths wait in the watcher while a pass is in progress or no baseline exists yet
  // (they are checked once it does, so nothing seen during the first pass is lost).
  if (watcher_ && !scanner_->active() && db_->initialized()) {
    bool overflowed = false;
    auto changed = watcher_->drain(&overflowed);
    if (!changed.empty()) {
      scanner_->check_paths(changed, emit);
      if (settings_.update_baseline)
        reseal(ctx);
    }
    if (overflowed) {
      // Changes were lost in the kernel's queue: a full pass finds what is still different.
      ctx.lost("inotify_overflow", 1);
      need_full = true;
    }
  }
  if (need_full) {
    if (!scanner_->active()) {
      bool first = !db_->initialized();
      if (!first)
        check_seal(ctx); // each full pass starts by checking the baseline it compares with
      scanner_->begin(first ? fim_scanner::mode::init : fim_scanner::mode::check, {},
                      settings_.update_baseline);
    }
    bool was_init = !db_->initialized();
    bool done = scanner_->run(emit, [&ctx] { return ctx.should_stop(); });
    if (done) {
      last_full_ = ctx.now();
      if (was_init || settings_.update_baseline)
        reseal(ctx); // the engine wrote the baseline: this is its new seal
      if (was_init) {
        runtime::finding f;
        f.rule = "fim.baseline";
        f.level = runtime::severity::info;
        f.title = "File integrity baseline recorded (" + std::to_string(db_->count()) + " entries)";
        f.entity = {{"path", db_path_}};
        f.evidence = {{"entries", db_->count()}, {"database", db_path_}};
        ctx.emit_finding(std::move(f));
      }
    }
  }
  publish(ctx);
}

void fim_analyzer::check_seal(runtime::context& ctx) {
  std::optional<baseline_seal> seal;
  try {
    seal = read_seal(seal_path_);
  } catch (const baseline_error& e) {
    // A damaged seal is reported like a tampered one: it was not the engine that wrote it so.
    if (reported_digest_ != "damaged") {
      reported_digest_ = "damaged";
      runtime::finding f;
      f.rule = "fim.baseline_tampered";
      f.level = runtime::severity::critical;
      f.title = "The file integrity baseline's seal is damaged";
      f.entity = {{"path", db_path_}};
      f.evidence = {{"seal", seal_path_}, {"error", e.what()}};
      f.mitre = {"T1565.001", "T1070"};
      ctx.emit_finding(std::move(f));
    }
    return;
  }
  bool complete = db_->initialized();
  if (!seal) {
    // No seal yet (a baseline from before seals, or the first run): seal what is there.
    if (complete)
      reseal(ctx);
    return;
  }
  auto digest = complete ? db_->digest() : std::string("empty");
  if (complete && digest == seal->digest) {
    reported_digest_.clear();
    return;
  }
  if (digest == reported_digest_)
    return; // this state was reported already
  reported_digest_ = digest;
  runtime::finding f;
  f.level = runtime::severity::critical;
  f.entity = {{"path", db_path_}};
  f.mitre = {"T1565.001", "T1070"};
  if (!complete) {
    f.rule = "fim.baseline_missing";
    f.title = "The file integrity baseline is gone or empty though its seal records " +
              std::to_string(seal->entries) + " entries: recording a new one";
    f.evidence = {{"seal", seal_path_},
                  {"sealed_entries", seal->entries},
                  {"sealed_at", seal->written_at},
                  {"entries_now", db_->count()}};
  } else {
    f.rule = "fim.baseline_tampered";
    f.title = "The file integrity baseline was changed outside the engine (" +
              std::to_string(db_->count()) + " entries, sealed with " +
              std::to_string(seal->entries) + ")";
    f.evidence = {{"seal", seal_path_},
                  {"sealed_digest", seal->digest},
                  {"digest_now", digest},
                  {"sealed_entries", seal->entries},
                  {"sealed_at", seal->written_at},
                  {"entries_now", db_->count()},
                  {"fix", "compare with a copy of the baseline kept elsewhere; once understood, "
                          "`phantomguard fim accept` re-seals it"}};
  }
  ctx.emit_finding(std::move(f));
}

void fim_analyzer::reseal(runtime::context& ctx) {
  try {
    write_seal(*db_, seal_path_);
    reported_digest_.clear();
  } catch (const baseline_error& e) {
    ctx.log(runtime::log_level::warn, name_ + ": " + e.what());
  }
}

void fim_analyzer::stop(runtime::context& ctx) {
  watcher_.reset();
  publish(ctx);
}

void fim_analyzer::publish(runtime::context& ctx) {
  if (!scanner_)
    return;
  const auto& s = scanner_->stats();
  auto delta = [&](const char* name, std::uint64_t now, std::uint64_t& before) {
    if (now != before)
      ctx.count(name, static_cast<std::int64_t>(now - before));
    before = now;
  };
  delta("entries", s.entries, published_.entries);
  delta("files_hashed", s.hashed, published_.hashed);
  delta("bytes_hashed", s.hashed_bytes, published_.hashed_bytes);
  delta("added", s.added, published_.added);
  delta("removed", s.removed, published_.removed);
  delta("changed", s.changed, published_.changed);
  delta("errors", s.errors, published_.errors);
  delta("segments", s.segments, published_.segments);
}

const scan_stats* fim_analyzer::stats() const noexcept {
  return scanner_ ? &scanner_->stats() : nullptr;
}

} // namespace pg::actors::fim
