// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/proc_stat.hpp"

#include <charconv>

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

namespace pg::actors::host {

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
      ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n')
      ++j;
    if (j > i)
      out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

} // namespace

std::vector<pid_t> list_pids(const std::string& proc_root) {
  return list_pids_raw(proc_root);
}

std::optional<proc_stat> parse_proc_stat(std::string_view text) {
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return std::nullopt;
  proc_stat st;
  if (!parse_number(text.substr(0, open > 0 ? open - 1 : 0), st.pid))
    return std::nullopt;
  st.comm = std::string(text.substr(open + 1, close - open - 1));
  auto rest = split_ws(text.substr(close + 1));
  // rest[0] is field 3 (state); field N is rest[N - 3].
  if (rest.size() < 22)
    return std::nullopt;
  st.state = rest[0].empty() ? '?' : rest[0][0];
  bool ok = parse_number(rest[1], st.ppid) && parse_number(rest[2], st.pgrp) &&
            parse_number(rest[3], st.session) && parse_number(rest[11], st.utime_ticks) &&
            parse_number(rest[12], st.stime_ticks) && parse_number(rest[17], st.num_threads) &&
            parse_number(rest[19], st.start_ticks) && parse_number(rest[20], st.vsize) &&
            parse_number(rest[21], st.rss_pages);
  if (!ok)
    return std::nullopt;
  return st;
}

std::optional<proc_stat> read_proc_stat(pid_t pid, const std::string& proc_root, int* err) {
  auto text = read_file(proc_root + "/" + std::to_string(pid) + "/stat", 4096, err);
  if (!text)
    return std::nullopt;
  return parse_proc_stat(*text);
}

proc_status parse_proc_status(std::string_view text) {
  proc_status st;
  std::size_t i = 0;
  while (i < text.size()) {
    auto nl = text.find('\n', i);
    if (nl == std::string_view::npos)
      nl = text.size();
    auto line = text.substr(i, nl - i);
    if (auto colon = line.find(':'); colon != std::string_view::npos) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      st.emplace(std::string(line.substr(0, colon)), std::string(value));
    }
    i = nl + 1;
  }
  return st;
}

std::optional<proc_status> read_proc_status(pid_t pid, const std::string& proc_root, int* err) {
  auto text = read_file(proc_root + "/" + std::to_string(pid) + "/status", 16384, err);
  if (!text)
    return std::nullopt;
  return parse_proc_status(*text);
}

std::optional<std::int64_t> status_number(const proc_status& st, std::string_view key,
                                          std::size_t index) {
  auto it = st.find(key);
  if (it == st.end())
    return std::nullopt;
  auto parts = split_ws(it->second);
  std::int64_t v = 0;
  if (index >= parts.size() || !parse_number(parts[index], v))
    return std::nullopt;
  return v;
}

std::vector<std::string> split_nul(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto z = text.find('\0', i);
    if (z == std::string_view::npos)
      z = text.size();
    out.emplace_back(text.substr(i, z - i));
    i = z + 1;
  }
  return out;
}

} // namespace pg::actors::host
