// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/raw_directory.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pg::actors::host {

namespace {

// The kernel's record layout for getdents64 (glibc only declares it with _GNU_SOURCE in newer
// releases, so we spell it out).
struct linux_dirent64 {
  std::uint64_t d_ino;
  std::int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

class dir_fd {
public:
  explicit dir_fd(int fd) noexcept : fd_(fd) {}
  dir_fd(const dir_fd&) = delete;
  dir_fd& operator=(const dir_fd&) = delete;
  ~dir_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

private:
  int fd_;
};

// Calls `fn(name, inode, type)` for each entry; false on an error (errno kept).
template <class Fn>
bool walk(const std::string& path, Fn&& fn) {
  dir_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0)
    return false;
  alignas(8) char buf[32768];
  for (;;) {
    long n = ::syscall(SYS_getdents64, fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    if (n == 0)
      return true;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<linux_dirent64*>(buf + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
        continue;
      fn(name, d->d_ino, d->d_type);
    }
  }
}

} // namespace

std::optional<std::vector<raw_dirent>> list_directory_raw(const std::string& path, int* err) {
  std::vector<raw_dirent> out;
  bool ok = walk(path, [&](const char* name, std::uint64_t ino, unsigned char type) {
    out.push_back(raw_dirent{name, ino, type});
  });
  if (!ok) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<int>> try_list_pids(const std::string& proc_root, int* err) {
  std::vector<int> pids;
  bool ok = walk(proc_root, [&](const char* name, std::uint64_t, unsigned char) {
    if (name[0] < '1' || name[0] > '9')
      return;
    long v = 0;
    for (const char* p = name; *p; ++p) {
      if (*p < '0' || *p > '9')
        return;
      v = v * 10 + (*p - '0');
      if (v > 1 << 30)
        return;
    }
    pids.push_back(static_cast<int>(v));
  });
  if (!ok) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<int> list_pids_raw(const std::string& proc_root) {
  int err = 0;
  auto pids = try_list_pids(proc_root, &err);
  if (!pids)
    throw std::system_error(err, std::generic_category(), "cannot list " + proc_root);
  return std::move(*pids);
}

} // namespace pg::actors::host
