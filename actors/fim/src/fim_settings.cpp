// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/fim_settings.hpp"

namespace pg::actors::fim {

using runtime::option_spec;
using runtime::option_type;

std::vector<option_spec> fim_option_specs() {
  auto spec = [](std::string key, option_type t, std::string def, std::string desc) {
    option_spec s;
    s.key = std::move(key);
    s.type = t;
    s.default_text = std::move(def);
    s.description = std::move(desc);
    return s;
  };
  std::vector<option_spec> out;
  out.push_back(spec("rules", option_type::table, "/etc and /usr/bin, NORMAL",
                     "watched paths: rules = [{ path, recurse, exclude, attributes, severity }] "
                     "or named sub-tables [..rules.NAME]"));
  out.push_back(spec("database", option_type::string, "<state_dir>/<name>/fim.db",
                     "baseline database (SQLite)"));
  auto rehash = spec("rehash", option_type::string, "changed",
                     "changed: hash only files whose inode/size/mtime/ctime changed; always: "
                     "hash every file on every scan");
  rehash.choices = {"changed", "always"};
  out.push_back(rehash);
  out.push_back(spec("realtime", option_type::boolean, "false",
                     "inotify watches on the trees; changes reported at the next tick"));
  out.push_back(spec("full_scan_interval", option_type::duration, "1h",
                     "with realtime: how often a full pass runs besides the watches"));
  out.push_back(spec("update_baseline", option_type::boolean, "false",
                     "true: record each reported change in the baseline (reported once); "
                     "false: a change is reported on every check until `phantomguard fim "
                     "accept` records it"));
  out.push_back(spec("baseline_seal", option_type::string, "<database>.seal",
                     "where the baseline's digest is kept, outside the database: a baseline "
                     "changed behind the engine's back is fim.baseline_tampered"));
  auto max_file = spec("max_file_size", option_type::size, "0",
                       "files larger than this are not hashed (0 = no limit)");
  out.push_back(max_file);
  auto workers = spec("workers", option_type::integer, "1", "hashing threads");
  workers.min = 1;
  workers.max = 16;
  out.push_back(workers);
  auto seg = spec("segment_size", option_type::integer, "2000",
                  "paths per segment (one transaction; should_stop is checked between)");
  seg.min = 16;
  seg.max = 1000000;
  out.push_back(seg);
  out.push_back(spec("max_memory", option_type::size, "32MiB",
                     "bounds a segment's records and read buffers"));
  // nice, io_class, io_level, cpu_affinity and throttle are the engine's, for every component
  // (runtime/throttle.hpp); the fim type ships at nice 10 and idle I/O (register.cpp).
  return out;
}

rule_set default_rules() {
  rule_set set;
  auto add = [&](std::string path, std::vector<std::string> excludes) {
    fim_rule r;
    r.path = std::move(path);
    for (auto& e : excludes)
      r.exclude.push_back(*exclusion::make(std::move(e)));
    set.add(std::move(r));
  };
  add("/etc", {"*.swp", "*~", "/etc/mtab", "/etc/adjtime", "/etc/ld.so.cache", "/etc/machine-id",
               "re:^/etc/.*\\.(lock|pid)$"});
  add("/usr/bin", {});
  return set;
}

std::optional<fim_settings> parse_fim_settings(const toml::table& t, std::string* error) {
  fim_settings s;
  runtime::component_settings cs(t);
  if (const auto* rules = t.get("rules")) {
    auto parsed = rule_set::parse(*rules, error);
    if (!parsed)
      return std::nullopt;
    s.rules = std::move(*parsed);
  } else {
    s.rules = default_rules();
  }
  s.database = cs.get_string("database");
  s.realtime = cs.get_bool("realtime", false);
  s.update_baseline = cs.get_bool("update_baseline", false);
  s.seal = cs.get_string("baseline_seal");
  s.full_scan_interval = cs.get_duration("full_scan_interval", std::chrono::hours(1));
  auto rehash = cs.get_string("rehash", "changed");
  if (rehash != "changed" && rehash != "always") {
    if (error)
      *error = "fim \"rehash\" must be \"changed\" or \"always\"";
    return std::nullopt;
  }
  s.scan.rehash = rehash == "always" ? rehash_policy::always : rehash_policy::changed;
  s.scan.max_hash_size = cs.get_size("max_file_size", 0);
  s.scan.workers = static_cast<unsigned>(std::clamp<std::int64_t>(cs.get_int("workers", 1), 1, 16));
  s.scan.segment_size = static_cast<std::size_t>(
      std::clamp<std::int64_t>(cs.get_int("segment_size", 2000), 16, 1000000));
  s.scan.max_memory = cs.get_size("max_memory", 32u << 20);
  return s;
}

} // namespace pg::actors::fim
