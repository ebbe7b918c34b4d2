// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/package_integrity.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "phantomguard/runtime/digest.hpp"

#include "phantomguard/actors/host/file_read.hpp"
#include "phantomguard/actors/host/privilege.hpp"
#include "phantomguard/actors/host/raw_directory.hpp"

namespace pg::actors::fim {

namespace {

using runtime::severity;

bool is_hex32(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string join_root(const std::string& root, const std::string& abs) {
  if (root.empty() || root == "/")
    return abs;
  return (root.back() == '/' ? root.substr(0, root.size() - 1) : root) + abs;
}

// "bash.md5sums", "libc6:amd64.md5sums" -> "bash", "libc6".
std::string package_of(const std::string& file) {
  auto name = file.substr(0, file.size() - std::string(".md5sums").size());
  auto colon = name.find(':');
  return colon == std::string::npos ? name : name.substr(0, colon);
}

} // namespace

std::vector<package_sum> parse_md5sums(const std::string& text, std::size_t* bad) {
  std::vector<package_sum> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    // "<md5>  <path>": two spaces (or " *" for binary mode, as md5sum writes).
    if (line.size() < 35 || !is_hex32(std::string_view(line).substr(0, 32)) || line[32] != ' ' ||
        (line[33] != ' ' && line[33] != '*')) {
      if (bad)
        ++*bad;
      continue;
    }
    std::string path = line.substr(34);
    if (path.empty() || path.find('\0') != std::string::npos) {
      if (bad)
        ++*bad;
      continue;
    }
    out.push_back({line.substr(0, 32), path.front() == '/' ? path : "/" + path});
  }
  return out;
}

std::map<std::string, diversion> parse_diversions(const std::string& text) {
  std::map<std::string, diversion> out;
  std::istringstream in(text);
  std::string from, to, package;
  while (std::getline(in, from) && std::getline(in, to) && std::getline(in, package))
    out[from] = {to, package};
  return out;
}

std::optional<std::string> md5_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
  if (fd < 0 && errno == EPERM)
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ELOOP) // a symlink in the package: dpkg's sum is of its target
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  runtime::digest_stream md(runtime::digest_stream::algorithm::md5);
  std::vector<char> buf(256 * 1024);
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) > 0)
    md.update(buf.data(), static_cast<std::size_t>(n));
  int err = errno;
  ::close(fd);
  if (n < 0) {
    errno = err;
    return std::nullopt;
  }
  return md.finish_hex();
}

void package_integrity_analyzer::on_tick(runtime::context& ctx) {
  std::string info = join_root(opts_.root, "/var/lib/dpkg/info");
  auto diversions = parse_diversions(
      host::read_file(join_root(opts_.root, "/var/lib/dpkg/diversions"), 8 << 20).value_or(""));
  std::vector<std::string> files;
  if (auto listing = host::list_directory_raw(info))
    for (const auto& entry : *listing)
      if (entry.name.size() > 8 && entry.name.compare(entry.name.size() - 8, 8, ".md5sums") == 0)
        files.push_back(entry.name);
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    runtime::finding f;
    f.rule = "fim.package_sums_missing";
    f.level = severity::info;
    f.title = "No dpkg checksums under " + info + ": installed files cannot be verified";
    f.entity = {{"path", info}};
    ctx.emit_finding(std::move(f));
    return;
  }
  std::uint64_t checked = 0, hashed = 0, changed = 0, missing = 0, unreadable = 0, diverted = 0,
                packages = 0;
  std::size_t bad_lines = 0;
  std::unordered_map<std::string, stamp> seen;
  for (const auto& file : files) {
    if (ctx.should_stop())
      return; // what was verified stays in the cache; the next pass starts over
    auto package = package_of(file);
    if (!opts_.packages.empty() &&
        std::find(opts_.packages.begin(), opts_.packages.end(), package) == opts_.packages.end())
      continue;
    ++packages;
    auto text = host::read_file(info + "/" + file, 64 << 20);
    if (!text) {
      ++unreadable;
      continue;
    }
    for (const auto& sum : parse_md5sums(*text, &bad_lines)) {
      std::string where = sum.path;
      if (auto d = diversions.find(sum.path); d != diversions.end() && d->second.by != package) {
        // Another package's file sits at this path now; ours moved to the diversion's target.
        where = d->second.to;
        ++diverted;
      }
      std::string full = join_root(opts_.root, where);
      ++checked;
      struct stat st {};
      if (::stat(full.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
          ++missing;
          runtime::finding f;
          f.rule = "fim.package_missing";
          f.level = severity::medium;
          f.title = where + " of package " + package + " is missing";
          f.entity = {{"path", where}, {"package", package}};
          f.evidence = {{"expected_md5", sum.md5}, {"md5sums", info + "/" + file}};
          f.mitre = {"T1070.004"};
          ctx.emit_finding(std::move(f));
        } else {
          ++unreadable;
        }
        continue;
      }
      if (!S_ISREG(st.st_mode))
        continue; // dpkg sums regular files only
      stamp now{static_cast<std::uint64_t>(st.st_ino),
                static_cast<std::uint64_t>(st.st_dev),
                static_cast<std::int64_t>(st.st_size),
                static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec,
                {}};
      auto cached = verified_.find(full);
      if (cached != verified_.end() && cached->second == now) {
        now.md5 = cached->second.md5;
      } else {
        auto md5 = md5_file(full);
        if (!md5) {
          ++unreadable;
          continue;
        }
        ++hashed;
        now.md5 = *md5;
      }
      if (now.md5 != sum.md5) {
        ++changed;
        runtime::finding f;
        f.rule = "fim.package_changed";
        f.level = severity::high;
        f.title = where + " differs from what package " + package + " installed";
        f.entity = {{"path", where}, {"package", package}};
        f.evidence = {{"expected_md5", sum.md5},
                      {"actual_md5", now.md5},
                      {"size", now.size},
                      {"md5sums", info + "/" + file}};
        if (where != sum.path)
          f.evidence["diverted_from"] = sum.path;
        f.mitre = {"T1565.001", "T1554"};
        ctx.emit_finding(std::move(f));
      }
      seen[full] = std::move(now);
    }
  }
  verified_ = std::move(seen); // what is no longer installed is forgotten
  ctx.gauge("packages", static_cast<double>(packages));
  ctx.gauge("files", static_cast<double>(checked));
  ctx.count("files_hashed", static_cast<std::int64_t>(hashed));
  ctx.count("changed", static_cast<std::int64_t>(changed));
  ctx.count("missing", static_cast<std::int64_t>(missing));
  ctx.count("unreadable", static_cast<std::int64_t>(unreadable));
  ctx.count("diverted", static_cast<std::int64_t>(diverted));
  if (bad_lines)
    ctx.count("malformed_lines", static_cast<std::int64_t>(bad_lines));
}

runtime::component_type package_integrity_analyzer::type() {
  runtime::component_type t;
  t.name = "package_integrity";
  t.kind = runtime::component_kind::analyzer;
  t.description = "installed files against dpkg's own checksums, as debsums does: "
                  "fim.package_changed, fim.package_missing";
  t.options = {
      {"root",
       runtime::option_type::string,
       "/",
       "the root whose var/lib/dpkg is read",
       false,
       std::nullopt,
       std::nullopt,
       {}},
      {"packages",
       runtime::option_type::string_list,
       "[]",
       "only these packages (empty: every installed package)",
       false,
       std::nullopt,
       std::nullopt,
       {}},
  };
  // nice, io_class, cpu_affinity, throttle: the engine's keys (runtime/throttle.hpp).
  t.throttle_defaults = runtime::background_scan_throttle();
  t.factory = [](const runtime::component_init& init) -> std::unique_ptr<runtime::component> {
    options o;
    const auto& s = init.settings;
    o.root = s.get_string("root", "/");
    o.packages = s.get_string_list("packages");
    return std::make_unique<package_integrity_analyzer>(std::move(o));
  };
  return t;
}

} // namespace pg::actors::fim
