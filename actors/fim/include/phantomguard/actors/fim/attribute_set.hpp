// SPDX-License-Identifier: Apache-2.0
// attribute_set.hpp — which properties of a file the integrity checker watches, and the
// AIDE-like groups that name common sets ("NORMAL", "PERMS", "CONTENT", ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg::actors::fim {

enum class attribute : std::uint32_t {
  type = 1u << 0,
  perms = 1u << 1,
  inode = 1u << 2,
  links = 1u << 3,
  uid = 1u << 4,
  gid = 1u << 5,
  size = 1u << 6,
  mtime = 1u << 7,
  ctime = 1u << 8,
  xattrs = 1u << 9,
  caps = 1u << 10,
  sha256 = 1u << 11,
};

/// A bit set of attributes.
class attribute_set {
public:
  constexpr attribute_set() = default;
  constexpr explicit attribute_set(std::uint32_t bits) : bits_(bits) {}

  [[nodiscard]] constexpr bool has(attribute a) const noexcept {
    return (bits_ & static_cast<std::uint32_t>(a)) != 0;
  }
  constexpr attribute_set& add(attribute a) noexcept {
    bits_ |= static_cast<std::uint32_t>(a);
    return *this;
  }
  constexpr attribute_set& remove(attribute a) noexcept {
    bits_ &= ~static_cast<std::uint32_t>(a);
    return *this;
  }
  [[nodiscard]] constexpr std::uint32_t bits() const noexcept { return bits_; }
  friend constexpr bool operator==(attribute_set, attribute_set) = default;

  /// Parses "NORMAL", "PERMS+sha256", "NORMAL-ctime-inode" (AIDE's notation: a group or
  /// attribute, then +name / -name), case-insensitive. nullopt with `error` set otherwise.
  static std::optional<attribute_set> parse(std::string_view text, std::string* error = nullptr);

  /// The attribute names in a fixed order ("type", "perms", ...).
  [[nodiscard]] std::vector<std::string> names() const;

  /// The groups: NORMAL (everything), METADATA (everything but sha256), PERMS (type, perms,
  /// uid, gid, xattrs, caps), CONTENT (type, sha256), CONTENT_EX (CONTENT + PERMS + size),
  /// LOG (files that grow: type, perms, inode, uid, gid, xattrs, caps).
  static attribute_set group_normal() noexcept;

private:
  std::uint32_t bits_ = 0;
};

/// All attributes in their fixed order, with their names.
struct attribute_info {
  attribute attr;
  std::string_view name;
};
extern const attribute_info all_attributes[12];

} // namespace pg::actors::fim
