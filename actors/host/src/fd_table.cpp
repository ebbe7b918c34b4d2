// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/host/fd_table.hpp"

#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <memory>
#include <string_view>
#include <sys/stat.h>

#include "phantomguard/actors/host/file_read.hpp"

namespace pg::actors::host {

namespace {

struct fd_dir_closer {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

} // namespace

std::optional<fd_table> read_fd_table(pid_t pid, const std::string& proc_root, int* err) {
  std::string dir_path = proc_root + "/" + std::to_string(pid) + "/fd";
  std::unique_ptr<DIR, fd_dir_closer> dir(::opendir(dir_path.c_str()));
  if (!dir) {
    if (err)
      *err = errno;
    return std::nullopt;
  }
  fd_table table;
  std::string link_path = dir_path + "/";
  const std::size_t base = link_path.size();
  while (auto* ent = ::readdir(dir.get())) {
    std::string_view name(ent->d_name);
    int fd = 0;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec != std::errc{} || p != name.data() + name.size())
      continue;
    ++table.total;
    link_path.resize(base);
    link_path += name;
    int link_err = 0;
    auto target = read_link(link_path, &link_err);
    if (!target) {
      if (is_denied(link_err))
        ++table.denied;
      continue;
    }
    constexpr std::string_view prefix = "socket:[";
    if (target->size() <= prefix.size() + 1 || target->compare(0, prefix.size(), prefix) != 0 ||
        target->back() != ']')
      continue;
    std::uint64_t inode = 0;
    const char* first = target->data() + prefix.size();
    const char* last = target->data() + target->size() - 1;
    auto [q, ec2] = std::from_chars(first, last, inode);
    if (ec2 == std::errc{} && q == last)
      table.sockets.emplace(fd, inode);
  }
  return table;
}

std::optional<std::uint64_t> net_namespace_key(pid_t pid, const std::string& proc_root) {
  std::string path = proc_root + (pid > 0 ? "/" + std::to_string(pid) : std::string()) + "/net/tcp";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return std::nullopt;
  return static_cast<std::uint64_t>(st.st_ino);
}

} // namespace pg::actors::host
