// SPDX-License-Identifier: Apache-2.0
// The dpkg status database (of a host or of a container image: attacker-controlled in the
// latter) and Debian version ordering: the first line is split off as two versions to compare.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "phantomguard/actors/vuln/debian_version.hpp"
#include "phantomguard/actors/vuln/dpkg_database.hpp"

using namespace pg::actors::vuln;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dpkg_database db;
  parse_dpkg_status(text, "fuzz", true, db);
  dpkg_database loose;
  parse_dpkg_status(text, "fuzz", false, loose);
  const auto nl = text.find('\n');
  const auto first = text.substr(0, nl);
  const auto space = first.find(' ');
  if (space != std::string_view::npos) {
    const auto a = first.substr(0, space);
    const auto b = first.substr(space + 1);
    // Ordering is antisymmetric whatever the input.
    const int ab = compare_debian_versions(a, b);
    const int ba = compare_debian_versions(b, a);
    if ((ab < 0) != (ba > 0) || (ab == 0) != (ba == 0))
      __builtin_trap();
  }
  return 0;
}
