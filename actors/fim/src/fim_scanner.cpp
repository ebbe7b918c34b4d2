// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/fim_scanner.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sys/stat.h>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "tree_walker.hpp"

namespace pg::actors::fim {

namespace {

using runtime::finding;
using runtime::severity;

struct item {
  file_record cur;
  std::optional<file_record> base;
  const fim_rule* rule = nullptr;
  bool need_hash = false;
  bool gone = false;
};

nlohmann::json describe(const file_record& r, attribute_set watched) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& info : all_attributes)
    if (watched.has(info.attr) && info.attr != attribute::inode && info.attr != attribute::links)
      if (auto v = r.value_of(info.attr); !v.empty())
        j[std::string(info.name)] = v;
  return j;
}

finding make_added(const file_record& r, const fim_rule& rule) {
  finding f;
  f.rule = "fim.added";
  f.level = rule.level.value_or(severity::medium);
  f.title = "File added: " + r.path;
  f.entity = {{"path", r.path}, {"type", std::string(1, r.type)}};
  f.evidence = describe(r, rule.attributes);
  f.evidence["watch"] = rule.path;
  f.mitre = {"T1565.001"};
  if (r.mode & (S_ISUID | S_ISGID))
    f.mitre.push_back("T1548.001");
  return f;
}

finding make_removed(const file_record& r, const fim_rule* rule) {
  finding f;
  f.rule = "fim.removed";
  f.level = rule && rule->level ? *rule->level : severity::medium;
  f.title = "File removed: " + r.path;
  f.entity = {{"path", r.path}, {"type", std::string(1, r.type)}};
  f.evidence = {{"type", std::string(1, r.type)}, {"size", r.size}};
  if (!r.sha256.empty())
    f.evidence["sha256"] = r.sha256;
  if (rule)
    f.evidence["watch"] = rule->path;
  f.mitre = {"T1070.004"};
  return f;
}

finding make_changed(const file_record& before, const file_record& after, attribute_set diff,
                     const fim_rule& rule) {
  finding f;
  f.rule = "fim.changed";
  f.level = rule.level.value_or(severity::high);
  auto names = diff.names();
  std::string list;
  for (const auto& n : names)
    list += (list.empty() ? "" : ", ") + n;
  f.title = "File changed (" + list + "): " + after.path;
  f.entity = {{"path", after.path}, {"type", std::string(1, after.type)}};
  nlohmann::json old_v = nlohmann::json::object(), new_v = nlohmann::json::object();
  for (const auto& info : all_attributes) {
    if (!diff.has(info.attr))
      continue;
    old_v[std::string(info.name)] = before.value_of(info.attr);
    new_v[std::string(info.name)] = after.value_of(info.attr);
  }
  f.evidence = {{"changed", names}, {"old", old_v}, {"new", new_v}, {"watch", rule.path}};
  f.mitre = {"T1565.001"};
  if (diff.has(attribute::perms) || diff.has(attribute::uid) || diff.has(attribute::gid))
    f.mitre.push_back("T1222.002");
  if ((after.mode & ~before.mode) & (S_ISUID | S_ISGID))
    f.mitre.push_back("T1548.001");
  if (diff.has(attribute::caps))
    f.mitre.push_back("T1548");
  return f;
}

} // namespace

struct fim_scanner::impl {
  const rule_set& rules;
  baseline_db& db;
  scan_options opts;
  scan_stats stats;

  bool active = false;
  mode m = mode::check;
  bool update = false;
  std::vector<std::string> roots;
  std::unique_ptr<detail::tree_walker> walker;
  bool walk_done = false;
  std::vector<std::vector<unsigned char>> buffers; // one read buffer per worker, kept

  impl(const rule_set& r, baseline_db& d, scan_options o) : rules(r), db(d), opts(o) {}

  runtime::component_threads& pool() const {
    return opts.threads ? *opts.threads : runtime::unmetered_threads();
  }

  void note_error(const std::string& path, int err) {
    ++stats.errors;
    if (stats.error_samples.size() < 10)
      stats.error_samples.push_back(path + ": " + std::strerror(err));
  }

  std::size_t segment_capacity() const {
    // A record with its path and strings takes roughly 512 bytes; the read buffers 256 KiB each.
    std::uint64_t buffers_bytes = static_cast<std::uint64_t>(std::max(1u, opts.workers)) << 18;
    std::uint64_t budget = opts.max_memory > buffers_bytes ? opts.max_memory - buffers_bytes : 0;
    return std::clamp<std::size_t>(static_cast<std::size_t>(budget / 512), 16,
                                   std::max<std::size_t>(16, opts.segment_size));
  }

  void hash_items(std::vector<item>& items) {
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < items.size(); ++i)
      if (items[i].need_hash)
        todo.push_back(i);
    if (todo.empty())
      return;
    unsigned n = std::clamp<unsigned>(opts.workers, 1, 64);
    n = std::min<unsigned>(n, static_cast<unsigned>(todo.size()));
    buffers.resize(std::max<std::size_t>(buffers.size(), n));
    std::atomic<std::size_t> next{0};
    std::vector<int> errs(items.size(), 0);
    std::vector<std::int64_t> bytes(n, 0);
    auto work = [&](unsigned w) {
      for (std::size_t k; (k = next.fetch_add(1)) < todo.size();) {
        auto& it = items[todo[k]];
        int err = 0;
        // Paced to the component's CPU quota; when it is asked to stop the segment is finished
        // unpaced (a bounded amount), so no record is written without its hash.
        (void)pool().pace();
        auto got = hash_content(it.cur, buffers[w], &err);
        if (got < 0)
          errs[todo[k]] = err ? err : EIO;
        else
          bytes[w] += got;
      }
    };
    // Threads are started per segment: a segment is thousands of files, the start costs
    // microseconds, and no idle pool lingers between scheduled scans.
    pool().run(n, work);
    for (std::size_t i : todo) {
      if (errs[i] == 0) {
        ++stats.hashed;
      } else if (!host::is_vanished(errs[i])) {
        note_error(items[i].cur.path, errs[i]);
      }
    }
    for (auto b : bytes)
      stats.hashed_bytes += static_cast<std::uint64_t>(b);
  }

  // Reads metadata and decides what to hash for the paths of one segment.
  std::vector<item> prepare(const std::vector<detail::walk_entry>& entries, bool lookup) {
    std::vector<item> items(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      auto& it = items[i];
      it.rule = entries[i].rule;
      int err = 0;
      if (!read_metadata(entries[i].path, it.rule->attributes, it.cur, &err)) {
        it.gone = true;
        it.cur.path = entries[i].path;
        if (!host::is_vanished(err))
          note_error(entries[i].path, err);
      }
      if (lookup)
        it.base = db.find(entries[i].path);
      if (it.gone)
        continue;
      ++stats.entries;
      bool hashable = (it.cur.type == 'f' || it.cur.type == 'l') &&
                      it.rule->attributes.has(attribute::sha256) &&
                      (opts.max_hash_size == 0 ||
                       static_cast<std::uint64_t>(it.cur.size) <= opts.max_hash_size);
      if (!hashable)
        continue;
      bool reuse = it.base && opts.rehash == rehash_policy::changed && !it.base->sha256.empty() &&
                   it.base->same_content_stamp(it.cur);
      if (reuse)
        it.cur.sha256 = it.base->sha256;
      else
        it.need_hash = true;
    }
    return items;
  }

  // Compares, emits and (when updating) records one segment inside a transaction.
  void commit_items(std::vector<item>& items, bool check, bool write, finding_sink& emit) {
    if (write)
      db.begin();
    try {
      for (auto& it : items) {
        if (it.gone) {
          if (check && it.base) {
            ++stats.removed;
            emit.post(make_removed(*it.base, it.rule));
            if (write)
              db.erase(it.cur.path); // entries below a removed directory are reported one by one
          }
          continue;
        }
        if (check) {
          if (!it.base) {
            ++stats.added;
            emit.post(make_added(it.cur, *it.rule));
          } else if (auto diff = changed_attributes(*it.base, it.cur, it.rule->attributes);
                     diff.bits() != 0) {
            ++stats.changed;
            emit.post(make_changed(*it.base, it.cur, diff, *it.rule));
          } else if (!write ||
                     (!it.need_hash &&
                      changed_attributes(*it.base, it.cur, attribute_set::group_normal()).bits() ==
                          0)) {
            continue; // nothing new to record (unwatched attributes are kept fresh for reuse)
          }
        }
        if (write)
          db.put(it.cur);
      }
      if (write)
        db.commit();
    } catch (...) {
      if (write)
        db.rollback();
      throw;
    }
  }

  // Paths recorded under the roots that no longer exist (or are no longer watched).
  void report_removed(finding_sink& emit) {
    std::vector<std::string> gone;
    for (const auto& root : roots) {
      db.for_each_under(root, [&](const std::string& p) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0 || !rules.watched(p))
          gone.push_back(p);
      });
    }
    for (std::size_t i = 0; i < gone.size(); i += opts.segment_size) {
      std::size_t end = std::min(gone.size(), i + opts.segment_size);
      if (update)
        db.begin();
      try {
        for (std::size_t k = i; k < end; ++k) {
          auto rec = db.find(gone[k]);
          if (!rec)
            continue;
          ++stats.removed;
          emit.post(make_removed(*rec, rules.rule_for(gone[k])));
          if (update)
            db.erase(gone[k]);
        }
        if (update)
          db.commit();
      } catch (...) {
        if (update)
          db.rollback();
        throw;
      }
    }
  }
};

fim_scanner::fim_scanner(const rule_set& rules, baseline_db& db, scan_options opts)
    : impl_(std::make_unique<impl>(rules, db, opts)) {}

fim_scanner::~fim_scanner() = default;

void fim_scanner::begin(mode m, std::vector<std::string> roots, bool update) {
  auto& s = *impl_;
  if (roots.empty())
    for (const auto& r : s.rules.rules())
      roots.push_back(r.path);
  for (auto& r : roots)
    r = normalise_path(r);
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  s.m = m;
  s.update = m == mode::init || update;
  s.roots = roots;
  s.walker = std::make_unique<detail::tree_walker>(s.rules, roots);
  s.walk_done = false;
  s.active = true;
  if (m == mode::init) {
    s.db.begin();
    try {
      s.db.mark_initialized(false);
      for (const auto& r : roots)
        s.db.erase_tree(r);
      s.db.commit();
    } catch (...) {
      s.db.rollback();
      throw;
    }
  }
}

bool fim_scanner::active() const noexcept {
  return impl_->active;
}

bool fim_scanner::step(finding_sink& emit) {
  auto& s = *impl_;
  if (!s.active)
    return true;
  if (!s.walk_done) {
    (void)s.pool().pace(); // the walk and the commits run on this thread: paced with the rest
    std::vector<detail::walk_entry> entries;
    s.walk_done = !s.walker->next(entries, s.segment_capacity());
    bool check = s.m == mode::check;
    auto items = s.prepare(entries, check);
    s.hash_items(items);
    s.commit_items(items, check, s.update, emit);
    ++s.stats.segments;
    if (!s.walk_done)
      return false;
    s.stats.errors += s.walker->unreadable_dirs();
  }
  if (s.m == mode::check)
    s.report_removed(emit);
  else
    s.db.mark_initialized(true);
  s.walker.reset();
  s.active = false;
  return true;
}

bool fim_scanner::run(finding_sink& emit, const std::function<bool()>& stop) {
  while (!step(emit))
    if (stop && stop())
      return false;
  return true;
}

void fim_scanner::check_paths(const std::vector<std::string>& paths, finding_sink& emit) {
  auto& s = *impl_;
  std::vector<detail::walk_entry> entries;
  std::vector<std::string> removed_dirs;
  for (const auto& raw : paths) {
    auto p = normalise_path(raw);
    const auto* rule = s.rules.rule_for(p);
    if (!rule || rule->excluded(p))
      continue;
    entries.push_back(detail::walk_entry{p, rule});
  }
  auto items = s.prepare(entries, true);
  // A removed directory: its recorded subtree goes with it, each entry reported.
  std::vector<item> extra;
  for (const auto& it : items) {
    if (!it.gone || !it.base || it.base->type != 'd')
      continue;
    s.db.for_each_under(it.cur.path, [&](const std::string& sub) {
      if (sub == it.cur.path)
        return;
      item x;
      x.cur.path = sub;
      x.gone = true;
      x.rule = s.rules.rule_for(sub);
      extra.push_back(std::move(x));
    });
  }
  for (auto& x : extra)
    x.base = s.db.find(x.cur.path);
  items.insert(items.end(), std::make_move_iterator(extra.begin()),
               std::make_move_iterator(extra.end()));
  s.hash_items(items);
  s.commit_items(items, true, true, emit);
}

const scan_stats& fim_scanner::stats() const noexcept {
  return impl_->stats;
}

} // namespace pg::actors::fim
