// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/vuln/root_file.hpp"
#include "phantomguard/runtime/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <memory>
#include <string_view>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>

namespace pg::actors::vuln {

namespace {

// Closes a descriptor on every path out.
using fd_guard = runtime::unique_fd;

bool is_host_root(const std::string& root) {
  return root.empty() || root == "/";
}

} // namespace

int open_in_root(const std::string& root, const std::string& rel, int flags, int* err) {
  auto set_err = [&](int e) {
    if (err)
      *err = e;
    return -1;
  };
  std::string_view trimmed = rel;
  while (!trimmed.empty() && trimmed.front() == '/')
    trimmed.remove_prefix(1);
  std::string path(trimmed.empty() ? std::string_view(".") : trimmed);
  if (is_host_root(root)) {
    std::string absolute = "/";
    absolute.append(path);
    int fd = ::open(absolute.c_str(), flags | O_CLOEXEC);
    return fd < 0 ? set_err(errno) : fd;
  }
  fd_guard dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0)
    return set_err(errno);
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof how);
  return fd < 0 ? set_err(errno) : static_cast<int>(fd);
}

std::optional<std::string> read_in_root(const std::string& root, const std::string& rel,
                                        std::size_t max_bytes, int* err) {
  int e = 0;
  fd_guard fd(open_in_root(root, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, &e));
  auto fail = [&](int code) -> std::optional<std::string> {
    if (err)
      *err = code;
    return std::nullopt;
  };
  if (fd.get() < 0)
    return fail(e);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return fail(errno);
  if (S_ISDIR(st.st_mode))
    return fail(EISDIR);
  if (!S_ISREG(st.st_mode))
    return fail(EINVAL); // a fifo or device would block or never end
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return fail(EFBIG);
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    auto n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return fail(errno);
    if (n == 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

std::optional<std::vector<std::string>> list_files_in_root(const std::string& root,
                                                           const std::string& rel, int* err) {
  int e = 0;
  int fd = open_in_root(root, rel, O_RDONLY | O_DIRECTORY, &e);
  if (fd < 0) {
    if (err)
      *err = e;
    return std::nullopt;
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    if (err)
      *err = errno;
    ::close(fd);
    return std::nullopt;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  std::vector<std::string> names;
  while (auto* ent = ::readdir(d)) {
    struct stat st {};
    if (::fstatat(::dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
      names.emplace_back(ent->d_name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace pg::actors::vuln
