// SPDX-License-Identifier: Apache-2.0
// cli_process.hpp — runs the real `phantomguard` binary and captures its exit code and output.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace pg::test {

inline const std::string phantomguard_binary = PG_BINARY_DIR "/bin/phantomguard";
inline const std::string cli_test_dir = PG_CLI_TEST_DIR;

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A child process running phantomguard with `args` (or, with `raw_command`, the program named
/// by args[0]), in `cwd`, its stdout and stderr captured in temporary files.
class cli_process {
public:
  struct raw_command_t {};
  static constexpr raw_command_t raw_command{};

  cli_process(std::vector<std::string> args, raw_command_t) : cli_process(std::move(args), cli_test_dir, true) {}

  explicit cli_process(std::vector<std::string> args, std::string cwd = cli_test_dir,
                       bool raw = false) {
    char out_tmpl[] = "/tmp/pg_cli_out_XXXXXX";
    char err_tmpl[] = "/tmp/pg_cli_err_XXXXXX";
    const int out_fd = ::mkstemp(out_tmpl);
    const int err_fd = ::mkstemp(err_tmpl);
    out_path_ = out_tmpl;
    err_path_ = err_tmpl;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out_fd, 1);
      ::dup2(err_fd, 2);
      if (::chdir(cwd.c_str()) != 0)
        ::_exit(127);
      std::vector<char*> argv;
      if (!raw)
        argv.push_back(const_cast<char*>(phantomguard_binary.c_str()));
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out_fd);
    ::close(err_fd);
  }
  ~cli_process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(out_path_.c_str());
    ::unlink(err_path_.c_str());
  }
  cli_process(const cli_process&) = delete;
  cli_process& operator=(const cli_process&) = delete;

  /// Waits up to `limit`; returns the exit code, or -1 on a timeout (the child is killed) and
  /// 128+N when it died of signal N.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_)
        break;
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        exited_ = true;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  [[nodiscard]] bool running() {
    if (exited_)
      return false;
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }
  void signal(int signo) const { ::kill(pid_, signo); }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] std::string out() const { return slurp(out_path_); }
  [[nodiscard]] std::string err() const { return slurp(err_path_); }

private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string out_path_;
  std::string err_path_;
};

struct cli_result {
  int code;
  std::string out;
  std::string err;
};

/// Runs phantomguard to completion.
inline cli_result run_cli(std::vector<std::string> args, std::string cwd = cli_test_dir) {
  cli_process p(std::move(args), std::move(cwd));
  const int code = p.wait();
  return {code, p.out(), p.err()};
}

/// The golden file's content; with PG_UPDATE_GOLDEN=1 in the environment, `actual` is written
/// to it first (review the diff before committing).
inline std::string golden(const std::string& name, const std::string& actual) {
  const std::string path = cli_test_dir + "/golden/" + name;
  if (const char* update = std::getenv("PG_UPDATE_GOLDEN"); update && std::string(update) == "1")
    std::ofstream(path, std::ios::binary) << actual;
  return slurp(path);
}

/// Polls the process's stderr until it contains `text` or `limit` passes.
inline bool wait_for(cli_process& p, const std::string& text, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (p.err().find(text) != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

} // namespace pg::test
