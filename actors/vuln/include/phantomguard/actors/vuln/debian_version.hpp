// SPDX-License-Identifier: Apache-2.0
// debian_version.hpp — Debian package versions ([epoch:]upstream[-revision]) and their ordering,
// exactly as dpkg orders them (lib/dpkg/version.c semantics, written from the Debian Policy 5.6.12
// description): epochs numerically, then upstream and revision by alternating non-digit and digit
// runs, where `~` sorts before everything (even the end of the string), letters before non-letters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pg::actors::vuln {

struct debian_version {
  std::uint64_t epoch = 0;
  std::string upstream;
  std::string revision; // empty when the version has no '-'
};

/// Splits a version into its parts. nullopt (and a reason in `*error`) for what dpkg rejects:
/// an empty version, a non-numeric or overlong epoch, an empty upstream part, an upstream part that
/// does not start with a digit, or characters outside the allowed sets.
std::optional<debian_version> parse_debian_version(std::string_view text,
                                                   std::string* error = nullptr);

/// <0, 0, >0 as dpkg --compare-versions orders the parsed versions.
int compare(const debian_version& a, const debian_version& b) noexcept;

/// Compares two version strings. A string that does not parse is split leniently (the same way,
/// without validation) so that ordering stays total; callers that care validate first.
int compare_debian_versions(std::string_view a, std::string_view b) noexcept;

} // namespace pg::actors::vuln
