// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/file_read.hpp"

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <unistd.h>

namespace pg::actors::host {

std::optional<std::string> read_file(const std::string& path, std::size_t max_bytes, int* err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  std::string out;
  char buf[8192];
  while (out.size() < max_bytes) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, max_bytes - out.size()));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (err)
        *err = errno;
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::optional<std::string> read_link(const std::string& path, int* err) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

bool is_vanished(int err) noexcept { return err == ENOENT || err == ESRCH; }

bool is_denied(int err) noexcept { return err == EACCES || err == EPERM; }

} // namespace pg::actors::host
