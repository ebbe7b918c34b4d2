// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/rootkit/directory_census.hpp"

#include <cerrno>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "phantomguard/actors/host/raw_directory.hpp"

namespace pg::actors::rootkit {

bool link_count_reliable(std::int64_t magic) noexcept {
  switch (static_cast<std::uint32_t>(magic)) {
  case 0xEF53u:     // ext2/3/4
  case 0x58465342u: // xfs
  case 0x01021994u: // tmpfs (and devtmpfs)
  case 0x858458F6u: // ramfs
    return true;
  default:
    return false;
  }
}

bool link_count_mismatch(std::uint64_t nlink, std::size_t subdirs, bool reliable) noexcept {
  if (!reliable || nlink == 1)
    return false;
  return nlink != subdirs + 2;
}

directory_census take_census(const std::string& path) {
  directory_census c;
  c.path = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    c.error = errno;
    return c;
  }
  c.nlink = st.st_nlink;
  c.device = st.st_dev;
  struct statfs fs {};
  c.reliable = ::statfs(path.c_str(), &fs) == 0 && link_count_reliable(fs.f_type);
  int err = 0;
  auto entries = host::list_directory_raw(path, &err);
  if (!entries) {
    c.error = err;
    return c;
  }
  c.entries = entries->size();
  std::string base = path == "/" ? std::string() : path;
  for (const auto& e : *entries) {
    struct stat est {};
    auto full = base + "/" + e.name;
    if (::lstat(full.c_str(), &est) != 0) {
      if (errno == ENOENT)
        c.unstatable.push_back(e.name);
      else
        ++c.denied;
      if (e.type == DT_DIR) // the kernel said directory: it still counts for the link total
        ++c.subdirs;
      continue;
    }
    if (S_ISDIR(est.st_mode)) {
      ++c.subdirs;
      c.subdir_names.push_back(e.name);
    }
  }
  return c;
}

namespace {

void examine(const std::string& path, int depth, dev_t root_dev, hidden_file_scan& out) {
  auto c = take_census(path);
  if (c.error) {
    if (c.error != ENOENT)
      ++out.unreadable;
    if (c.error == EACCES || c.error == EPERM)
      if (out.denied_paths.size() < 5)
        out.denied_paths.push_back(path);
    return;
  }
  if (root_dev != 0 && c.device != root_dev)
    return; // another file system mounted below: not ours to walk
  ++out.directories;
  out.denied += c.denied;
  if (!c.reliable)
    ++out.unreliable;

  bool suspicious = !c.unstatable.empty() || link_count_mismatch(c.nlink, c.subdirs, c.reliable);
  if (suspicious) {
    // Files come and go (a temp file deleted between getdents and lstat, a mkdir between the
    // stat and the listing): take a second census and keep only what both agree on.
    auto again = take_census(path);
    for (const auto& name : c.unstatable)
      for (const auto& name2 : again.unstatable)
        if (name == name2)
          out.findings.push_back({path, hidden_file_finding::kind::unstatable_name, name, 0, 0});
    if (link_count_mismatch(c.nlink, c.subdirs, c.reliable) &&
        link_count_mismatch(again.nlink, again.subdirs, again.reliable) && again.nlink == c.nlink &&
        again.subdirs == c.subdirs)
      out.findings.push_back({path, hidden_file_finding::kind::link_count, {}, c.nlink, c.subdirs});
  }
  if (depth <= 0)
    return;
  std::string base = path == "/" ? std::string() : path;
  for (const auto& sub : c.subdir_names)
    examine(base + "/" + sub, depth - 1, c.device, out);
}

} // namespace

hidden_file_scan scan_hidden_files(const std::vector<std::string>& dirs, int depth) {
  hidden_file_scan out;
  for (const auto& d : dirs)
    examine(d, depth, 0, out);
  return out;
}

} // namespace pg::actors::rootkit
