// SPDX-License-Identifier: Apache-2.0
// plugin_version.cpp — semver parsing and comparison, and version requirements (">=1.2, <2").
#include <charconv>
#include <string>

#include "phantomguard/runtime/plugin_manifest.hpp"

namespace pg::runtime {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> number(std::string_view s) noexcept {
  if (s.empty() || (s.size() > 1 && s.front() == '0'))
    return std::nullopt; // semver forbids leading zeros
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

std::optional<semver> parse_impl(std::string_view text, bool partial) {
  text = trim(text);
  if (auto plus = text.find('+'); plus != std::string_view::npos)
    text = text.substr(0, plus);
  semver v;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    v.prerelease = std::string(text.substr(dash + 1));
    if (v.prerelease.empty())
      return std::nullopt;
    text = text.substr(0, dash);
  }
  std::uint64_t* parts[] = {&v.major, &v.minor, &v.patch};
  int n = 0;
  while (true) {
    auto dot = text.find('.');
    auto piece = text.substr(0, dot);
    if (n == 3)
      return std::nullopt;
    auto value = number(piece);
    if (!value)
      return std::nullopt;
    *parts[n++] = *value;
    if (dot == std::string_view::npos)
      break;
    text = text.substr(dot + 1);
  }
  if (n < 3 && !partial)
    return std::nullopt;
  return v;
}

} // namespace

std::optional<semver> semver::parse(std::string_view text) {
  return parse_impl(text, false);
}
std::optional<semver> semver::parse_partial(std::string_view text) {
  return parse_impl(text, true);
}

std::string semver::to_string() const {
  std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!prerelease.empty())
    s += "-" + prerelease;
  return s;
}

int compare(const semver& a, const semver& b) noexcept {
  if (a.major != b.major)
    return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor)
    return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch)
    return a.patch < b.patch ? -1 : 1;
  if (a.prerelease == b.prerelease)
    return 0;
  if (a.prerelease.empty())
    return 1; // a release is newer than any of its pre-releases
  if (b.prerelease.empty())
    return -1;
  return a.prerelease < b.prerelease ? -1 : 1;
}

std::optional<version_requirement> version_requirement::parse(std::string_view text,
                                                              std::string* error) {
  version_requirement req;
  req.text_ = std::string(trim(text));
  std::string_view rest = req.text_;
  if (rest.empty()) {
    if (error)
      *error = "empty version requirement";
    return std::nullopt;
  }
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    op kind = op::eq;
    if (item.starts_with(">=")) {
      kind = op::ge;
      item.remove_prefix(2);
    } else if (item.starts_with("<=")) {
      kind = op::le;
      item.remove_prefix(2);
    } else if (item.starts_with("==")) {
      item.remove_prefix(2);
    } else if (item.starts_with(">")) {
      kind = op::gt;
      item.remove_prefix(1);
    } else if (item.starts_with("<")) {
      kind = op::lt;
      item.remove_prefix(1);
    } else if (item.starts_with("=")) {
      item.remove_prefix(1);
    }
    auto v = semver::parse_partial(item);
    if (!v) {
      if (error)
        *error =
            "malformed version requirement \"" + req.text_ + "\" (expected e.g. \">=1.2, <2\")";
      return std::nullopt;
    }
    req.clauses_.push_back({kind, *v});
  }
  return req;
}

bool version_requirement::matches(const semver& v) const noexcept {
  for (const clause& c : clauses_) {
    const int r = compare(v, c.version);
    bool ok = false;
    switch (c.kind) {
    case op::ge:
      ok = r >= 0;
      break;
    case op::gt:
      ok = r > 0;
      break;
    case op::le:
      ok = r <= 0;
      break;
    case op::lt:
      ok = r < 0;
      break;
    case op::eq:
      ok = r == 0;
      break;
    }
    if (!ok)
      return false;
  }
  return true;
}

} // namespace pg::runtime
