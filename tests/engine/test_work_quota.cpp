// SPDX-License-Identifier: Apache-2.0
// test_work_quota.cpp — a quota holds the work where it happens: a fim scan hashes on worker
// threads started through the component's context, so its CPU time is the component's and
// cpu_percent holds it. Measured from the kernel's figures for the whole process, not from
// what the engine says about itself.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "engine_test_support.hpp"
#include "phantomguard/actors/builtin.hpp"
#include "phantomguard/runtime/config.hpp"

using namespace pg::runtime;
namespace fs = std::filesystem;

namespace {

/// CPU seconds of the whole process from /proc/self/stat: every thread, the ones that ended too
/// (/proc/self/task lists only the live ones, and the hashing threads live a segment each).
double process_cpu_seconds() {
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) // utime, stime
      ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct tree {
  fs::path root;
  explicit tree(std::size_t files, std::size_t mib_each) {
    root = fs::temp_directory_path() / ("pg-work-quota-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "data");
    std::mt19937_64 rng(42);
    std::vector<std::uint64_t> block((1u << 20) / 8);
    for (std::size_t f = 0; f < files; ++f) {
      std::ofstream out(root / "data" / ("f" + std::to_string(f)), std::ios::binary);
      for (std::size_t m = 0; m < mib_each; ++m) {
        for (auto& w : block)
          w = rng();
        out.write(reinterpret_cast<const char*>(block.data()),
                  static_cast<std::streamsize>(block.size() * 8));
      }
    }
  }
  ~tree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

pipeline_config fim_config(const tree& t, const std::string& state, const std::string& quota) {
  std::string text = "[engine]\nstate_dir = \"" + state + "\"\n"
                     "[analyzers.fim]\ntype = \"fim\"\nworkers = 2\nio_class = \"none\"\n" +
                     quota + "\n[analyzers.fim.rules.data]\npath = \"" +
                     (t.root / "data").string() + "\"\nattributes = \"CONTENT\"\n";
  auto r = load_config_string(text, "<test>");
  for (const auto& e : r.errors)
    UNSCOPED_INFO(e.where.line << ": " << e.message);
  REQUIRE(r.ok());
  return *r.config;
}

struct measured {
  double wall = 0;
  double cpu = 0;       // the process's
  double component = 0; // what the engine accounted to the fim component
  std::int64_t hashed = 0;
};

measured scan_once(const tree& t, const std::string& quota) {
  static int n = 0;
  auto state = (t.root / ("state" + std::to_string(n++))).string();
  engine eng(fim_config(t, state, quota));
  auto c0 = process_cpu_seconds();
  auto w0 = std::chrono::steady_clock::now();
  auto report = eng.scan();
  measured m;
  m.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  m.cpu = process_cpu_seconds() - c0;
  m.component = static_cast<double>(report.metrics.counter("fim", "cpu_time_us")) / 1e6;
  m.hashed = report.metrics.counter("fim", "custom.files_hashed");
  return m;
}

} // namespace

SCENARIO("a fim scan with cpu_percent = 20 stays within a quarter of one core",
         "[engine][quota][work]") {
  pg::actors::register_builtin();
  tree t(80, 4); // 320 MiB of incompressible content, hashed from the page cache
  (void)scan_once(t, "");    // warms the page cache
  auto free_run = scan_once(t, "");
  auto held = scan_once(t, "quota = { cpu_percent = 20 }");
  INFO("free: " << free_run.cpu << " s CPU in " << free_run.wall << " s, component "
                << free_run.component << " s; held: " << held.cpu << " s CPU in " << held.wall
                << " s, component " << held.component << " s");
  REQUIRE(free_run.hashed == 80);
  REQUIRE(held.hashed == 80);
  // Unpaced, two hashing threads use well over a quarter of a core: the test can fail.
  CHECK(free_run.cpu / free_run.wall > 0.6);
  // The engine's figure for the component is the real one: the workers' time is in it.
  CHECK(free_run.component > 0.8 * free_run.cpu);
  // Held to its quota over the whole scan, start-up included.
  CHECK(held.cpu / held.wall <= 0.25);
  CHECK(held.component > 0.8 * held.cpu);
}
