// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/yara/yara_settings.hpp"

#include <algorithm>
#include <regex>

namespace pg::actors::yara {

using runtime::option_spec;
using runtime::option_type;

std::vector<option_spec> yara_option_specs() {
  auto spec = [](std::string key, option_type t, std::string def, std::string desc) {
    option_spec s;
    s.key = std::move(key);
    s.type = t;
    s.default_text = std::move(def);
    s.description = std::move(desc);
    return s;
  };
  std::vector<option_spec> out;
  auto rules = spec("rules", option_type::string_list, "", "YARA rule files and directories");
  rules.required = true;
  out.push_back(rules);
  out.push_back(spec("paths", option_type::string_list, "[]", "files and directories to scan"));
  out.push_back(spec("exclude", option_type::string_list, "[]",
                     "globs (base name, or whole path when they hold '/') or re:REGEX"));
  out.push_back(
      spec("max_file_size", option_type::size, "64MiB", "larger files are skipped (0 = no limit)"));
  out.push_back(spec("timeout", option_type::duration, "60s", "per file or process"));
  out.push_back(spec("fast", option_type::boolean, "false", "libyara fast matching mode"));
  out.push_back(spec("follow_symlinks", option_type::boolean, "false",
                     "scan the targets of symlinks (yara -r does)"));
  out.push_back(spec("scan_processes", option_type::boolean, "false",
                     "also scan the memory of every process"));
  out.push_back(spec("cache", option_type::boolean, "true",
                     "keep compiled rules and per-file results under the state dir"));
  out.push_back(spec("cache_dir", option_type::string, "<state_dir>/<name>",
                     "where the compiled rules and the result database live"));
  for (auto& c : runtime::cache_option_specs(
           yara_settings{}.cache_policy,
           "results kept at most; the oldest go first at the end of a pass",
           "a result older than this is not trusted: the file is scanned again"))
    out.push_back(std::move(c));
  auto sev = spec("severity", option_type::string, "medium",
                  "severity of a match unless the rule's meta has `severity`");
  sev.choices = {"info", "low", "medium", "high", "critical"};
  out.push_back(sev);
  auto workers =
      spec("workers", option_type::integer, "1", "scanner threads (one YR_SCANNER each)");
  workers.min = 1;
  workers.max = 32;
  out.push_back(workers);
  auto seg = spec("segment_size", option_type::integer, "256",
                  "files per segment (one transaction; should_stop is checked between)");
  seg.min = 16;
  seg.max = 1000000;
  out.push_back(seg);
  out.push_back(spec("max_memory", option_type::size, "64MiB", "bounds a segment's bookkeeping"));
  // nice, io_class, io_level, cpu_affinity and throttle are the engine's, for every component
  // (runtime/throttle.hpp); the yara type ships at nice 10 and idle I/O (register.cpp).
  return out;
}

std::optional<yara_settings> parse_yara_settings(const toml::table& t, std::string* error) {
  runtime::component_settings cs(t);
  yara_settings s;
  s.rules = cs.get_string_list("rules");
  s.paths = cs.get_string_list("paths");
  s.scan_processes = cs.get_bool("scan_processes", false);
  s.cache = cs.get_bool("cache", true);
  s.cache_dir = cs.get_string("cache_dir");
  s.cache_policy = runtime::cache_policy_from(cs, s.cache_policy);
  auto& o = s.targets;
  o.exclude = cs.get_string_list("exclude");
  for (const auto& e : o.exclude) {
    if (e.rfind("re:", 0) != 0)
      continue;
    try {
      std::regex check(e.substr(3));
    } catch (const std::regex_error& ex) {
      if (error)
        *error = "yara \"exclude\": invalid regex \"" + e.substr(3) + "\": " + ex.what();
      return std::nullopt;
    }
  }
  o.max_file_size = cs.get_size("max_file_size", 64u << 20);
  o.timeout_seconds = static_cast<int>(
      std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(
                                    cs.get_duration("timeout", std::chrono::seconds(60)))
                                    .count()));
  o.fast = cs.get_bool("fast", false);
  o.follow_symlinks = cs.get_bool("follow_symlinks", false);
  auto sev = runtime::parse_severity(cs.get_string("severity", "medium"));
  if (!sev) {
    if (error)
      *error = "yara \"severity\" must be one of info, low, medium, high, critical";
    return std::nullopt;
  }
  o.level = *sev;
  o.workers = static_cast<unsigned>(std::clamp<std::int64_t>(cs.get_int("workers", 1), 1, 32));
  o.segment_size = static_cast<std::size_t>(
      std::clamp<std::int64_t>(cs.get_int("segment_size", 256), 16, 1000000));
  o.max_memory = cs.get_size("max_memory", 64u << 20);
  return s;
}

} // namespace pg::actors::yara
