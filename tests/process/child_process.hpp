// SPDX-License-Identifier: Apache-2.0
// child_process.hpp — test processes that perform a technique, and always die with the test:
// a move-only guard kills (SIGKILL) and reaps its child in the destructor, so a failing
// REQUIRE never leaves a sleeper, a traced process or a shell behind.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace pg::test {

class child_process {
public:
  child_process() = default;
  explicit child_process(pid_t pid) : pid_(pid) {}
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  child_process(child_process&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  child_process& operator=(child_process&& o) noexcept {
    if (this != &o) {
      kill();
      pid_ = std::exchange(o.pid_, -1);
    }
    return *this;
  }
  ~child_process() { kill(); }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  explicit operator bool() const noexcept { return pid_ > 0; }

  /// SIGKILL and reap; a no-op once done.
  void kill() noexcept {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      while (::waitpid(pid_, &st, __WALL) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
  }

  /// Waits for the child to exit on its own; returns its exit code (128+signal when killed).
  int wait() noexcept {
    int st = 0;
    while (::waitpid(pid_, &st, __WALL) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

private:
  pid_t pid_ = -1;
};

/// Forks; the child runs `body` and exits with its return value (127 if it returns by throwing).
/// Only async-signal-safe work is strictly safe in the child, but the test process is
/// single-threaded, so ordinary code works.
inline child_process spawn(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 127;
    try {
      rc = body();
    } catch (...) {
    }
    ::_exit(rc);
  }
  return child_process(pid);
}

/// Polls `pred` every 5 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

/// The target of /proc/PID/exe, or empty.
inline std::string exe_of(pid_t pid) {
  char buf[4096];
  auto path = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

/// Copies `from` to `to` with mode 0755. False on any error.
inline bool copy_executable(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return false;
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  if (out < 0) {
    ::close(in);
    return false;
  }
  char buf[65536];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n == 0)
      break;
    if (n < 0 || ::write(out, buf, static_cast<std::size_t>(n)) != n) {
      ok = false;
      break;
    }
  }
  ::close(in);
  ok = ::close(out) == 0 && ok;
  return ok;
}

/// True when `path` lies in one of the temporary directories process.exe_in_temp watches.
inline bool in_temp_dir(const std::string& path) {
  for (const char* t : {"/tmp/", "/var/tmp/", "/dev/shm/"})
    if (path.rfind(t, 0) == 0)
      return true;
  return false;
}

/// A writable parent directory outside the temporary directories: the build tree, unless the
/// checkout itself lives under /tmp (a CI clone may), then a folder under /var/lib (as root) or
/// the user's home.
inline std::string non_temp_parent(const std::string& build_dir) {
  if (!in_temp_dir(build_dir + "/"))
    return build_dir;
  if (::geteuid() == 0) {
    const std::string dir = "/var/lib/phantomguard-tests";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (std::filesystem::is_directory(dir, ec))
      return dir;
  }
  const char* home = std::getenv("HOME");
  return home != nullptr ? home : build_dir;
}

/// A fresh directory under `parent`, removed (with its plain files) in the destructor.
class temp_dir {
public:
  explicit temp_dir(const std::string& parent = "/tmp") {
    std::string templ = parent + "/pg-test-XXXXXX";
    if (char* p = ::mkdtemp(templ.data()))
      path_ = p;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
};

inline bool is_root() {
  return ::geteuid() == 0;
}

} // namespace pg::test
