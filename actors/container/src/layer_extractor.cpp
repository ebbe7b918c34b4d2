// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/container/layer_extractor.hpp"
#include "phantomguard/runtime/unique_fd.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>
#include <utility>

#include <archive.h>
#include <archive_entry.h>

#include "phantomguard/actors/host/archive_error.hpp"

namespace pg::actors::container {

namespace {

using runtime::unique_fd;

struct archive_closer {
  void operator()(archive* a) const noexcept { archive_read_free(a); }
};

constexpr std::size_t max_examples = 10;

// Splits an entry path into its components; nullopt when it would leave the target.
std::optional<std::vector<std::string>> components(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    auto slash = path.find('/', i);
    auto part = path.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    if (part == "..")
      return std::nullopt;
    if (!part.empty() && part != ".")
      out.push_back(part);
    if (slash == std::string::npos)
      break;
    i = slash + 1;
  }
  return out;
}

// Opens (creating as needed) the directory holding the last component, refusing symlinks on the
// way: O_NOFOLLOW on every step, so nothing a layer wrote can redirect a later write.
unique_fd open_parent(int root_fd, const std::vector<std::string>& parts) {
  unique_fd dir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    int fd = ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST)
        return unique_fd();
      fd = ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
      return unique_fd(); // ELOOP / ENOTDIR: a symlink or a file where a folder should be
    dir = unique_fd(fd);
  }
  return dir;
}

void remove_tree_at(int dir_fd, const char* name) {
  int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    DIR* d = ::fdopendir(fd);
    if (d != nullptr) {
      std::vector<std::string> names;
      while (auto* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
          names.emplace_back(e->d_name);
      for (const auto& n : names)
        remove_tree_at(::dirfd(d), n.c_str());
      ::closedir(d);
    } else {
      ::close(fd);
    }
    ::unlinkat(dir_fd, name, AT_REMOVEDIR);
    return;
  }
  ::unlinkat(dir_fd, name, 0);
}

// Empties a folder for an opaque whiteout, keeping what this same layer already put there (the
// marker hides lower layers only, whatever order the layer's tar lists its entries in).
void clear_directory(int dir_fd, const std::string& prefix,
                     const std::unordered_set<std::string>& this_layer) {
  int fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return;
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      names.emplace_back(e->d_name);
  for (const auto& n : names)
    if (!this_layer.contains(prefix + n))
      remove_tree_at(dir_fd, n.c_str());
  ::closedir(d);
}

std::string join(const std::vector<std::string>& parts, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i)
    out += parts[i] + "/";
  return out;
}

void unsafe(extract_stats& stats, const std::string& path, const char* why) {
  ++stats.unsafe_paths;
  if (stats.unsafe_examples.size() < max_examples)
    stats.unsafe_examples.push_back(path + " (" + why + ")");
}

} // namespace

bool extract_layer(const std::string& archive_path, const std::string& target,
                   const extract_limits& limits, extract_stats& stats) {
  unique_fd root(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    stats.errors.push_back(target + ": " + std::strerror(errno));
    return false;
  }
  std::unique_ptr<archive, archive_closer> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    stats.errors.push_back(archive_path + ": " + host::archive_error(a.get()));
    return false;
  }
  archive_entry* entry = nullptr;
  int rc = ARCHIVE_OK;
  std::vector<char> buf(1 << 16);
  std::unordered_set<std::string> this_layer; // "a/b/" + name of every entry this layer made
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    if (++stats.entries > limits.max_entries) {
      stats.limit_reached = true;
      stats.errors.push_back(archive_path + ": more than " + std::to_string(limits.max_entries) +
                             " entries");
      return false;
    }
    const char* raw = archive_entry_pathname(entry);
    std::string path = raw ? raw : "";
    auto parts = components(path);
    if (!parts) {
      unsafe(stats, path, "'..' in path");
      continue;
    }
    if (parts->empty())
      continue; // "./" itself
    auto parent = open_parent(root.get(), *parts);
    if (!parent) {
      unsafe(stats, path, "parent is a symlink or not a folder");
      continue;
    }
    const std::string& name = parts->back();
    // Whiteouts: the OCI layer format's deletions.
    const std::string prefix = join(*parts, parts->size() - 1);
    if (name == ".wh..wh..opq") {
      ++stats.whiteouts;
      clear_directory(parent.get(), prefix, this_layer);
      continue;
    }
    if (name.starts_with(".wh.")) {
      ++stats.whiteouts;
      remove_tree_at(parent.get(), name.substr(4).c_str());
      continue;
    }
    this_layer.insert(prefix + name);
    auto type = archive_entry_filetype(entry);
    auto mode = static_cast<mode_t>(archive_entry_perm(entry) & 07777);
    const char* hardlink = archive_entry_hardlink(entry);
    struct stat existing {};
    bool exists = ::fstatat(parent.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
    if (type == AE_IFDIR) {
      if (exists && !S_ISDIR(existing.st_mode))
        ::unlinkat(parent.get(), name.c_str(), 0);
      if (::mkdirat(parent.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        stats.errors.push_back(path + ": " + std::strerror(errno));
        continue;
      }
      // Dirs were just checked not to be links. A mode not set is said: the scan reads it.
      if (::fchmodat(parent.get(), name.c_str(), mode, 0) != 0)
        stats.errors.push_back(path + ": chmod: " + std::strerror(errno));
      continue;
    }
    // Anything else replaces what lower layers had at that name.
    if (exists)
      remove_tree_at(parent.get(), name.c_str());
    if (hardlink != nullptr) {
      auto target_parts = components(hardlink);
      if (!target_parts || target_parts->empty()) {
        unsafe(stats, path, "hard link target leaves the root");
        continue;
      }
      auto target_parent = open_parent(root.get(), *target_parts);
      if (!target_parent || ::linkat(target_parent.get(), target_parts->back().c_str(),
                                     parent.get(), name.c_str(), 0) != 0)
        unsafe(stats, path, "hard link target missing or unsafe");
      continue;
    }
    if (type == AE_IFLNK) {
      const char* to = archive_entry_symlink(entry);
      // The link is stored as written; nothing here or in the scan ever follows it.
      if (::symlinkat(to ? to : "", parent.get(), name.c_str()) != 0)
        stats.errors.push_back(path + ": " + std::strerror(errno));
      continue;
    }
    if (type != AE_IFREG) {
      ++stats.special_files;
      continue;
    }
    auto size = archive_entry_size(entry);
    if (size > static_cast<la_int64_t>(limits.max_file_bytes) ||
        stats.bytes + static_cast<std::uint64_t>(std::max<la_int64_t>(size, 0)) >
            limits.max_total_bytes) {
      stats.limit_reached = true;
      stats.errors.push_back(path + ": size limit reached (" + std::to_string(size) + " bytes)");
      return false;
    }
    unique_fd out(::openat(parent.get(), name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) {
      stats.errors.push_back(path + ": " + std::strerror(errno));
      continue;
    }
    la_ssize_t n = 0;
    std::uint64_t written = 0;
    while ((n = archive_read_data(a.get(), buf.data(), buf.size())) > 0) {
      written += static_cast<std::uint64_t>(n);
      if (written > limits.max_file_bytes || stats.bytes + written > limits.max_total_bytes) {
        stats.limit_reached = true;
        stats.errors.push_back(path + ": size limit reached while writing");
        return false;
      }
      const char* p = buf.data();
      auto left = static_cast<std::size_t>(n);
      while (left > 0) {
        auto w = ::write(out.get(), p, left);
        if (w < 0 && errno == EINTR)
          continue;
        if (w < 0) {
          stats.errors.push_back(path + ": " + std::strerror(errno));
          return false; // the disk is full or broken: stop rather than scan half an image
        }
        p += w;
        left -= static_cast<std::size_t>(w);
      }
    }
    stats.bytes += written;
    if (n < 0) {
      stats.errors.push_back(path + ": " + host::archive_error(a.get()));
      return false;
    }
    // Permissions as in the image, setuid bits included: the scan looks for them. Owners too,
    // when we may set them (root), so an extracted setuid file says whose it is.
    if (::geteuid() == 0 && ::fchown(out.get(), static_cast<uid_t>(archive_entry_uid(entry)),
                                     static_cast<gid_t>(archive_entry_gid(entry))) != 0)
      stats.errors.push_back(path + ": chown: " + std::strerror(errno));
    if (::fchmod(out.get(), mode) != 0)
      stats.errors.push_back(path + ": chmod: " + std::strerror(errno));
  }
  if (rc != ARCHIVE_EOF) {
    stats.errors.push_back(archive_path + ": " + host::archive_error(a.get()));
    return false;
  }
  return true;
}

} // namespace pg::actors::container
