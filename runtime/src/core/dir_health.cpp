// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/dir_health.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace pg::runtime {

std::string_view to_string(dir_health::status s) noexcept {
  switch (s) {
  case dir_health::status::ok:
    return "ok";
  case dir_health::status::vanished:
    return "vanished";
  case dir_health::status::not_writable:
    return "not_writable";
  case dir_health::status::full:
    return "full";
  }
  return "unknown";
}

dir_health check_dir(const std::string& path, std::uint64_t min_free, bool recreate) {
  dir_health h;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    h.state = dir_health::status::vanished;
    h.error = ::stat(path.c_str(), &st) != 0 ? std::strerror(errno) : "not a folder";
    if (!recreate)
      return h;
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
      h.error += "; could not make it again: " + ec.message();
      return h;
    }
    ::chmod(path.c_str(), 0700);
    h.recreated = true;
  }
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) == 0) {
    h.free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    h.total_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    if ((vfs.f_flag & ST_RDONLY) != 0) {
      h.state = dir_health::status::not_writable;
      h.error = "read-only file system";
      return h;
    }
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    h.state = dir_health::status::not_writable;
    h.error = std::strerror(errno);
    return h;
  }
  if (h.total_bytes > 0 && h.free_bytes < min_free) {
    h.state = dir_health::status::full;
    h.error = "no space left for writes";
    return h;
  }
  if (!h.recreated)
    h.state = dir_health::status::ok;
  return h;
}

} // namespace pg::runtime
