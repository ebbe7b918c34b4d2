// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/taint_flags.hpp"

#include <array>
#include <charconv>

namespace pg::actors::rootkit {

namespace {

using runtime::severity;

struct known_flag {
  char letter;
  std::string_view meaning;
  severity level;
};

// Index = bit. Module-related flags rank higher: they are what loading a rootkit leaves behind.
constexpr std::array<known_flag, 20> known_flags{{
    {'P', "proprietary module was loaded", severity::low},
    {'F', "module was force loaded", severity::medium},
    {'S', "kernel running on an out of specification system", severity::info},
    {'R', "module was force unloaded", severity::medium},
    {'M', "processor reported a machine check exception", severity::info},
    {'B', "bad page referenced or unexpected page flags", severity::info},
    {'U', "taint requested by user space", severity::info},
    {'D', "kernel died recently (OOPS or BUG)", severity::info},
    {'A', "ACPI table overridden by user", severity::info},
    {'W', "kernel issued a warning", severity::info},
    {'C', "staging driver was loaded", severity::low},
    {'I', "workaround for a platform firmware bug applied", severity::info},
    {'O', "externally-built (out-of-tree) module was loaded", severity::medium},
    {'E', "unsigned module was loaded", severity::medium},
    {'L', "soft lockup occurred", severity::info},
    {'K', "kernel has been live patched", severity::low},
    {'X', "auxiliary taint (distribution-defined)", severity::info},
    {'T', "kernel built with the struct randomization plugin", severity::info},
    {'N', "in-kernel test has been run", severity::info},
    {'J', "user space used a mutating debug operation (fwctl)", severity::info},
}};

} // namespace

std::vector<taint_flag> decode_taint(std::uint64_t value) {
  std::vector<taint_flag> out;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!((value >> bit) & 1u))
      continue;
    if (bit < known_flags.size())
      out.push_back(
          {bit, known_flags[bit].letter, known_flags[bit].meaning, known_flags[bit].level});
    else
      out.push_back({bit, '?', "unknown taint bit", severity::info});
  }
  return out;
}

std::string taint_letters(const std::vector<taint_flag>& flags) {
  std::string s;
  for (const auto& f : flags)
    s += f.letter;
  return s;
}

std::optional<std::uint64_t> parse_taint(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size())
    return std::nullopt;
  return v;
}

} // namespace pg::actors::rootkit
