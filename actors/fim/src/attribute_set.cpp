// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/attribute_set.hpp"

#include <algorithm>
#include <cctype>

namespace pg::actors::fim {

const attribute_info all_attributes[12] = {
    {attribute::type, "type"},     {attribute::perms, "perms"}, {attribute::inode, "inode"},
    {attribute::links, "links"},   {attribute::uid, "uid"},     {attribute::gid, "gid"},
    {attribute::size, "size"},     {attribute::mtime, "mtime"}, {attribute::ctime, "ctime"},
    {attribute::xattrs, "xattrs"}, {attribute::caps, "caps"},   {attribute::sha256, "sha256"},
};

namespace {

constexpr std::uint32_t bit(attribute a) {
  return static_cast<std::uint32_t>(a);
}

constexpr std::uint32_t all_bits = (1u << 12) - 1;
constexpr std::uint32_t perms_bits = bit(attribute::type) | bit(attribute::perms) |
                                     bit(attribute::uid) | bit(attribute::gid) |
                                     bit(attribute::xattrs) | bit(attribute::caps);
constexpr std::uint32_t content_bits = bit(attribute::type) | bit(attribute::sha256);

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::uint32_t> lookup(std::string_view word) {
  // A lower-case attribute name wins ("perms" the attribute, "PERMS" the group, as in AIDE
  // where groups are written in capitals).
  for (const auto& info : all_attributes)
    if (info.name == word)
      return bit(info.attr);
  auto w = lower(word);
  if (w == "normal" || w == "all")
    return all_bits;
  if (w == "metadata")
    return all_bits & ~bit(attribute::sha256);
  if (w == "perms")
    return perms_bits;
  if (w == "content")
    return content_bits;
  if (w == "content_ex")
    return content_bits | perms_bits | bit(attribute::size);
  if (w == "log")
    return perms_bits | bit(attribute::inode);
  if (w == "hash" || w == "sha256")
    return bit(attribute::sha256);
  if (w == "capabilities")
    return bit(attribute::caps);
  if (w == "permissions" || w == "mode")
    return bit(attribute::perms);
  if (w == "nlink")
    return bit(attribute::links);
  for (const auto& info : all_attributes)
    if (info.name == w)
      return bit(info.attr);
  return std::nullopt;
}

} // namespace

attribute_set attribute_set::group_normal() noexcept {
  return attribute_set(all_bits);
}

std::optional<attribute_set> attribute_set::parse(std::string_view text, std::string* error) {
  std::uint32_t bits = 0;
  char op = '+';
  std::size_t i = 0;
  bool any = false;
  while (i <= text.size()) {
    std::size_t j = text.find_first_of("+-", i);
    if (j == std::string_view::npos)
      j = text.size();
    auto word = text.substr(i, j - i);
    while (!word.empty() && word.front() == ' ')
      word.remove_prefix(1);
    while (!word.empty() && word.back() == ' ')
      word.remove_suffix(1);
    if (word.empty()) {
      if (error)
        *error = "empty attribute name in \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    auto v = lookup(word);
    if (!v) {
      if (error)
        *error = "unknown attribute or group \"" + std::string(word) +
                 "\" (groups: NORMAL, METADATA, PERMS, CONTENT, CONTENT_EX, LOG; attributes: "
                 "type perms inode links uid gid size mtime ctime xattrs caps sha256)";
      return std::nullopt;
    }
    bits = op == '+' ? (bits | *v) : (bits & ~*v);
    any = true;
    if (j == text.size())
      break;
    op = text[j];
    i = j + 1;
  }
  if (!any) {
    if (error)
      *error = "no attributes given";
    return std::nullopt;
  }
  return attribute_set(bits);
}

std::vector<std::string> attribute_set::names() const {
  std::vector<std::string> out;
  for (const auto& info : all_attributes)
    if (has(info.attr))
      out.emplace_back(info.name);
  return out;
}

} // namespace pg::actors::fim
