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
  if (db_path_.empty()) {
    auto dir =
        std::filesystem::path(init.state_dir.empty() ? "/var/lib/phantomguard" : init.state_dir) /
        init.name;
    db_path_ = (dir / "fim.db").string();
  }
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
  auto emit = [&ctx](runtime::finding f) { ctx.emit_finding(std::move(f)); };
  bool need_full = !settings_.realtime || !last_full_ || scanner_->active() ||
                   ctx.now() - *last_full_ >= settings_.full_scan_interval;
  // Changed paths wait in the watcher while a pass is in progress or no baseline exists yet
  // (they are checked once it does, so nothing seen during the first pass is lost).
  if (watcher_ && !scanner_->active() && db_->initialized()) {
    bool overflowed = false;
    auto changed = watcher_->drain(&overflowed);
    if (!changed.empty())
      scanner_->check_paths(changed, emit);
    if (overflowed) {
      // Changes were lost in the kernel's queue: a full pass finds what is still different.
      ctx.lost("inotify_overflow", 1);
      need_full = true;
    }
  }
  if (need_full) {
    if (!scanner_->active()) {
      bool first = !db_->initialized();
      scanner_->begin(first ? fim_scanner::mode::init : fim_scanner::mode::check, {},
                      settings_.update_baseline);
    }
    bool was_init = !db_->initialized();
    bool done = scanner_->run(emit, [&ctx] { return ctx.should_stop(); });
    if (done) {
      last_full_ = ctx.now();
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
