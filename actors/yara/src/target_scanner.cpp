// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/target_scanner.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fnmatch.h>
#include <regex>
#include <stdexcept>
#include <sys/stat.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/actors/yara/rule_scanner.hpp"

namespace pg::actors::yara {

namespace fs = std::filesystem;

runtime::finding make_match_finding(const rule_match& m, nlohmann::json entity,
                                    const std::string& ruleset_hash, runtime::severity fallback) {
  runtime::finding f;
  f.rule = "yara.match";
  f.level = fallback;
  if (auto it = m.meta.find("severity"); it != m.meta.end() && it->is_string())
    if (auto lv = runtime::parse_severity(it->get<std::string>()))
      f.level = *lv;
  std::string target = entity.contains("path")
                           ? entity["path"].get<std::string>()
                           : "pid " + entity.value("pid", nlohmann::json(0)).dump();
  f.title = "YARA rule " + m.rule + " matched " + target;
  f.entity = std::move(entity);
  f.evidence = {{"rule", m.rule}, {"namespace", m.ns},    {"tags", m.tags},
                {"meta", m.meta}, {"strings", m.strings}, {"ruleset", ruleset_hash.substr(0, 16)}};
  for (const char* key : {"mitre_attack", "mitre", "mitre_att"})
    if (auto it = m.meta.find(key); it != m.meta.end() && it->is_string())
      f.mitre.push_back(it->get<std::string>());
  return f;
}

namespace {

class exclusion {
public:
  explicit exclusion(const std::string& pattern) {
    if (pattern.rfind("re:", 0) == 0) {
      try {
        regex_ = std::make_shared<const std::regex>(pattern.substr(3));
      } catch (const std::regex_error& e) {
        throw std::invalid_argument("invalid exclusion regex \"" + pattern.substr(3) +
                                    "\": " + e.what());
      }
    } else {
      glob_ = pattern;
      whole_path_ = pattern.find('/') != std::string::npos;
    }
  }
  [[nodiscard]] bool matches(const std::string& path) const {
    if (regex_)
      return std::regex_search(path, *regex_);
    std::string subject = whole_path_ ? path : fs::path(path).filename().string();
    return ::fnmatch(glob_.c_str(), subject.c_str(), 0) == 0;
  }

private:
  std::string glob_;
  bool whole_path_ = false;
  std::shared_ptr<const std::regex> regex_;
};

struct candidate {
  std::string path;
  file_stamp stamp;
  scan_outcome result;
  bool cached = false;
};

file_stamp stamp_of(const struct stat& st) {
  return file_stamp{
      st.st_dev, st.st_ino, st.st_size,
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
      static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

} // namespace

struct target_scanner::impl {
  ruleset rules;
  result_cache* cache;
  target_options opts;
  std::vector<exclusion> excludes;
  target_totals totals;

  bool active = false;
  std::vector<std::string> targets;
  std::size_t next_target = 0;
  // The walk of a directory target: entries of the directory being read (last first), then the
  // directories found and not read yet. One directory that vanishes or cannot be read is noted
  // and skipped; the rest of the tree goes on (a busy /tmp loses folders all the time).
  struct tree_walk {
    std::vector<std::pair<std::string, bool>> entries; // path, is a directory
    std::vector<std::string> dirs;
  };
  std::optional<tree_walk> walk;

  impl(ruleset r, result_cache* c, target_options o)
      : rules(std::move(r)), cache(c), opts(std::move(o)) {
    for (const auto& e : opts.exclude)
      excludes.emplace_back(e);
  }

  bool excluded(const std::string& path) const {
    return std::any_of(excludes.begin(), excludes.end(),
                       [&](const exclusion& e) { return e.matches(path); });
  }

  void note_error(const std::string& what) {
    ++totals.errors;
    if (totals.error_samples.size() < 10)
      totals.error_samples.push_back(what);
  }

  // A file worth scanning: regular (through a symlink only when following), not excluded,
  // within the size limit.
  void consider(const std::string& path, std::vector<candidate>& out) {
    if (excluded(path)) {
      ++totals.skipped;
      return;
    }
    struct stat st {};
    int rc = opts.follow_symlinks ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
    if (rc != 0 || !S_ISREG(st.st_mode))
      return;
    ++totals.files;
    if (opts.max_file_size && static_cast<std::uint64_t>(st.st_size) > opts.max_file_size) {
      ++totals.skipped;
      return;
    }
    out.push_back(candidate{path, stamp_of(st), {}, false});
  }

  std::size_t capacity() const {
    // A candidate's bookkeeping is small; the memory that counts is what libyara maps and
    // allocates per scan, bounded by the workers. Keep segments within the budget anyway.
    std::uint64_t per = 2048;
    return std::clamp<std::size_t>(static_cast<std::size_t>(opts.max_memory / per), 16,
                                   std::max<std::size_t>(16, opts.segment_size));
  }

  // Queues the entries of `dir` (sorted by name: a stable order). Symlinks to directories are
  // never descended into (as `yara -r`, and /usr/bin/X11 -> . would loop); a symlink to a file
  // is scanned when following. A directory that vanished is skipped without an error, one that
  // cannot be read for permission too (as before), anything else is an error; the walk goes on.
  void read_directory(const std::string& dir) {
    int err = 0;
    auto listing = host::list_directory_raw(dir, &err);
    if (!listing) {
      if (err != ENOENT && err != ENOTDIR && err != EACCES && err != EPERM)
        note_error(dir + ": " + std::strerror(err));
      return;
    }
    std::sort(listing->begin(), listing->end(),
              [](const host::raw_dirent& a, const host::raw_dirent& b) { return a.name > b.name; });
    const std::string prefix = dir == "/" ? "/" : dir + "/";
    for (auto& e : *listing) {
      std::string path = prefix + e.name;
      bool is_dir = e.type == DT_DIR;
      if (e.type == DT_UNKNOWN) {
        struct stat st {};
        is_dir = ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      walk->entries.emplace_back(std::move(path), is_dir);
    }
  }

  // Fills `out` with up to `max` candidates; false when the walk is over.
  bool collect(std::vector<candidate>& out, std::size_t max) {
    while (out.size() < max) {
      if (walk) {
        if (!walk->entries.empty()) {
          auto [p, is_dir] = std::move(walk->entries.back());
          walk->entries.pop_back();
          if (!is_dir) {
            consider(p, out);
          } else if (excluded(p)) {
            ++totals.skipped;
          } else {
            walk->dirs.push_back(std::move(p));
          }
          continue;
        }
        if (walk->dirs.empty()) {
          walk.reset();
          continue;
        }
        auto dir = std::move(walk->dirs.back());
        walk->dirs.pop_back();
        read_directory(dir);
        continue;
      }
      if (next_target >= targets.size())
        return false;
      const auto& t = targets[next_target++];
      std::error_code ec;
      auto status = opts.follow_symlinks ? fs::status(t, ec) : fs::symlink_status(t, ec);
      if (ec) {
        note_error(t + ": " + ec.message());
        continue;
      }
      if (fs::is_directory(status)) {
        walk.emplace();
        read_directory(t);
      } else {
        consider(t, out);
      }
    }
    return true;
  }

  runtime::component_threads& pool() const {
    return opts.threads ? *opts.threads : runtime::unmetered_threads();
  }

  void scan_all(std::vector<candidate>& items) {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < items.size(); ++i)
      if (!items[i].cached)
        todo.push_back(i);
    if (todo.empty())
      return;
    unsigned n = std::clamp<unsigned>(opts.workers, 1, 32); // libyara allows 32 scan threads
    n = std::min<unsigned>(n, static_cast<unsigned>(todo.size()));
    std::atomic<std::size_t> next{0};
    std::vector<std::string> failures(n);
    auto work = [&](unsigned w) {
      try {
        rule_scanner scanner(rules.rules, opts.timeout_seconds, opts.fast);
        for (std::size_t k; (k = next.fetch_add(1)) < todo.size();) {
          (void)pool().pace(); // the segment is finished unpaced once a stop is asked
          // libyara maps the file while it scans it: resident memory of the component's.
          const auto mapped = std::max<std::int64_t>(0, items[todo[k]].stamp.size);
          pool().account_memory(mapped);
          items[todo[k]].result = scanner.scan_file(items[todo[k]].path);
          pool().account_memory(-mapped);
        }
      } catch (const std::exception& e) {
        failures[w] = e.what();
      }
    };
    pool().run(n, work);
    for (const auto& f : failures)
      if (!f.empty())
        throw std::runtime_error(f);
  }

  void record(std::vector<candidate>& items, finding_sink& emit) {
    if (cache)
      cache->begin();
    try {
      for (auto& c : items) {
        if (!c.cached) {
          if (!c.result.ok) {
            // A file that vanished between the walk and the scan is not an error.
            struct stat st {};
            if (::lstat(c.path.c_str(), &st) == 0)
              note_error(c.path + ": " + c.result.message);
            continue;
          }
          ++totals.scanned;
          if (cache)
            cache->put(c.path, c.stamp, rules.hash, c.result.matches);
        }
        for (const auto& m : c.result.matches) {
          ++totals.matches;
          emit.post(make_match_finding(m, {{"path", c.path}}, rules.hash, opts.level));
        }
      }
      if (cache)
        cache->commit();
    } catch (...) {
      if (cache)
        cache->rollback();
      throw;
    }
  }
};

target_scanner::target_scanner(ruleset rules, result_cache* cache, target_options opts)
    : impl_(std::make_unique<impl>(std::move(rules), cache, std::move(opts))) {}

target_scanner::~target_scanner() = default;

void target_scanner::begin(std::vector<std::string> paths) {
  auto& s = *impl_;
  s.targets = std::move(paths);
  s.next_target = 0;
  s.walk.reset();
  s.active = true;
}

bool target_scanner::active() const noexcept {
  return impl_->active;
}

bool target_scanner::step(finding_sink& emit) {
  auto& s = *impl_;
  if (!s.active)
    return true;
  (void)s.pool().pace(); // the walk and the records run on this thread: paced with the rest
  std::vector<candidate> items;
  bool more = s.collect(items, s.capacity());
  if (s.rules.rules) {
    if (s.cache) {
      for (auto& c : items) {
        if (auto hit = s.cache->find(c.path, c.stamp, s.rules.hash)) {
          c.cached = true;
          c.result.matches = std::move(*hit);
          ++s.totals.cache_hits;
        }
      }
    }
    s.scan_all(items);
    s.record(items, emit);
  }
  ++s.totals.segments;
  if (!more) {
    s.active = false;
    if (s.cache) { // the end of a pass: the cache's size and age limits hold from here
      try {
        s.cache->enforce();
      } catch (const cache_error& e) {
        s.note_error(std::string("result cache: ") + e.what());
      }
    }
  }
  return !more;
}

bool target_scanner::run(finding_sink& emit, const std::function<bool()>& stop) {
  while (!step(emit))
    if (stop && stop())
      return false;
  return true;
}

bool target_scanner::scan_process(int pid, finding_sink& emit, std::string* error) {
  auto& s = *impl_;
  if (!s.rules.rules) {
    if (error)
      *error = "no rules loaded";
    return false;
  }
  (void)s.pool().pace();
  rule_scanner scanner(s.rules.rules, s.opts.timeout_seconds, s.opts.fast);
  auto out = scanner.scan_process(pid);
  if (!out.ok) {
    if (error)
      *error = "pid " + std::to_string(pid) + ": " + out.message;
    return false;
  }
  ++s.totals.processes;
  nlohmann::json entity = {{"pid", pid}};
  if (auto exe = host::read_link("/proc/" + std::to_string(pid) + "/exe"))
    entity["exe"] = *exe;
  for (const auto& m : out.matches) {
    ++s.totals.matches;
    emit.post(make_match_finding(m, entity, s.rules.hash, s.opts.level));
  }
  return true;
}

const target_totals& target_scanner::totals() const noexcept {
  return impl_->totals;
}
const ruleset& target_scanner::rules() const noexcept {
  return impl_->rules;
}

} // namespace pg::actors::yara
