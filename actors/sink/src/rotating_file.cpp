// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/sink/rotating_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace pg::actors::sink {

rotating_file::rotating_file(std::string path, bool append, std::uint64_t max_size,
                             std::uint32_t max_files)
    : path_(std::move(path)), append_(append), max_size_(max_size), max_files_(max_files) {}

rotating_file::~rotating_file() {
  close();
}

rotating_file::rotating_file(rotating_file&& o) noexcept
    : path_(std::move(o.path_)), append_(o.append_), opened_once_(o.opened_once_),
      regular_(o.regular_), max_size_(o.max_size_), max_files_(o.max_files_), size_(o.size_),
      fd_(std::exchange(o.fd_, -1)) {}

rotating_file& rotating_file::operator=(rotating_file&& o) noexcept {
  if (this != &o) {
    close();
    path_ = std::move(o.path_);
    append_ = o.append_;
    opened_once_ = o.opened_once_;
    regular_ = o.regular_;
    max_size_ = o.max_size_;
    max_files_ = o.max_files_;
    size_ = o.size_;
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

void rotating_file::close() noexcept {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

int rotating_file::open() {
  if (fd_ >= 0)
    return 0;
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  // `append = false` starts a fresh file once per sink, not on every reopen after an error.
  if (!append_ && !opened_once_)
    flags |= O_TRUNC;
  const int fd = ::open(path_.c_str(), flags, 0640);
  if (fd < 0)
    return errno;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return err;
  }
  fd_ = fd;
  opened_once_ = true;
  regular_ = S_ISREG(st.st_mode);
  size_ = regular_ ? static_cast<std::uint64_t>(st.st_size) : 0;
  return 0;
}

int rotating_file::sync() {
  if (fd_ < 0 || !regular_)
    return 0;
  return ::fdatasync(fd_) == 0 ? 0 : errno;
}

int rotating_file::write(std::string_view data, std::size_t& written) {
  written = 0;
  if (fd_ < 0)
    return EBADF;
  while (written < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (n == 0)
      return EIO;
    written += static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  return 0;
}

bool rotating_file::needs_rotation(std::uint64_t pending, std::uint64_t next) const noexcept {
  if (max_size_ == 0 || fd_ < 0 || !regular_)
    return false;
  const std::uint64_t before = size_ + pending;
  return before > 0 && before + next > max_size_;
}

int rotating_file::rotate() {
  close();
  // Shift from the oldest down so nothing is overwritten before it has moved; the rename onto
  // path.N replaces (drops) the oldest file.
  for (std::uint32_t i = max_files_; i > 1; --i) {
    const std::string from = path_ + "." + std::to_string(i - 1);
    const std::string to = path_ + "." + std::to_string(i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
      return errno;
  }
  if (max_files_ == 0) {
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
      return errno;
  } else if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0 && errno != ENOENT) {
    return errno;
  }
  size_ = 0;
  return open();
}

} // namespace pg::actors::sink
