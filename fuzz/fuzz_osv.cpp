// SPDX-License-Identifier: Apache-2.0
// OSV advisories as an archive serves them (attacker-reachable if the mirror is): one JSON
// object, parsed into an advisory, its CVSS vectors scored; also the severity words.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/vuln/osv_advisory.hpp"

using namespace pg::actors::vuln;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)cvss3_base_score(text);
  (void)severity_from_text(text);
  auto j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (j.is_discarded())
    return 0;
  std::string error;
  auto a = parse_osv_advisory(j, &error);
  if (a && a->cvss_score && (*a->cvss_score < 0 || *a->cvss_score > 10))
    __builtin_trap(); // a score outside CVSS's range
  return 0;
}
