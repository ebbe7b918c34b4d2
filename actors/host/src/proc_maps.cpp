// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/proc_maps.hpp"

#include <charconv>

#include "phantomguard/actors/host/file_read.hpp"

namespace pg::actors::host {

namespace {

// Splits off the next space-separated token of `line`.
std::string_view next_token(std::string_view& line) {
  while (!line.empty() && line.front() == ' ')
    line.remove_prefix(1);
  auto end = line.find(' ');
  auto tok = line.substr(0, end);
  line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  return tok;
}

template <class T>
bool parse_num(std::string_view s, T& out, int base) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc{} && p == s.data() + s.size();
}

} // namespace

bool memory_mapping::anonymous() const noexcept {
  if (inode != 0)
    return false;
  return path.empty() || path == "[heap]" || path.rfind("[stack", 0) == 0 ||
         path.rfind("[anon:", 0) == 0;
}

std::vector<memory_mapping> parse_proc_maps(std::string_view text, std::size_t* malformed) {
  std::vector<memory_mapping> out;
  std::size_t bad = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    auto nl = text.find('\n', i);
    if (nl == std::string_view::npos)
      nl = text.size();
    std::string_view line = text.substr(i, nl - i);
    i = nl + 1;
    if (line.empty())
      continue;
    // 7f0000000000-7f0000001000 rwxp 00000000 00:00 0    [path]
    auto range = next_token(line);
    auto perms = next_token(line);
    auto offset = next_token(line);
    auto dev = next_token(line);
    auto inode = next_token(line);
    memory_mapping m;
    auto dash = range.find('-');
    bool ok = dash != std::string_view::npos && perms.size() >= 4 && !dev.empty() &&
              parse_num(range.substr(0, dash), m.start, 16) &&
              parse_num(range.substr(dash + 1), m.end, 16) && parse_num(offset, m.offset, 16) &&
              parse_num(inode, m.inode, 10);
    if (!ok) {
      ++bad;
      continue;
    }
    m.readable = perms[0] == 'r';
    m.writable = perms[1] == 'w';
    m.executable = perms[2] == 'x';
    m.shared = perms[3] == 's';
    while (!line.empty() && line.front() == ' ')
      line.remove_prefix(1);
    m.path = std::string(line);
    out.push_back(std::move(m));
  }
  if (malformed)
    *malformed = bad;
  return out;
}

std::optional<std::vector<memory_mapping>> read_proc_maps(pid_t pid, const std::string& proc_root,
                                                          int* err) {
  auto text = read_file(proc_root + "/" + std::to_string(pid) + "/maps", 64u << 20, err);
  if (!text)
    return std::nullopt;
  return parse_proc_maps(*text);
}

} // namespace pg::actors::host
