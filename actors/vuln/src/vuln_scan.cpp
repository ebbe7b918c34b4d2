// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/vuln_scan.hpp"

#include "phantomguard/actors/storage/persistent_cache.hpp"
#include "phantomguard/actors/vuln/advisory_update.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <tuple>

#include "phantomguard/actors/vuln/dpkg_database.hpp"
#include "phantomguard/actors/vuln/root_file.hpp"
#include "phantomguard/actors/vuln/vuln_matcher.hpp"

namespace pg::actors::vuln {

namespace {

namespace fs = std::filesystem;

std::string unquote(std::string v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
    v = v.substr(1, v.size() - 2);
  return v;
}

constexpr std::size_t max_examples = 10;

runtime::finding problem(const char* rule, runtime::severity level, std::string title,
                         const std::string& root) {
  runtime::finding f;
  f.rule = rule;
  f.level = level;
  f.title = std::move(title);
  f.entity = {{"root", root}};
  return f;
}

nlohmann::json examples(const std::vector<malformed_entry>& list) {
  auto out = nlohmann::json::array();
  for (std::size_t i = 0; i < list.size() && i < max_examples; ++i) {
    nlohmann::json e = {{"file", list[i].origin}, {"reason", list[i].reason}};
    if (list[i].line != 0)
      e["line"] = list[i].line;
    out.push_back(std::move(e));
  }
  return out;
}

/// What the scan reports about the advisory set, kept in the match cache so that a scan that
/// needs no matching does not load the index to say it.
struct advisory_summary {
  std::size_t advisories = 0, files = 0, malformed = 0, problems = 0;
  std::uint64_t bytes = 0;
  bool truncated = false;
  nlohmann::json example_list = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();

  static advisory_summary of(const advisory_load_stats& st) {
    advisory_summary s;
    s.advisories = st.advisories;
    s.files = st.files;
    s.bytes = st.bytes;
    s.truncated = st.truncated;
    s.malformed = st.malformed.size();
    s.problems = st.malformed.size() + st.errors.size();
    s.example_list = examples(st.malformed);
    s.errors = st.errors;
    return s;
  }
  [[nodiscard]] std::string dump() const {
    return nlohmann::json{{"advisories", advisories}, {"files", files},  {"malformed", malformed},
                          {"problems", problems},     {"bytes", bytes},  {"truncated", truncated},
                          {"examples", example_list}, {"errors", errors}}
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  static std::optional<advisory_summary> parse(const std::string& text) {
    try {
      const auto j = nlohmann::json::parse(text);
      advisory_summary s;
      s.advisories = j.at("advisories").get<std::size_t>();
      s.files = j.at("files").get<std::size_t>();
      s.malformed = j.at("malformed").get<std::size_t>();
      s.problems = j.at("problems").get<std::size_t>();
      s.bytes = j.at("bytes").get<std::uint64_t>();
      s.truncated = j.at("truncated").get<bool>();
      s.example_list = j.at("examples");
      s.errors = j.at("errors");
      return s;
    } catch (const std::exception&) {
      return std::nullopt; // a damaged entry: the index is loaded and the entry replaced
    }
  }
};

/// The findings a cache entry holds (to_json of each), stamped anew when posted; nullopt when the
/// entry is damaged.
std::optional<std::vector<runtime::finding>> parse_kept_findings(const std::string& text) {
  try {
    std::vector<runtime::finding> out;
    for (const auto& j : nlohmann::json::parse(text)) {
      auto f = runtime::finding::from_json(j);
      if (!f)
        return std::nullopt;
      f->time = {};
      out.push_back(std::move(*f));
    }
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

std::string detect_debian_release(const std::string& root) {
  if (auto text = read_in_root(root, "etc/os-release", 65536)) {
    std::string id, id_like, version_id;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq == std::string::npos)
        continue;
      auto key = line.substr(0, eq);
      auto value = unquote(line.substr(eq + 1));
      if (key == "ID")
        id = value;
      else if (key == "ID_LIKE")
        id_like = value;
      else if (key == "VERSION_ID")
        version_id = value;
    }
    if (id == "debian" && !version_id.empty())
      return version_id.substr(0, version_id.find('.'));
    if (!id.empty() && id != "debian")
      return {}; // a derivative: its VERSION_ID is not a Debian release
  }
  if (auto text = read_in_root(root, "etc/debian_version", 4096)) {
    std::string v = text->substr(0, text->find_first_of("\n "));
    auto major = v.substr(0, v.find('.'));
    if (!major.empty() &&
        std::all_of(major.begin(), major.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return major;
  }
  return {};
}

std::shared_ptr<const advisory_index> load_advisories(const vuln_scan_request& request,
                                                      const std::atomic<bool>* stop) {
  advisory_load_options options;
  options.workers = request.throttle.workers;
  options.max_bytes = request.throttle.max_memory;
  options.stop = stop;
  options.threads = request.throttle.threads;
  return std::make_shared<const advisory_index>(advisory_index::load(request.advisories, options));
}

vuln_scan_result run_vuln_scan(const vuln_scan_request& request, finding_sink& sink,
                               std::shared_ptr<const advisory_index> index) {
  vuln_scan_result result;
  const std::string root = request.root.empty() ? "/" : request.root;
  result.release = request.release.empty() ? detect_debian_release(root) : request.release;

  auto db = read_dpkg_database(root);
  result.packages = db.packages.size();
  sink.count("packages", static_cast<std::int64_t>(db.packages.size()));
  if (!db.found) {
    auto f = problem("vuln.no_dpkg_database", runtime::severity::info,
                     "no dpkg database under " + root + " (var/lib/dpkg/status or status.d)", root);
    sink.post(std::move(f));
  }
  if (!db.malformed.empty()) {
    sink.count("malformed_status_entries", static_cast<std::int64_t>(db.malformed.size()));
    auto f = problem("vuln.malformed_status", runtime::severity::low,
                     std::to_string(db.malformed.size()) +
                         " malformed dpkg status entries skipped under " + root,
                     root);
    f.evidence = {{"count", db.malformed.size()}, {"examples", examples(db.malformed)}};
    sink.post(std::move(f));
  }
  for (const auto& e : db.read_errors) {
    auto f = problem("vuln.malformed_status", runtime::severity::low,
                     "dpkg status file unreadable: " + e, root);
    f.evidence = {{"error", e}};
    sink.post(std::move(f));
  }

  if (!index && (request.advisories.empty() || !fs::exists(request.advisories))) {
    auto f = problem("vuln.advisories_missing", runtime::severity::info,
                     request.advisories.empty()
                         ? "no advisory source configured: packages were not matched"
                         : "advisory source " + request.advisories +
                               " does not exist: packages were not matched",
                     root);
    f.evidence = {{"advisories", request.advisories}, {"packages", db.packages.size()}};
    sink.post(std::move(f));
    result.completed = true;
    return result;
  }
  // The index only when something is not in the match cache: loaded (or handed over) once.
  auto* cache = request.match_cache;
  auto need_index = [&]() -> const advisory_index& {
    if (!index)
      index = request.index_source ? request.index_source() : load_advisories(request);
    result.index_loaded = true;
    return *index;
  };

  // The advisory set's summary: from the index, or from the cache when the index is not loaded.
  const std::string summary_tag = "summary|" + request.advisory_fingerprint;
  std::optional<advisory_summary> summary;
  if (cache && !index)
    if (auto kept = cache->find("advisory-summary", summary_tag)) {
      summary = advisory_summary::parse(*kept);
      if (!summary) { // a damaged entry is a miss
        --cache->counters().hits;
        ++cache->counters().misses;
      }
    }
  if (!summary) {
    summary = advisory_summary::of(need_index().stats());
    if (cache)
      cache->put("advisory-summary", summary_tag, summary->dump());
  }
  result.advisories = summary->advisories;
  sink.count("advisories", static_cast<std::int64_t>(summary->advisories));
  if (summary->problems > 0) {
    sink.count("malformed_advisories", static_cast<std::int64_t>(summary->malformed));
    auto f = problem("vuln.malformed_advisory", runtime::severity::low,
                     std::to_string(summary->problems) + " advisory files could not be used from " +
                         request.advisories,
                     root);
    f.evidence = {{"count", summary->malformed},
                  {"examples", summary->example_list},
                  {"errors", summary->errors},
                  {"advisories", request.advisories}};
    sink.post(std::move(f));
  }
  if (auto stale =
          staleness_finding(request.advisories, request.max_age, runtime::wall_clock::now())) {
    stale->entity["root"] = root;
    sink.post(std::move(*stale));
  }
  if (summary->truncated) {
    auto f = problem("vuln.advisories_truncated", runtime::severity::medium,
                     "advisory set cut short at max_memory (" +
                         runtime::format_size(request.throttle.max_memory) +
                         "): some advisories were not matched",
                     root);
    f.evidence = {{"bytes_read", summary->bytes}, {"files_read", summary->files}};
    sink.post(std::move(f));
  }

  // A stable order makes a resume point meaningful across restarts.
  auto& pkgs = db.packages;
  std::sort(pkgs.begin(), pkgs.end(), [](const installed_package& a, const installed_package& b) {
    return std::tie(a.name, a.architecture, a.origin) < std::tie(b.name, b.architecture, b.origin);
  });
  std::optional<vuln_matcher> matcher;
  const std::string match_tag_tail = "|" + result.release + "|" +
                                     std::string(runtime::to_string(request.default_severity)) +
                                     "|" + request.advisory_fingerprint;
  auto post = [&](runtime::finding f) {
    if (request.filter && !request.filter(f))
      return;
    sink.post(std::move(f));
    ++result.findings;
  };
  std::size_t i = std::min(request.resume_from, pkgs.size());
  const std::size_t segment = std::max<std::size_t>(request.throttle.segment_size, 1);
  while (i < pkgs.size()) {
    if (sink.stop_requested())
      return result;
    const std::size_t start = i;
    const std::size_t end = std::min(pkgs.size(), i + segment);
    for (; i < end; ++i) {
      const auto& pkg = pkgs[i];
      std::string key, tag;
      if (cache) {
        key = "package|" + pkg.name + "|" + pkg.architecture + "|" + pkg.origin;
        tag = pkg.version + match_tag_tail;
        if (auto kept = cache->find(key, tag)) {
          if (auto findings = parse_kept_findings(*kept)) {
            for (auto& f : *findings)
              post(std::move(f));
            ++result.cached;
            ++result.scanned;
            continue;
          }
          --cache->counters().hits; // a damaged entry is a miss: matched again, replaced
          ++cache->counters().misses;
        }
      }
      if (!matcher)
        matcher.emplace(need_index(), result.release);
      auto kept = nlohmann::json::array();
      for (const auto& m : matcher->match(pkg)) {
        auto f = matcher->make_finding(pkg, m, root, request.default_severity);
        if (cache)
          kept.push_back(f.to_json());
        post(std::move(f));
      }
      if (cache)
        cache->put(key, tag, kept.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      ++result.scanned;
    }
    sink.count("packages_scanned", static_cast<std::int64_t>(end - start));
    if (request.on_segment)
      request.on_segment(i);
  }
  result.completed = true;
  return result;
}

} // namespace pg::actors::vuln
