// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/vuln_scan.hpp"
#include "phantomguard/actors/vuln/advisory_update.hpp"

#include <algorithm>
#include <filesystem>
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

  if (!index) {
    if (request.advisories.empty() || !fs::exists(request.advisories)) {
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
    index = load_advisories(request);
  }
  const auto& stats = index->stats();
  result.advisories = stats.advisories;
  sink.count("advisories", static_cast<std::int64_t>(stats.advisories));
  if (!stats.malformed.empty() || !stats.errors.empty()) {
    sink.count("malformed_advisories", static_cast<std::int64_t>(stats.malformed.size()));
    auto f = problem("vuln.malformed_advisory", runtime::severity::low,
                     std::to_string(stats.malformed.size() + stats.errors.size()) +
                         " advisory files could not be used from " + request.advisories,
                     root);
    f.evidence = {{"count", stats.malformed.size()},
                  {"examples", examples(stats.malformed)},
                  {"errors", stats.errors},
                  {"advisories", request.advisories}};
    sink.post(std::move(f));
  }
  if (auto stale =
          staleness_finding(request.advisories, request.max_age, runtime::wall_clock::now())) {
    stale->entity["root"] = root;
    sink.post(std::move(*stale));
  }
  if (stats.truncated) {
    auto f = problem("vuln.advisories_truncated", runtime::severity::medium,
                     "advisory set cut short at max_memory (" +
                         runtime::format_size(request.throttle.max_memory) +
                         "): some advisories were not matched",
                     root);
    f.evidence = {{"bytes_read", stats.bytes}, {"files_read", stats.files}};
    sink.post(std::move(f));
  }

  // A stable order makes a resume point meaningful across restarts.
  auto& pkgs = db.packages;
  std::sort(pkgs.begin(), pkgs.end(), [](const installed_package& a, const installed_package& b) {
    return std::tie(a.name, a.architecture, a.origin) < std::tie(b.name, b.architecture, b.origin);
  });
  vuln_matcher matcher(*index, result.release);
  std::size_t i = std::min(request.resume_from, pkgs.size());
  const std::size_t segment = std::max<std::size_t>(request.throttle.segment_size, 1);
  while (i < pkgs.size()) {
    if (sink.stop_requested())
      return result;
    const std::size_t start = i;
    const std::size_t end = std::min(pkgs.size(), i + segment);
    for (; i < end; ++i) {
      for (const auto& m : matcher.match(pkgs[i])) {
        auto f = matcher.make_finding(pkgs[i], m, root, request.default_severity);
        if (request.filter && !request.filter(f))
          continue;
        sink.post(std::move(f));
        ++result.findings;
      }
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
