// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/known_rootkits.hpp"

#include <filesystem>
#include <sys/stat.h>

#include <toml++/toml.h>

#include "phantomguard/actors/host/file_read.hpp"

namespace pg::actors::rootkit {

namespace {

bool read_paths(const toml::table& entry, const char* key, std::vector<std::string>& out,
                std::string& error, const std::string& origin) {
  const auto* node = entry.get(key);
  if (!node)
    return true;
  const auto* arr = node->as_array();
  auto where = [&](const toml::node& n) {
    const auto& s = n.source().begin;
    return origin + ":" + std::to_string(s.line) + ":" + std::to_string(s.column) + ": ";
  };
  if (!arr) {
    error = where(*node) + "'" + key + "' must be an array of absolute paths";
    return false;
  }
  for (const auto& item : *arr) {
    auto s = item.value<std::string>();
    if (!s || s->empty() || (*s)[0] != '/') {
      error = where(item) + "'" + key + "' entries must be absolute paths (start with '/')";
      return false;
    }
    out.push_back(*s);
  }
  return true;
}

} // namespace

known_rootkit_list load_known_rootkits(const std::string& path) {
  known_rootkit_list list;
  list.origin = path;
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& s = e.source().begin;
    list.error = path + ":" + std::to_string(s.line) + ":" + std::to_string(s.column) + ": " +
                 std::string(e.description());
    return list;
  } catch (const std::exception& e) {
    list.error = path + ": " + e.what();
    return list;
  }
  const auto* arr = doc["rootkit"].as_array();
  if (!arr) {
    list.error = path + ":1:1: no [[rootkit]] entries";
    return list;
  }
  for (const auto& node : *arr) {
    const auto* entry = node.as_table();
    if (!entry) {
      list.error = path + ": each rootkit must be a [[rootkit]] table";
      return list;
    }
    known_rootkit rk;
    rk.name = entry->get("name") ? entry->get("name")->value_or(std::string{}) : std::string{};
    if (rk.name.empty()) {
      const auto& s = entry->source().begin;
      list.error = path + ":" + std::to_string(s.line) + ":" + std::to_string(s.column) +
                   ": [[rootkit]] without a 'name'";
      return list;
    }
    if (!read_paths(*entry, "files", rk.files, list.error, path) ||
        !read_paths(*entry, "dirs", rk.dirs, list.error, path))
      return list;
    list.rootkits.push_back(std::move(rk));
  }
  return list;
}

std::optional<std::string> find_known_rootkit_file() {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* p : {"/etc/phantomguard/rootkits/known_files.toml",
                        "/usr/share/phantomguard/rootkits/known_files.toml"})
    if (fs::exists(p, ec))
      return std::string(p);
  if (auto exe = host::read_link("/proc/self/exe")) {
    fs::path dir = fs::path(*exe).parent_path();
    for (int up = 0; up < 6 && !dir.empty(); ++up, dir = dir.parent_path()) {
      for (const char* rel :
           {"share/phantomguard/rootkits/known_files.toml", "config/rootkits/known_files.toml"}) {
        auto candidate = dir / rel;
        if (fs::exists(candidate, ec))
          return candidate.string();
      }
      if (dir == dir.root_path())
        break;
    }
  }
  return std::nullopt;
}

std::vector<known_file_hit> find_known_files(const known_rootkit_list& list,
                                             const std::string& root) {
  std::string prefix = root;
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  std::vector<known_file_hit> hits;
  auto check = [&](const std::string& name, const std::string& p, bool dir) {
    struct stat st {};
    auto real = prefix + p;
    if (::lstat(real.c_str(), &st) != 0)
      return;
    // A listed directory that is a plain file (or the reverse) still counts: the name is the IOC.
    hits.push_back({name, p, real, S_ISDIR(st.st_mode) || dir});
  };
  for (const auto& rk : list.rootkits) {
    for (const auto& f : rk.files)
      check(rk.name, f, false);
    for (const auto& d : rk.dirs)
      check(rk.name, d, true);
  }
  return hits;
}

} // namespace pg::actors::rootkit
