// SPDX-License-Identifier: Apache-2.0
// rootkit_fixture.hpp — small helpers shared by the rootkit tests: a temporary directory that
// cleans up after itself, running the analyzer with a settings table, and a sleeping child to
// hide or to find.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <toml++/toml.h>

#include "../support/test_context.hpp"
#include "phantomguard/actors/rootkit/rootkit_analyzer.hpp"

namespace pg::test {

class temp_dir {
public:
  explicit temp_dir(const std::string& base = "/tmp") {
    std::string tmpl = base + "/pg-rootkit-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

/// Runs one tick of a `rootkit` analyzer configured by `table`.
inline test_context run_rootkit(toml::table table) {
  test_context ctx("rootkit");
  auto settings = actors::rootkit::rootkit_settings::from(runtime::component_settings(table));
  actors::rootkit::rootkit_analyzer a(settings);
  a.start(ctx);
  a.on_tick(ctx);
  a.stop(ctx);
  return ctx;
}

inline test_context run_rootkit(std::initializer_list<toml::impl::table_init_pair> init) {
  return run_rootkit(toml::table(init));
}

inline toml::array list_of(std::initializer_list<const char*> items) {
  toml::array a;
  for (const auto* s : items)
    a.push_back(std::string(s));
  return a;
}

inline bool is_root() {
  return ::geteuid() == 0;
}

/// A child running /bin/sleep until killed (or `seconds` pass); killed and reaped on
/// destruction. Set `pid` to -1 after reaping it yourself.
struct sleeping_child {
  explicit sleeping_child(int seconds = 30) {
    pid = ::fork();
    if (pid == 0) {
      const auto arg = std::to_string(seconds);
      ::execl("/bin/sleep", "sleep", arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  sleeping_child(const sleeping_child&) = delete;
  sleeping_child& operator=(const sleeping_child&) = delete;
  ~sleeping_child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  pid_t pid = -1;
};

} // namespace pg::test
