// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/actors/fim/tree_watcher.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace pg::actors::fim {

namespace {

constexpr std::uint32_t watch_mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM |
                                     IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_ONLYDIR | IN_EXCL_UNLINK;

std::string join(const std::string& dir, const char* name) {
  return dir == "/" ? "/" + std::string(name) : dir + "/" + name;
}

} // namespace

tree_watcher::tree_watcher(std::vector<std::string> roots, predicate watched,
                           predicate recurse_into)
    : roots_(std::move(roots)), watched_(std::move(watched)),
      recurse_into_(std::move(recurse_into)) {}

tree_watcher::~tree_watcher() {
  if (thread_.joinable()) {
    std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0)
    ::close(inotify_fd_);
  if (wake_fd_ >= 0)
    ::close(wake_fd_);
}

void tree_watcher::start(runtime::component_threads& threads) {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "inotify_init1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "eventfd");
  for (const auto& r : roots_) {
    struct stat st {};
    if (::lstat(r.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      add_tree(r, false);
    else // a file root: watch its directory, the events name the file
      add_watch(r.substr(0, std::max<std::size_t>(1, r.rfind('/'))));
  }
  thread_ = threads.start([this] { loop(); });
}

void tree_watcher::add_watch(const std::string& dir) {
  int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), watch_mask);
  std::lock_guard lock(mutex_);
  if (wd < 0) {
    if (errno != ENOENT && errno != ENOTDIR)
      overflowed_ = true; // out of watches: fall back on full scans
    return;
  }
  dirs_[wd] = dir;
}

// Watches `dir` and its subdirectories; with `report_contents` every entry found is marked
// dirty too, since it may have been created before the watch existed.
void tree_watcher::add_tree(const std::string& dir, bool report_contents) {
  std::vector<std::string> todo{dir};
  while (!todo.empty()) {
    std::string d = std::move(todo.back());
    todo.pop_back();
    add_watch(d);
    if (!recurse_into_(d))
      continue;
    DIR* h = ::opendir(d.c_str());
    if (!h)
      continue;
    while (dirent* e = ::readdir(h)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, ".."))
        continue;
      std::string child = join(d, e->d_name);
      if (report_contents) {
        std::lock_guard lock(mutex_);
        dirty_.insert(child);
      }
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st {};
        is_dir = ::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      if (is_dir && watched_(child))
        todo.push_back(child);
    }
    ::closedir(h);
  }
}

void tree_watcher::loop() {
  alignas(inotify_event) char buf[64 * 1024];
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    int rc = ::poll(fds, 2, -1);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc < 0 || (fds[1].revents & POLLIN))
      return;
    ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0)
      continue;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        std::lock_guard lock(mutex_);
        overflowed_ = true;
        continue;
      }
      std::string dir;
      {
        std::lock_guard lock(mutex_);
        auto it = dirs_.find(ev->wd);
        if (it == dirs_.end())
          continue;
        dir = it->second;
        if (ev->mask & IN_IGNORED) {
          dirs_.erase(it);
          continue;
        }
      }
      std::string path = ev->len > 0 ? join(dir, ev->name) : dir;
      {
        std::lock_guard lock(mutex_);
        dirty_.insert(path);
      }
      if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len > 0 &&
          watched_(path) && recurse_into_(dir))
        add_tree(path, true);
    }
  }
}

std::vector<std::string> tree_watcher::drain(bool* overflowed) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out(dirty_.begin(), dirty_.end());
  dirty_.clear();
  if (overflowed)
    *overflowed = overflowed_;
  overflowed_ = false;
  return out;
}

std::size_t tree_watcher::watch_count() const {
  std::lock_guard lock(mutex_);
  return dirs_.size();
}

} // namespace pg::actors::fim
