// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/bounded_cache.hpp"

#include "phantomguard/runtime/units.hpp"

namespace pg::runtime {

std::vector<option_spec> cache_option_specs(const cache_policy& defaults, std::string entries_text,
                                            std::string ttl_text) {
  std::vector<option_spec> out;
  option_spec entries;
  entries.key = "cache_max_entries";
  entries.type = option_type::integer;
  entries.default_text = std::to_string(defaults.max_entries);
  entries.description = std::move(entries_text);
  entries.min = 1;
  out.push_back(std::move(entries));
  if (!ttl_text.empty()) {
    option_spec ttl;
    ttl.key = "cache_ttl";
    ttl.type = option_type::duration;
    ttl.default_text = format_duration(defaults.ttl);
    ttl.description = std::move(ttl_text);
    ttl.min = 1;
    out.push_back(std::move(ttl));
  }
  return out;
}

cache_policy cache_policy_from(const component_settings& s, const cache_policy& defaults) {
  cache_policy p = defaults;
  p.max_entries = static_cast<std::uint64_t>(
      s.get_int("cache_max_entries", static_cast<std::int64_t>(defaults.max_entries)));
  p.ttl =
      std::chrono::duration_cast<std::chrono::seconds>(s.get_duration("cache_ttl", defaults.ttl));
  return p;
}

} // namespace pg::runtime
