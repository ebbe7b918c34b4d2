// SPDX-License-Identifier: Apache-2.0
// fim_rule.hpp — what the integrity checker watches: one rule per path (recursion, exclusions,
// attributes, severity), and the rule set that picks the rule governing any path.
//
// TOML (inside the analyzer's table, or a standalone file for `phantomguard fim --config`):
//   rules = [
//     { path = "/etc", recurse = true, exclude = ["*.swp", "re:^/etc/mtab$"], attributes = "NORMAL"
//     }, { path = "/var/log", attributes = "LOG", severity = "low" },
//   ]
// or, equivalently, as named sub-tables `[analyzers.fim.rules.etc] path = "/etc" ...`.
#pragma once

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "phantomguard/actors/fim/attribute_set.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::fim {

/// One exclusion: a glob (matched against the base name when it has no '/', else against the
/// whole path, `*` crossing '/') or, with the prefix "re:", an ECMAScript regex searched in the
/// whole path.
class exclusion {
public:
  /// nullopt with `error` set for an invalid regex.
  static std::optional<exclusion> make(std::string pattern, std::string* error = nullptr);
  [[nodiscard]] bool matches(std::string_view path, std::string_view base_name) const;
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

private:
  std::string text_;
  std::string glob_;
  bool whole_path_ = false;
  std::shared_ptr<const std::regex> regex_; // shared: rules are copied, regexes are immutable
};

struct fim_rule {
  std::string path;    // absolute, normalised (no trailing '/', except the root "/")
  bool recurse = true; // false: the path itself and its direct entries only
  std::vector<exclusion> exclude;
  attribute_set attributes = attribute_set::group_normal();
  std::optional<runtime::severity> level; // overrides the per-rule-id default severities

  /// True when `path` lies within this rule's reach (ignoring exclusions).
  [[nodiscard]] bool covers(std::string_view path) const;
  [[nodiscard]] bool excluded(std::string_view path) const;
};

/// Removes trailing slashes and "/./" noise; keeps "/" as is. Does not resolve symlinks.
std::string normalise_path(std::string_view path);

class rule_set {
public:
  /// Parses `rules` (an array of tables or a table of tables). Returns nullopt and fills
  /// `error` with the offending rule's index/name and the reason.
  static std::optional<rule_set> parse(const toml::node& rules, std::string* error);

  void add(fim_rule rule);
  [[nodiscard]] bool empty() const noexcept { return rules_.empty(); }
  [[nodiscard]] const std::vector<fim_rule>& rules() const noexcept { return rules_; }

  /// The most specific rule covering `path` (longest root), or nullptr.
  [[nodiscard]] const fim_rule* rule_for(std::string_view path) const;

  /// True when `path` is covered by a rule and not excluded by it.
  [[nodiscard]] bool watched(std::string_view path) const;

private:
  std::vector<fim_rule> rules_; // sorted by path length, longest first
};

} // namespace pg::actors::fim
