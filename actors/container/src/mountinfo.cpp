// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/mountinfo.hpp"

#include <charconv>

namespace pg::actors::container {

namespace {

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ')
      ++i;
    auto start = i;
    while (i < line.size() && line[i] != ' ')
      ++i;
    if (i > start)
      out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool to_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

} // namespace

std::vector<mount_entry> parse_mountinfo(std::string_view text, std::size_t* malformed) {
  std::vector<mount_entry> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty())
      continue;
    auto f = split_spaces(line);
    // id parent dev root mountpoint options [optional...] - fstype source superoptions
    std::size_t dash = 6;
    while (dash < f.size() && f[dash] != "-")
      ++dash;
    mount_entry m;
    if (f.size() < 7 || dash + 2 >= f.size() || !to_int(f[0], m.mount_id) ||
        !to_int(f[1], m.parent_id)) {
      if (malformed)
        ++*malformed;
      continue;
    }
    m.device = std::string(f[2]);
    m.root = unescape(f[3]);
    m.mount_point = unescape(f[4]);
    m.options = std::string(f[5]);
    m.fstype = std::string(f[dash + 1]);
    m.source = unescape(f[dash + 2]);
    if (dash + 3 < f.size())
      m.super_options = unescape(f[dash + 3]);
    out.push_back(std::move(m));
  }
  return out;
}

std::string mount_option(std::string_view options, std::string_view key) {
  std::size_t i = 0;
  while (i <= options.size()) {
    auto comma = options.find(',', i);
    auto item =
        options.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=')
      return std::string(item.substr(key.size() + 1));
    if (comma == std::string_view::npos)
      break;
    i = comma + 1;
  }
  return {};
}

bool has_mount_flag(std::string_view options, std::string_view flag) {
  std::size_t i = 0;
  while (i <= options.size()) {
    auto comma = options.find(',', i);
    auto item =
        options.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
    if (item == flag)
      return true;
    if (comma == std::string_view::npos)
      break;
    i = comma + 1;
  }
  return false;
}

} // namespace pg::actors::container
