// SPDX-License-Identifier: Apache-2.0
// realtime_fixture.hpp — helpers for the realtime tests: a self-cleaning temporary directory and
// a loop that ticks a component until a condition holds or a deadline passes.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <unistd.h>

#include <toml++/toml.h>

#include "../support/test_context.hpp"
#include "phantomguard/runtime/component.hpp"

namespace pg::test {

class temp_dir {
public:
  temp_dir() {
    std::string tmpl = "/tmp/pg-realtime-XXXXXX";
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

inline void append_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << text;
}

/// Ticks `c` every 20 ms until `done()` or `limit` passes; returns how long it took.
inline std::chrono::milliseconds tick_until(runtime::component& c, test_context& ctx,
                                            const std::function<bool()>& done,
                                            std::chrono::milliseconds limit) {
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    c.on_tick(ctx);
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    if (done() || spent > limit)
      return spent;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

inline toml::array list_of(std::initializer_list<std::string> items) {
  toml::array a;
  for (const auto& s : items)
    a.push_back(s);
  return a;
}

inline bool is_root() {
  return ::geteuid() == 0;
}

} // namespace pg::test
