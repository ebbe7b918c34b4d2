// SPDX-License-Identifier: Apache-2.0
// plugin_manifest.hpp — what a detector plugin declares about itself (read from the ELF note of
// its .so before any of its code runs), plugin versions (semver) and version requirements.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace pg::runtime {

/// A semantic version "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]". Build metadata is ignored, a
/// pre-release sorts before its release (1.0.0-rc1 < 1.0.0), as semver.org says.
struct semver {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::string prerelease;

  /// Parses a full version ("1.2.3", "1.2.3-rc.1"); nullopt on anything else.
  static std::optional<semver> parse(std::string_view text);
  /// Also accepts "1" and "1.2" (missing parts are 0): the form used in requirements.
  static std::optional<semver> parse_partial(std::string_view text);
  [[nodiscard]] std::string to_string() const;

  friend int compare(const semver& a, const semver& b) noexcept;
  friend bool operator==(const semver& a, const semver& b) noexcept { return compare(a, b) == 0; }
  friend bool operator<(const semver& a, const semver& b) noexcept { return compare(a, b) < 0; }
};

/// A requirement such as ">=1.2, <2" : comma-separated comparisons that must all hold.
/// Operators: >= > <= < = == (and a bare version means ==).
class version_requirement {
public:
  /// nullopt with `*error` set when the text is malformed.
  static std::optional<version_requirement> parse(std::string_view text, std::string* error);
  [[nodiscard]] bool matches(const semver& v) const noexcept;
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

private:
  enum class op { ge, gt, le, lt, eq };
  struct clause {
    op kind;
    semver version;
  };
  std::string text_;
  std::vector<clause> clauses_;
};

enum class config_key_type { string, integer, floating, boolean, string_list };
std::string_view to_string(config_key_type t) noexcept;

/// One configuration key a detector accepts (`config = { ... }` in the detector's TOML table).
struct config_key_spec {
  std::string key;
  config_key_type type = config_key_type::string;
  nlohmann::json default_value; // null when the key has no default
  std::string description;
  bool required = false;
};

/// The capabilities the engine knows. A detector declares what it needs; the engine grants only
/// that: "findings" (emit findings), "metrics" (report metrics), "state" (snapshot/restore across
/// restarts). An unknown capability makes the manifest invalid (the engine cannot grant it).
inline constexpr std::string_view known_plugin_capabilities[] = {"findings", "metrics", "state"};

struct detector_manifest {
  std::string name;
  std::string description;
  std::vector<std::string> subscribes; // event kinds; empty = every kind
  std::vector<std::string> capabilities;
  std::vector<config_key_spec> config;

  [[nodiscard]] bool has_capability(std::string_view c) const noexcept;
  [[nodiscard]] const config_key_spec* find_key(std::string_view key) const noexcept;
};

struct plugin_manifest {
  std::uint32_t abi_major = 0;
  std::uint32_t abi_minor = 0; // the minor the plugin requires
  std::string id;              // reverse DNS: "org.phantomguard.cryptominer"
  semver version;
  std::string vendor;
  std::string description;
  std::string license;
  std::vector<detector_manifest> detectors;
  std::string json; // the manifest text as embedded

  /// `name`, or the first detector when `name` is empty; nullptr when there is none.
  [[nodiscard]] const detector_manifest* find_detector(std::string_view name) const noexcept;
};

/// Parses manifest JSON (schema in docs/sdk.md). On failure returns nullopt and sets `*error`
/// to one line naming the offending key.
std::optional<plugin_manifest> parse_plugin_manifest(std::string_view json, std::uint32_t abi_major,
                                                     std::uint32_t abi_minor, std::string* error);

/// True for a reverse-DNS id: two or more dot-separated labels of [a-z0-9_-], the first
/// starting with a letter ("org.example.detector").
bool is_reverse_dns_id(std::string_view id) noexcept;

} // namespace pg::runtime
