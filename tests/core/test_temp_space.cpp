// SPDX-License-Identifier: Apache-2.0
// The engine's managed temp folder: what a dead process left is removed at start, a live
// process's entry and files that are not ours stay, a symlink is never followed, an existing
// folder keeps its mode, and a folder made here is private.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "dead_pid.hpp"

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/temp_space.hpp"

namespace fs = std::filesystem;
using namespace pg::runtime;

namespace {

struct scratch {
  fs::path root;
  scratch() {
    char tmpl[] = "/tmp/pg_temp_space_XXXXXX";
    root = ::mkdtemp(tmpl);
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 0777;
}

} // namespace

SCENARIO("the temp folder is made private and cleaned of what dead processes left") {
  scratch s;
  const auto dir = (s.root / "state" / "tmp").string();
  GIVEN("no folder yet") {
    auto r = prepare_temp_dir(dir);
    CHECK(r.error.empty());
    CHECK(fs::is_directory(dir));
    CHECK(mode_of(dir) == 0700);
    CHECK(r.removed == 0);
  }
  GIVEN("entries of a dead process, of this live one, a foreign file and a symlink") {
    fs::create_directories(dir);
    const auto gone = fs::path(dir) / ("image-" + std::to_string(pg::test::dead_pid()) + "-abc123");
    fs::create_directories(gone / "layer");
    std::ofstream(gone / "layer" / "blob", std::ios::binary) << std::string(10000, 'x');
    const auto live = fs::path(dir) / ("bench-" + std::to_string(::getpid()) + "-def456");
    fs::create_directories(live);
    std::ofstream(live / "state") << "mine";
    const auto foreign = fs::path(dir) / "notes.txt";
    std::ofstream(foreign) << "not ours";
    // A dead process's entry that is a symlink to a folder outside: the link goes, never what
    // it points at.
    const auto outside = s.root / "outside";
    fs::create_directories(outside);
    std::ofstream(outside / "keep") << "precious";
    const auto link = fs::path(dir) / ("image-" + std::to_string(pg::test::dead_pid()) + "-lnk000");
    fs::create_directory_symlink(outside, link);

    auto r = prepare_temp_dir(dir);
    CHECK(r.error.empty());
    CHECK(r.removed == 2);
    CHECK(r.bytes >= 10000);
    CHECK_FALSE(fs::exists(gone));
    CHECK_FALSE(fs::exists(fs::symlink_status(link)));
    CHECK(fs::exists(live / "state"));
    CHECK(fs::exists(foreign));
    CHECK(fs::exists(outside / "keep"));
    CHECK(temp_dir_usage(dir) >= 4 + 8); // "mine" and "not ours"
  }
  GIVEN("a folder the operator made, world-readable") {
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
    CHECK(prepare_temp_dir(dir).error.empty());
    CHECK(mode_of(dir) == 0755); // temp_dir = "/var/tmp" must not become root's alone
  }
  GIVEN("a file where the folder should be") {
    fs::create_directories(s.root / "state");
    std::ofstream(dir) << "x";
    auto r = prepare_temp_dir(dir);
    CHECK_FALSE(r.error.empty());
    CHECK(r.error.find(dir) != std::string::npos);
  }
}

SCENARIO("a scratch folder is named after the process that made it") {
  scratch s;
  std::string error;
  auto made = make_temp_folder(s.root.string(), "image", &error);
  REQUIRE(made);
  const auto name = fs::path(*made).filename().string();
  CHECK(name.rfind("image-" + std::to_string(::getpid()) + "-", 0) == 0);
  CHECK(mode_of(*made) == 0700);
  // Ours and alive: a start now leaves it alone.
  CHECK(prepare_temp_dir(s.root.string()).removed == 0);
  CHECK(fs::exists(*made));
  // Under a file there is no folder to make: nothing, and the reason with the path.
  std::ofstream(s.root / "file") << "x";
  CHECK_FALSE(make_temp_folder((s.root / "file").string(), "image", &error));
  CHECK(error.find((s.root / "file").string()) != std::string::npos);

  engine_settings e;
  e.state_dir = "/var/lib/pg";
  CHECK(temp_dir_of(e) == "/var/lib/pg/tmp");
  e.temp_dir = "/run/pg-tmp";
  CHECK(temp_dir_of(e) == "/run/pg-tmp");
}
