// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/container_analyzer.hpp"

#include <algorithm>

#include "phantomguard/runtime/temp_space.hpp"

#include <filesystem>
#include <sys/stat.h>

#include "phantomguard/actors/container/image_source.hpp"
#include "phantomguard/actors/container/live_container.hpp"

namespace pg::actors::container {

namespace {

namespace fs = std::filesystem;

runtime::option_spec spec(std::string key, runtime::option_type type, std::string def,
                          std::string description, std::vector<std::string> choices = {}) {
  runtime::option_spec o;
  o.key = std::move(key);
  o.type = type;
  o.default_text = std::move(def);
  o.description = std::move(description);
  o.choices = std::move(choices);
  return o;
}

// Suppresses findings already reported (report = "new") before they reach the real sink.
class dedup_sink final : public host::finding_sink {
public:
  dedup_sink(host::finding_sink& inner, vuln::scan_state* state) : inner_(inner), state_(state) {}
  void post(runtime::finding f) override {
    if (state_ == nullptr || state_->remember(f.rule + "|" + f.entity.dump()))
      inner_.post(std::move(f));
  }
  void count(std::string_view name, std::int64_t delta = 1) override { inner_.count(name, delta); }
  bool stop_requested() const noexcept override { return inner_.stop_requested(); }

private:
  host::finding_sink& inner_;
  vuln::scan_state* state_;
};

/// Passes every finding on and keeps its JSON: what an image's scan found, for the image cache.
/// Findings are kept before deduplication (which runs after this sink, outside it), so a kept
/// result holds every finding of the image.
class keeping_sink final : public host::finding_sink {
public:
  explicit keeping_sink(host::finding_sink& inner) : inner_(inner) {}
  void post(runtime::finding f) override {
    kept.push_back(f.to_json());
    inner_.post(std::move(f));
  }
  void count(std::string_view name, std::int64_t delta = 1) override { inner_.count(name, delta); }
  bool stop_requested() const noexcept override { return inner_.stop_requested(); }

  nlohmann::json kept = nlohmann::json::array();

private:
  host::finding_sink& inner_;
};

} // namespace

vuln::throttle_settings container_analyzer::default_throttle() {
  vuln::throttle_settings t;
  t.workers = 1;
  t.segment_size = 1024;
  t.max_memory = 64ull << 20;
  return t;
}

runtime::cache_policy container_analyzer::default_cache_policy() {
  return runtime::cache_policy{256, std::chrono::hours(24)};
}

std::vector<runtime::option_spec> container_analyzer::options() {
  using runtime::option_type;
  std::vector<runtime::option_spec> specs{
      spec("live", option_type::boolean, "true",
           "check the containers running on this host (from /proc)"),
      spec("proc_root", option_type::string, "/proc", "where /proc is mounted"),
      spec("images", option_type::string_list, "[]",
           "root file systems or OCI image layouts to scan on each tick"),
      spec("advisories", option_type::string, "",
           "OSV advisories (folder or .zip) to match the images' packages against; empty: "
           "package inventory only"),
      spec("release", option_type::string, "", "Debian release override for matching"),
      spec("default_severity", option_type::string, "medium",
           "severity of a package match whose advisory has none",
           {"info", "low", "medium", "high", "critical"}),
      spec("max_secret_scan_size", option_type::size, "1MiB",
           "bytes of each file searched for secrets"),
      spec("max_extract_size", option_type::size, "4GiB", "bytes unpacked per OCI image"),
      spec("max_extract_file_size", option_type::size, "1GiB", "bytes of one unpacked file"),
      spec("max_extract_entries", option_type::integer, "1000000", "entries unpacked per image"),
      spec("work_dir", option_type::string, "",
           "where OCI layers are unpacked (default: <state_dir>/<name>/work, else TMPDIR)"),
      spec("report", option_type::string, "all",
           "all: every finding on each tick; new: each finding once", {"all", "new"}),
  };
  for (auto& s : vuln::throttle_option_specs(default_throttle()))
    specs.push_back(std::move(s));
  for (auto& s : runtime::cache_option_specs(
           default_cache_policy(),
           "OCI images whose scan result is kept; the least recently scanned go first",
           "a kept result older than this is not trusted: the image is unpacked and scanned "
           "again"))
    specs.push_back(std::move(s));
  return specs;
}

container_analyzer::container_analyzer(const runtime::component_init& init)
    : name_(init.name), state_dir_(init.state_dir) {
  const auto& s = init.settings;
  live_ = s.get_bool("live", true);
  proc_root_ = s.get_string("proc_root", "/proc");
  images_ = s.get_string_list("images");
  work_dir_ = s.get_string("work_dir", "");
  only_new_ = s.get_string("report", "all") == "new";
  throttle_ = vuln::throttle_from(s, default_throttle());
  cache_policy_ = runtime::cache_policy_from(s, default_cache_policy());
  scan_options_.advisories = s.get_string("advisories", "");
  scan_options_.release = s.get_string("release", "");
  scan_options_.default_severity =
      runtime::parse_severity(s.get_string("default_severity", "medium"))
          .value_or(runtime::severity::medium);
  scan_options_.max_secret_scan_bytes = s.get_size("max_secret_scan_size", 1u << 20);
  scan_options_.throttle = throttle_;
  limits_.max_total_bytes = s.get_size("max_extract_size", 4ull << 30);
  limits_.max_file_bytes = s.get_size("max_extract_file_size", 1ull << 30);
  limits_.max_entries = static_cast<std::size_t>(s.get_int("max_extract_entries", 1'000'000));
  // Unpacked layers go to the engine's managed temp folder, where a killed scan's leftovers are
  // removed at the next start, held to temp_max_size with everything else there.
  if (work_dir_.empty()) {
    work_dir_ = !init.temp_dir.empty() ? init.temp_dir
                : !state_dir_.empty()  ? (fs::path(state_dir_) / name_ / "work").string()
                                       : std::string();
    temp_max_bytes_ = init.temp_max_bytes;
  }
}

void container_analyzer::start(runtime::context& ctx) {
  throttle_.threads = &ctx.threads(); // the component's metered threads
  scan_options_.throttle.threads = throttle_.threads;
  if (!work_dir_.empty()) {
    std::error_code ec;
    fs::create_directories(work_dir_, ec);
    if (ec) {
      ctx.log(runtime::log_level::warn, "container: work_dir " + work_dir_ + " unusable (" +
                                            ec.message() + "), unpacking to TMPDIR");
      work_dir_.clear();
    }
  }
  if (state_dir_.empty())
    return;
  std::string error;
  state_ = vuln::scan_state::open((fs::path(state_dir_) / name_ / "container.db").string(), &error);
  if (!state_) {
    ctx.log(runtime::log_level::warn, "container: no state database, scans start over: " + error);
    ctx.count("state_unavailable");
    return;
  }
  if (state_->compacted_bytes() > 0)
    ctx.count("state_compacted_bytes", state_->compacted_bytes());
  try {
    image_cache_.emplace(state_->db(), "image_cache", cache_policy_);
  } catch (const storage::sqlite_error& e) {
    ctx.log(runtime::log_level::warn,
            std::string("container: no image cache, every image is unpacked: ") + e.what());
    ctx.count("cache_unavailable");
  }
}

void container_analyzer::scan_live(host::finding_sink& sink) {
  live_scan_stats stats;
  auto host = read_host_reference(proc_root_);
  auto containers = find_live_containers(host, proc_root_, &stats);
  sink.count("processes_seen", static_cast<std::int64_t>(stats.processes));
  sink.count("processes_unreadable", static_cast<std::int64_t>(stats.unreadable));
  sink.count("containers", static_cast<std::int64_t>(containers.size()));
  for (const auto& c : containers) {
    if (sink.stop_requested())
      return;
    check_live_container(c, host, sink, proc_root_);
  }
}

void container_analyzer::unpack_and_scan(const std::string& path, host::finding_sink& sink,
                                         bool* completed) {
  std::string error;
  auto limits = limits_;
  if (temp_max_bytes_ > 0) {
    // What the temp folder still has room for, with whatever else is there now.
    const auto used = runtime::temp_dir_usage(work_dir_);
    const auto room = used < temp_max_bytes_ ? temp_max_bytes_ - used : 0;
    limits.max_total_bytes = std::min(limits.max_total_bytes, room);
  }
  auto img = open_image(path, limits, work_dir_, &error);
  if (!img) {
    runtime::finding f;
    f.rule = "container.image_error";
    f.level = runtime::severity::medium;
    f.title = "image " + path + " could not be scanned: " + error;
    f.entity = {{"image", path}};
    f.evidence = {{"error", error}};
    sink.post(std::move(f));
    sink.count("image_errors");
    return;
  }
  if (img->extract.unsafe_paths > 0) {
    runtime::finding f;
    f.rule = "container.unsafe_layer";
    f.level = runtime::severity::high;
    f.title = std::to_string(img->extract.unsafe_paths) +
              " layer entries tried to leave the image root (skipped)";
    f.entity = {{"image", path}};
    f.evidence = {{"count", img->extract.unsafe_paths}, {"examples", img->extract.unsafe_examples}};
    f.mitre = {"T1611"};
    sink.post(std::move(f));
  }
  *completed = scan_image(*img, scan_options_, sink).completed && !sink.stop_requested();
  sink.count("images_scanned");
}

std::string container_analyzer::cache_tag(const std::string& identity) const {
  // What else the result depends on: the advisories it was matched against (their file's or
  // folder's stamp), the release override and the options that change what is reported.
  std::string tag = identity + " | advisories " + scan_options_.advisories;
  if (!scan_options_.advisories.empty()) {
    struct stat st {};
    if (::stat(scan_options_.advisories.c_str(), &st) == 0)
      tag += " " + std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec);
  }
  tag += " | release " + scan_options_.release + " | severity " +
         std::string(runtime::to_string(scan_options_.default_severity)) + " | secrets " +
         std::to_string(scan_options_.max_secret_scan_bytes) + " | extract " +
         std::to_string(limits_.max_total_bytes) + "/" + std::to_string(limits_.max_file_bytes) +
         "/" + std::to_string(limits_.max_entries);
  return tag;
}

void container_analyzer::scan_one_image(const std::string& path, host::finding_sink& sink) {
  std::string identity_error;
  const auto identity =
      image_cache_ ? image_identity(path, &identity_error) : std::optional<std::string>();
  if (!identity) { // no cache, or a root file system folder: scanned every time
    bool completed = false;
    unpack_and_scan(path, sink, &completed);
    return;
  }
  const auto tag = cache_tag(*identity);
  if (auto kept = image_cache_->find(path, tag)) {
    try {
      std::vector<runtime::finding> findings;
      for (const auto& j : nlohmann::json::parse(*kept)) {
        auto f = runtime::finding::from_json(j);
        if (!f)
          throw std::runtime_error("a kept finding does not parse");
        f->time = {}; // found again now: the context stamps it
        findings.push_back(std::move(*f));
      }
      for (auto& f : findings)
        sink.post(std::move(f));
      sink.count("images_cached");
      return;
    } catch (const std::exception&) {
      // A damaged entry is a miss: the image is scanned and the entry replaced.
      --image_cache_->counters().hits;
      ++image_cache_->counters().misses;
    }
  }
  keeping_sink keeping(sink);
  bool completed = false;
  unpack_and_scan(path, keeping, &completed);
  if (!completed)
    return; // a partial result must not stand for the image
  try {
    image_cache_->put(path, tag,
                      keeping.kept.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (const storage::sqlite_error&) {
    sink.count("cache_write_errors"); // the next tick scans it again
  }
}

void container_analyzer::on_tick(runtime::context& ctx) {
  vuln::run_throttled(ctx, [&](host::finding_sink& raw) {
    dedup_sink sink(raw, only_new_ && state_ ? &*state_ : nullptr);
    if (live_)
      scan_live(sink);
    std::size_t next = 0;
    if (state_)
      next = vuln::stored_number(state_->get("next_image"));
    if (next >= images_.size())
      next = 0;
    for (; next < images_.size(); ++next) {
      if (sink.stop_requested())
        break; // the next tick resumes at this image
      scan_one_image(images_[next], sink);
      if (state_)
        state_->set("next_image", std::to_string(next + 1));
    }
    if (next >= images_.size()) {
      if (state_)
        state_->set("next_image", "0");
      sink.count("scans_completed");
    }
  });
  if (image_cache_)
    image_cache_->finish_pass(ctx, "container");
}

} // namespace pg::actors::container
