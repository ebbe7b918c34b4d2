// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/vuln_analyzer.hpp"

#include <malloc.h>

#include <filesystem>

#include "phantomguard/actors/vuln/advisory_update.hpp"
#include "phantomguard/actors/vuln/vuln_scan.hpp"

namespace pg::actors::vuln {

namespace {

namespace fs = std::filesystem;

// mtime and size of a file, or of every entry of a directory tree (advisory folders change by
// files being added or replaced).
std::string fingerprint(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec))
    return "missing";
  std::uint64_t sum = 0;
  std::uint64_t count = 0;
  auto add = [&](const fs::path& p) {
    auto t = fs::last_write_time(p, ec);
    auto s = fs::is_regular_file(p, ec) ? fs::file_size(p, ec) : 0;
    sum = sum * 1000003u + static_cast<std::uint64_t>(t.time_since_epoch().count()) + s;
    ++count;
  };
  add(path);
  if (fs::is_directory(path, ec))
    for (fs::recursive_directory_iterator
             it(path, fs::directory_options::skip_permission_denied, ec),
         end;
         !ec && it != end; it.increment(ec))
      add(it->path());
  return std::to_string(count) + ":" + std::to_string(sum);
}

} // namespace

throttle_settings vuln_analyzer::default_throttle() {
  throttle_settings t;
  t.workers = 1;
  t.segment_size = 256;
  t.max_memory = 512ull << 20;
  return t;
}

std::vector<runtime::option_spec> vuln_analyzer::options() {
  using runtime::option_spec;
  using runtime::option_type;
  auto typed = [](std::string key, option_type type, std::string def, std::string description,
                  std::vector<std::string> choices = {}) {
    option_spec o;
    o.key = std::move(key);
    o.type = type;
    o.default_text = std::move(def);
    o.description = std::move(description);
    o.choices = std::move(choices);
    return o;
  };
  auto spec = [&](std::string key, std::string def, std::string description,
                  std::vector<std::string> choices = {}) {
    return typed(std::move(key), option_type::string, std::move(def), std::move(description),
                 std::move(choices));
  };
  std::vector<option_spec> specs{
      spec("root", "/", "root file system whose dpkg database is scanned"),
      spec("advisories", "",
           "OSV advisories: a directory of *.json or a .zip (read locally, never downloaded); "
           "missing is an info finding"),
      spec("release", "",
           "Debian release of the root (\"12\"); empty detects it from etc/os-release"),
      spec("default_severity", "medium",
           "severity of a match whose advisory carries no CVSS score or severity",
           {"info", "low", "medium", "high", "critical"}),
      spec("report", "all",
           "all: every match on each scan; new: a match once until the advisory set changes",
           {"all", "new"}),
      spec("update_url", "",
           "run: before each scheduled scan, refresh `advisories` (a .zip or .json file) from "
           "this http(s) URL (conditional request; the last good copy stays on failure); empty: "
           "no download"),
      spec("update_checksum_url", "",
           "a sha256sum-style file naming the download's SHA-256; empty: the server's MD5 "
           "header (when sent) and the content check only"),
      spec("update_ca_file", "", "extra CA bundle for an https update_url"),
  };
  specs.push_back(
      typed("update_max_size", option_type::size, "1GiB", "a larger download is refused"));
  specs.push_back(
      typed("update_timeout", option_type::duration, "5m", "read timeout of the download"));
  specs.push_back(typed("max_age", option_type::duration, "7d",
                        "advisory data not confirmed current for longer is reported as "
                        "vuln.advisories_stale (medium); 0s disables"));
  for (auto& s : throttle_option_specs(default_throttle()))
    specs.push_back(std::move(s));
  for (auto& s : runtime::cache_option_specs(
           default_cache_policy(),
           "packages whose matches are kept (a package found there is not matched again); the "
           "least recently stored go first",
           "a kept match older than this is matched again"))
    specs.push_back(std::move(s));
  return specs;
}

runtime::cache_policy vuln_analyzer::default_cache_policy() {
  return runtime::cache_policy{100'000, std::chrono::hours(24 * 7)};
}

vuln_analyzer::vuln_analyzer(const runtime::component_init& init)
    : name_(init.name), state_dir_(init.state_dir) {
  const auto& s = init.settings;
  root_ = s.get_string("root", "/");
  advisories_ = s.get_string("advisories", "");
  release_ = s.get_string("release", "");
  default_severity_ = runtime::parse_severity(s.get_string("default_severity", "medium"))
                          .value_or(runtime::severity::medium);
  only_new_ = s.get_string("report", "all") == "new";
  max_age_ = std::chrono::duration_cast<std::chrono::seconds>(
      s.get_duration("max_age", std::chrono::hours(24 * 7)));
  one_pass_ = init.one_pass;
  update_.url = s.get_string("update_url", "");
  update_.output = advisories_;
  update_.checksum_url = s.get_string("update_checksum_url", "");
  update_.ca_file = s.get_string("update_ca_file", "");
  update_.max_bytes = s.get_size("update_max_size", 1ull << 30);
  update_.timeout = std::chrono::duration_cast<std::chrono::seconds>(
      s.get_duration("update_timeout", std::chrono::minutes(5)));
  throttle_ = throttle_from(s, default_throttle());
  cache_policy_ = runtime::cache_policy_from(s, default_cache_policy());
}

void vuln_analyzer::start(runtime::context& ctx) {
  throttle_.threads = &ctx.threads(); // advisory parsing on the component's metered threads
  if (state_dir_.empty())
    return;
  std::string error;
  state_ = scan_state::open((fs::path(state_dir_) / name_ / "vuln.db").string(), &error);
  if (!state_) {
    // Without state the scan still runs in full each time; say so once.
    ctx.log(runtime::log_level::warn, "vuln: no state database, scans start over: " + error);
    ctx.count("state_unavailable");
    return;
  }
  if (state_->compacted_bytes() > 0)
    ctx.count("state_compacted_bytes", state_->compacted_bytes());
  try {
    match_cache_.emplace(state_->db(), "match_cache", cache_policy_);
  } catch (const storage::sqlite_error& e) {
    ctx.log(runtime::log_level::warn,
            std::string("vuln: no match cache, every package is matched: ") + e.what());
    ctx.count("cache_unavailable");
  }
}

void vuln_analyzer::refresh(finding_sink& sink) {
  auto r = update_advisories(update_);
  switch (r.result) {
  case advisory_update_result::outcome::updated:
    sink.count("updates");
    break;
  case advisory_update_result::outcome::not_modified:
    sink.count("updates_not_modified");
    break;
  case advisory_update_result::outcome::failed: {
    sink.count("update_failures");
    runtime::finding f;
    f.rule = "vuln.update_failed";
    f.level = runtime::severity::medium;
    f.title = "Advisory update failed, the last good copy is used: " + r.error;
    f.entity = {{"advisories", advisories_}, {"root", root_}};
    f.evidence = {{"url", update_.url}, {"error", r.error}, {"http_status", r.http_status}};
    std::string from;
    if (auto at = advisories_confirmed_at(advisories_, &from))
      f.evidence["last_good_confirmed_at"] = runtime::format_rfc3339(*at);
    else
      f.evidence["last_good_confirmed_at"] = nullptr;
    sink.post(std::move(f));
    break;
  }
  }
}

void vuln_analyzer::on_tick(runtime::context& ctx) {
  run_throttled(ctx, [&](finding_sink& sink) {
    // The daemon keeps its data current; a one-pass scan never goes to the network.
    if (!update_.url.empty() && !one_pass_)
      refresh(sink);
    vuln_scan_request request;
    request.root = root_;
    request.advisories = advisories_;
    request.release = release_;
    request.default_severity = default_severity_;
    request.max_age = max_age_;
    request.throttle = throttle_;

    auto adv_print = fingerprint(advisories_);
    auto dpkg = fs::path(root_) / "var/lib/dpkg";
    auto inputs = adv_print + "|" + fingerprint((dpkg / "status").string()) + "|" +
                  fingerprint((dpkg / "status.d").string());
    // The index of the last scan is reused while the advisory source is unchanged; it is
    // loaded only when a package is not in the match cache.
    if (index_ && index_fingerprint_ != adv_print)
      index_.reset();
    request.index_source = [&]() {
      if (!index_) {
        index_ = load_advisories(request);
        index_fingerprint_ = adv_print;
        sink.count("index_loads");
        // Parsing leaves the JSON text and documents freed but resident: give them back, the
        // index is what stays.
        ::malloc_trim(0);
      }
      return index_;
    };
    if (match_cache_) {
      request.match_cache = &*match_cache_;
      request.advisory_fingerprint = advisories_ + "|" + adv_print;
    }

    if (state_) {
      // Resume only a scan of the very same inputs; a new advisory set also re-arms "new".
      if (state_->get("inputs").value_or("") == inputs) {
        request.resume_from = stored_number(state_->get("cursor"));
      } else {
        if (state_->get("advisories").value_or("") != adv_print && !state_->forget_all())
          sink.count("state_write_failures");
        state_->set("inputs", inputs);
        state_->set("advisories", adv_print);
        state_->set("cursor", "0");
      }
      request.on_segment = [&](std::size_t next) {
        if (!state_->set("cursor", std::to_string(next)))
          sink.count("state_write_failures");
      };
      if (only_new_)
        request.filter = [&](const runtime::finding& f) {
          return state_->remember(f.entity.value("package", "") + "|" +
                                  f.entity.value("version", "") + "|" +
                                  f.evidence.value("advisory", ""));
        };
    }
    const std::size_t trimmed_before = state_ ? state_->trimmed() : 0;
    auto result = run_vuln_scan(request, sink, index_);
    if (result.cached > 0)
      sink.count("packages_cached", static_cast<std::int64_t>(result.cached));
    if (state_ && result.completed)
      state_->set("cursor", "0");                     // the next tick scans everything again
    if (state_ && state_->trimmed() > trimmed_before) // the reported set met its cap
      sink.count("state_trimmed", static_cast<std::int64_t>(state_->trimmed() - trimmed_before));
    sink.count("scans_completed", result.completed ? 1 : 0);
  });
  if (match_cache_)
    match_cache_->finish_pass(ctx, "vuln");
}

} // namespace pg::actors::vuln
