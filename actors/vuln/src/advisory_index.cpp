// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/debian_tracker.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <archive.h>
#include <archive_entry.h>

#include "phantomguard/actors/host/archive_error.hpp"
#include <nlohmann/json.hpp>

namespace pg::actors::vuln {

namespace {

namespace fs = std::filesystem;

struct raw_file {
  std::string origin;
  std::string text;
  bool stream = false; // too large to hold as text: parsed from `origin` on disk, streaming
};

struct parsed_file {
  std::vector<osv_advisory> advisories;
  std::vector<malformed_entry> malformed;
  tracker_counts tracker;
};

void parse_osv(const nlohmann::json& j, const std::string& origin, parsed_file& out) {
  std::string error;
  std::optional<osv_advisory> adv;
  try {
    adv = parse_osv_advisory(j, &error);
  } catch (const nlohmann::json::exception& e) {
    // A field of a type the parser did not expect: this advisory is malformed, the rest loads.
    error = std::string("unexpected JSON type: ") + e.what();
  }
  if (adv) {
    adv->origin = origin;
    out.advisories.push_back(std::move(*adv));
  } else {
    out.malformed.push_back({origin, 0, error});
  }
}

parsed_file parse_file(const raw_file& f) {
  parsed_file out;
  if (f.stream) {
    std::ifstream in(f.origin, std::ios::binary);
    if (!in) {
      out.malformed.push_back({f.origin, 0, "unreadable"});
      return out;
    }
    parse_advisory_stream(in, f.origin, out.advisories, out.malformed, out.tracker);
    return out;
  }
  auto json = nlohmann::json::parse(f.text, nullptr, false);
  if (json.is_discarded()) {
    out.malformed.push_back({f.origin, 0, "not valid JSON"});
    return out;
  }
  if (json.is_array()) {
    for (const auto& j : json)
      parse_osv(j, f.origin, out);
  } else if (json.is_object() && !json.contains("id") && !json.contains("affected") &&
             std::any_of(json.begin(), json.end(),
                         [](const nlohmann::json& v) { return is_tracker_package(v); })) {
    // The Debian security tracker's export: { "source package": { "CVE-...": {...} } }.
    for (const auto& [package, entry] : json.items())
      tracker_package_advisories(package, entry, f.origin, out.advisories, out.malformed,
                                 out.tracker);
  } else {
    parse_osv(json, f.origin, out);
  }
  return out;
}

struct archive_deleter {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};
using archive_ptr = std::unique_ptr<archive, archive_deleter>;

bool stopping(const advisory_load_options& o) {
  return o.stop != nullptr && o.stop->load(std::memory_order_relaxed);
}

// Reads the .json members of a zip, bounded by the byte budget.
void read_zip(const std::string& path, const advisory_load_options& options,
              advisory_load_stats& stats, std::vector<raw_file>& files) {
  archive_ptr a(archive_read_new());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    stats.errors.push_back(path + ": " + host::archive_error(a.get()));
    return;
  }
  archive_entry* entry = nullptr;
  int rc = ARCHIVE_OK;
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    if (stopping(options)) {
      stats.truncated = true;
      return;
    }
    std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (archive_entry_filetype(entry) != AE_IFREG || !name.ends_with(".json"))
      continue;
    std::string origin = path + ":" + name;
    auto size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
    if (size > static_cast<la_int64_t>(options.max_file_bytes)) {
      stats.malformed.push_back({origin, 0, "member larger than the per-file limit"});
      continue;
    }
    if (stats.bytes + static_cast<std::uint64_t>(std::max<la_int64_t>(size, 0)) >
        options.max_bytes) {
      stats.truncated = true;
      return;
    }
    std::string text;
    char buf[65536];
    la_ssize_t n = 0;
    bool too_big = false;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) {
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > options.max_file_bytes) {
        too_big = true;
        break;
      }
    }
    if (n < 0) {
      stats.malformed.push_back(
          {origin, 0, std::string("unreadable member: ") + host::archive_error(a.get())});
      continue;
    }
    if (too_big) {
      stats.malformed.push_back({origin, 0, "member larger than the per-file limit"});
      continue;
    }
    ++stats.files;
    stats.bytes += text.size();
    files.push_back({std::move(origin), std::move(text), false});
  }
  if (rc != ARCHIVE_EOF)
    stats.errors.push_back(path + ": " + host::archive_error(a.get()));
}

void read_file_list(const std::vector<fs::path>& paths, const advisory_load_options& options,
                    advisory_load_stats& stats, std::vector<raw_file>& files);

void read_directory(const std::string& path, const advisory_load_options& options,
                    advisory_load_stats& stats, std::vector<raw_file>& files) {
  std::vector<fs::path> paths;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json" && it->is_regular_file(ec))
      paths.push_back(it->path());
  }
  if (ec)
    stats.errors.push_back(path + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  read_file_list(paths, options, stats, files);
}

void read_file_list(const std::vector<fs::path>& paths, const advisory_load_options& options,
                    advisory_load_stats& stats, std::vector<raw_file>& files) {
  std::error_code ec;
  for (const auto& p : paths) {
    if (stopping(options)) {
      stats.truncated = true;
      return;
    }
    auto size = fs::file_size(p, ec);
    if (ec) {
      stats.errors.push_back(p.string() + ": " + ec.message());
      continue;
    }
    if (stats.bytes + size > options.max_bytes) {
      stats.truncated = true;
      return;
    }
    if (size > options.max_file_bytes) {
      // The tracker's export, or a big OSV array: parsed from disk one document at a time.
      ++stats.files;
      stats.bytes += size;
      files.push_back({p.string(), {}, true});
      continue;
    }
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!in) {
      stats.errors.push_back(p.string() + ": unreadable");
      continue;
    }
    ++stats.files;
    stats.bytes += size;
    files.push_back({p.string(), std::move(ss).str(), false});
  }
}

std::string key_of(std::string_view ecosystem_name, std::string_view package) {
  std::string key(ecosystem_name);
  key.push_back('\0');
  key.append(package);
  return key;
}

} // namespace

advisory_index advisory_index::load(const std::string& path, const advisory_load_options& options) {
  advisory_index index;
  auto& stats = index.stats_;
  std::error_code ec;
  std::vector<raw_file> files;
  if (fs::is_directory(path, ec)) {
    stats.found = true;
    read_directory(path, options, stats, files);
  } else if (fs::is_regular_file(path, ec) && fs::path(path).extension() == ".json") {
    stats.found = true; // one advisory file (or one array of advisories)
    read_file_list({fs::path(path)}, options, stats, files);
  } else if (fs::is_regular_file(path, ec)) {
    stats.found = true;
    read_zip(path, options, stats, files);
  } else {
    return index;
  }
  // JSON parsing is the cost: spread it over the workers, then merge in file order.
  std::size_t workers = std::clamp<std::size_t>(options.workers, 1, 16);
  workers = std::min(workers, std::max<std::size_t>(files.size() / 64, 1));
  std::vector<parsed_file> parsed(files.size());
  auto parse_range = [&](std::size_t first, std::size_t step) {
    auto& pool = options.threads ? *options.threads : runtime::unmetered_threads();
    for (std::size_t i = first; i < files.size(); i += step) {
      (void)pool.pace(); // a stop is handled by the caller: the parse of what was read finishes
      parsed[i] = parse_file(files[i]);
      files[i].text = std::string(); // free as we go
    }
  };
  if (workers <= 1) {
    parse_range(0, 1);
  } else {
    auto& pool = options.threads ? *options.threads : runtime::unmetered_threads();
    pool.run(static_cast<unsigned>(workers), [&](unsigned w) { parse_range(w, workers); });
  }
  for (auto& p : parsed) {
    stats.not_affected += p.tracker.not_affected;
    stats.unknown_releases += p.tracker.unknown_releases;
    for (auto& m : p.malformed)
      stats.malformed.push_back(std::move(m));
    for (auto& adv : p.advisories)
      index.add(std::move(adv));
  }
  return index;
}

void advisory_index::add(osv_advisory adv) {
  if (adv.withdrawn) {
    ++stats_.withdrawn;
    return;
  }
  auto id = static_cast<std::uint32_t>(list_.size());
  for (std::uint32_t i = 0; i < adv.affected.size(); ++i) {
    const auto& a = adv.affected[i];
    if (a.ecosystem_name != "Debian") {
      ++stats_.other_ecosystems;
      continue;
    }
    by_package_[key_of(a.ecosystem_name, a.package)].push_back({id, i});
  }
  list_.push_back(std::move(adv));
  ++stats_.advisories;
}

const std::vector<advisory_ref>& advisory_index::lookup(std::string_view ecosystem_name,
                                                        std::string_view package) const {
  static const std::vector<advisory_ref> none;
  auto it = by_package_.find(key_of(ecosystem_name, package));
  return it == by_package_.end() ? none : it->second;
}

} // namespace pg::actors::vuln
