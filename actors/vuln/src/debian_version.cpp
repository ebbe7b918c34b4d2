// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/debian_version.hpp"

#include <cctype>

namespace pg::actors::vuln {

namespace {

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The weight of one character in a non-digit run: '~' below the end of the string (0), letters
// by their code, everything else after all letters.
int order(char c) noexcept {
  if (is_digit(c))
    return 0;
  if (is_alpha(c))
    return static_cast<unsigned char>(c);
  if (c == '~')
    return -1;
  return static_cast<unsigned char>(c) + 256;
}

int compare_part(std::string_view a, std::string_view b) noexcept {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    // Non-digit prefix, character by character; a missing character weighs 0 (the end).
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      int ac = i < a.size() ? order(a[i]) : 0;
      int bc = j < b.size() ? order(b[j]) : 0;
      if (ac != bc)
        return ac - bc;
      ++i;
      ++j;
    }
    // Digit run: numeric comparison without overflow (skip zeros, longer run wins, then lexical).
    while (i < a.size() && a[i] == '0')
      ++i;
    while (j < b.size() && b[j] == '0')
      ++j;
    int first_diff = 0;
    while (i < a.size() && is_digit(a[i]) && j < b.size() && is_digit(b[j])) {
      if (first_diff == 0)
        first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && is_digit(a[i]))
      return 1;
    if (j < b.size() && is_digit(b[j]))
      return -1;
    if (first_diff != 0)
      return first_diff;
  }
  return 0;
}

debian_version split(std::string_view text) {
  debian_version v;
  // dpkg ignores leading and trailing blanks.
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  auto colon = text.find(':');
  if (colon != std::string_view::npos) {
    std::uint64_t epoch = 0;
    for (char c : text.substr(0, colon))
      if (is_digit(c) && epoch < (1ull << 40))
        epoch = epoch * 10 + static_cast<std::uint64_t>(c - '0');
    v.epoch = epoch;
    text.remove_prefix(colon + 1);
  }
  auto dash = text.rfind('-');
  if (dash != std::string_view::npos) {
    v.revision = std::string(text.substr(dash + 1));
    text = text.substr(0, dash);
  }
  v.upstream = std::string(text);
  return v;
}

bool fail(std::string* error, const char* why) {
  if (error)
    *error = why;
  return false;
}

bool validate(std::string_view text, std::string* error) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.empty())
    return fail(error, "version string is empty");
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c)))
      return fail(error, "version string has embedded spaces");
  auto colon = text.find(':');
  if (colon != std::string_view::npos) {
    auto epoch = text.substr(0, colon);
    if (epoch.empty())
      return fail(error, "epoch in version is empty");
    if (epoch.size() > 9)
      return fail(error, "epoch in version is too big");
    for (char c : epoch)
      if (!is_digit(c))
        return fail(error, "epoch in version is not number");
    text.remove_prefix(colon + 1);
  }
  auto dash = text.rfind('-');
  auto upstream = dash == std::string_view::npos ? text : text.substr(0, dash);
  if (upstream.empty())
    return fail(error, "version number is empty");
  if (!is_digit(upstream.front()))
    return fail(error, "version number does not start with digit");
  for (char c : upstream)
    if (!is_digit(c) && !is_alpha(c) && c != '.' && c != '-' && c != '+' && c != '~' && c != ':')
      return fail(error, "invalid character in version number");
  if (dash != std::string_view::npos) {
    auto revision = text.substr(dash + 1);
    if (revision.empty())
      return fail(error, "revision number is empty");
    for (char c : revision)
      if (!is_digit(c) && !is_alpha(c) && c != '.' && c != '+' && c != '~')
        return fail(error, "invalid character in revision number");
  }
  return true;
}

} // namespace

std::optional<debian_version> parse_debian_version(std::string_view text, std::string* error) {
  if (!validate(text, error))
    return std::nullopt;
  return split(text);
}

int compare(const debian_version& a, const debian_version& b) noexcept {
  if (a.epoch != b.epoch)
    return a.epoch < b.epoch ? -1 : 1;
  if (int r = compare_part(a.upstream, b.upstream); r != 0)
    return r;
  return compare_part(a.revision, b.revision);
}

int compare_debian_versions(std::string_view a, std::string_view b) noexcept {
  return compare(split(a), split(b));
}

} // namespace pg::actors::vuln
