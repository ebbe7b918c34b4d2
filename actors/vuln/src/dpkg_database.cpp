// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/dpkg_database.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "phantomguard/actors/vuln/debian_version.hpp"
#include "phantomguard/actors/vuln/root_file.hpp"

namespace pg::actors::vuln {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The package is on disk (fully or partly) in these states, so its files count.
bool status_installed(std::string_view status) {
  auto last_space = status.rfind(' ');
  auto state = last_space == std::string_view::npos ? status : status.substr(last_space + 1);
  return state == "installed" || state == "half-configured" || state == "unpacked" ||
         state == "triggers-awaited" || state == "triggers-pending" || state == "half-installed";
}

struct paragraph {
  std::size_t first_line = 0;
  std::string package, version, architecture, source, status;
  bool has_status = false;
  std::string broken; // why the paragraph is malformed, empty when fine
};

void finish(paragraph& p, const std::string& origin, bool require_status, dpkg_database& db) {
  if (p.first_line == 0)
    return;
  auto reject = [&](std::string reason) {
    db.malformed.push_back({origin, p.first_line, std::move(reason)});
  };
  if (!p.broken.empty()) {
    reject(p.broken);
  } else if (p.package.empty()) {
    reject("entry has no Package field");
  } else if (p.has_status && !status_installed(p.status)) {
    ++db.not_installed;
  } else if (require_status && !p.has_status) {
    reject("package " + p.package + " has no Status field");
  } else if (p.version.empty()) {
    // dpkg keeps config-files-only entries without a version; those are not_installed above.
    reject("package " + p.package + " has no Version field");
  } else {
    std::string why;
    if (!parse_debian_version(p.version, &why)) {
      reject("package " + p.package + " has an invalid version '" + p.version + "': " + why);
    } else {
      installed_package pkg;
      pkg.name = p.package;
      pkg.version = p.version;
      pkg.architecture = p.architecture;
      auto [src, src_version] = split_source_field(p.source);
      pkg.source_name = src.empty() ? p.package : src;
      pkg.source_version = src_version.empty() ? p.version : src_version;
      if (!src_version.empty() && !parse_debian_version(src_version)) {
        reject("package " + p.package + " has an invalid source version '" + src_version + "'");
      } else {
        pkg.status = p.status;
        pkg.origin = origin;
        db.packages.push_back(std::move(pkg));
      }
    }
  }
  p = paragraph{};
}

} // namespace

std::pair<std::string, std::string> split_source_field(std::string_view value) {
  value = trim(value);
  auto paren = value.find('(');
  if (paren == std::string_view::npos)
    return {std::string(value), {}};
  auto name = trim(value.substr(0, paren));
  auto close = value.find(')', paren);
  auto ver = trim(value.substr(paren + 1, close == std::string_view::npos ? std::string_view::npos
                                                                          : close - paren - 1));
  return {std::string(name), std::string(ver)};
}

void parse_dpkg_status(std::string_view text, const std::string& origin, bool require_status,
                       dpkg_database& db) {
  paragraph p;
  std::string* last_value = nullptr; // continuation lines of the fields we keep are folded in
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (trim(line).empty()) {
      finish(p, origin, require_status, db);
      last_value = nullptr;
      continue;
    }
    if (p.first_line == 0)
      p.first_line = line_no;
    if (line.front() == ' ' || line.front() == '\t') {
      if (last_value == nullptr && p.broken.empty() && p.package.empty() && p.version.empty() &&
          line_no == p.first_line)
        p.broken = "continuation line without a field at line " + std::to_string(line_no);
      // Continuations of Description, Conffiles, ... are not needed; single-line fields we keep
      // never continue in a valid file, so folding them keeps garbage visible in the value.
      if (last_value != nullptr) {
        last_value->push_back(' ');
        last_value->append(trim(line));
      }
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      if (p.broken.empty())
        p.broken = "line " + std::to_string(line_no) + " is not a 'Field: value' line";
      last_value = nullptr;
      continue;
    }
    auto key = line.substr(0, colon);
    auto value = std::string(trim(line.substr(colon + 1)));
    last_value = nullptr;
    if (iequals(key, "Package")) {
      p.package = value;
      last_value = &p.package;
    } else if (iequals(key, "Version")) {
      p.version = value;
      last_value = &p.version;
    } else if (iequals(key, "Architecture")) {
      p.architecture = value;
    } else if (iequals(key, "Source")) {
      p.source = value;
      last_value = &p.source;
    } else if (iequals(key, "Status")) {
      p.status = value;
      p.has_status = true;
    }
  }
  finish(p, origin, require_status, db);
}

dpkg_database read_dpkg_database(const std::string& root) {
  // Bounded, and resolved inside the root: an image's database may be a hostile symlink.
  constexpr std::size_t max_status_bytes = 256u << 20;
  dpkg_database db;
  const std::string base = "var/lib/dpkg/";
  auto describe = [&](const std::string& rel, int err) {
    return (std::filesystem::path(root.empty() ? "/" : root) / rel).string() + ": " +
           (err == EFBIG ? std::string("larger than 256 MiB") : std::strerror(err));
  };
  int err = 0;
  if (auto text = read_in_root(root, base + "status", max_status_bytes, &err)) {
    db.found = true;
    parse_dpkg_status(*text,
                      (std::filesystem::path(root.empty() ? "/" : root) / base / "status").string(),
                      true, db);
  } else if (err != ENOENT && err != ENOTDIR) {
    db.found = true;
    db.read_errors.push_back(describe(base + "status", err));
  }
  err = 0;
  if (auto names = list_files_in_root(root, base + "status.d", &err)) {
    db.found = true;
    for (const auto& name : *names) {
      if (name.ends_with(".md5sums") || name.starts_with("."))
        continue;
      auto rel = base + "status.d/" + name;
      int ferr = 0;
      if (auto text = read_in_root(root, rel, max_status_bytes, &ferr))
        parse_dpkg_status(*text, (std::filesystem::path(root.empty() ? "/" : root) / rel).string(),
                          false, db);
      else
        db.read_errors.push_back(describe(rel, ferr));
    }
  } else if (err != ENOENT && err != ENOTDIR) {
    db.found = true;
    db.read_errors.push_back(describe(base + "status.d", err));
  }
  return db;
}

} // namespace pg::actors::vuln
