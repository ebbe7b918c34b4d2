// SPDX-License-Identifier: Apache-2.0
// bench_engine_accounting — what measuring and pacing a component's worker threads costs: the
// same fim scan (init: every file hashed, two hashing threads) run with plain threads, with the
// engine's metered threads (every thread's CPU clock attached and sampled, every allocation
// charged to the component's heap account) and with metered threads under a CPU quota too high
// to ever wait (pace() evaluates the budget between files). Then the heap accounting alone:
// operator new/delete with an account against malloc/free.
// Usage: bench_engine_accounting [small-files] [runs]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "engine/heap_accounts.hpp"
#include "engine/instance_slot.hpp"
#include "engine/thread_meter.hpp"
#include "phantomguard/actors/fim/baseline_db.hpp"
#include "phantomguard/actors/fim/fim_rule.hpp"
#include "phantomguard/actors/fim/fim_scanner.hpp"

namespace fs = std::filesystem;
using namespace pg;

namespace {

double process_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void make_tree(const fs::path& root, int small) {
  fs::create_directories(root);
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> block(512); // 4 KiB
  for (int i = 0; i < small; ++i) {
    auto dir = root / ("d" + std::to_string(i / 500));
    fs::create_directories(dir);
    for (auto& w : block)
      w = rng();
    std::ofstream(dir / ("s" + std::to_string(i)), std::ios::binary)
        .write(reinterpret_cast<const char*>(block.data()), 4096);
  }
  std::vector<std::uint64_t> big((8u << 20) / 8);
  for (int i = 0; i < 16; ++i) {
    for (auto& w : big)
      w = rng();
    std::ofstream(root / ("b" + std::to_string(i)), std::ios::binary)
        .write(reinterpret_cast<const char*>(big.data()), static_cast<std::streamsize>(8u << 20));
  }
}

struct figure {
  double cpu = 0;
  double wall = 0;
  std::uint64_t hashed = 0;
};

figure scan(const actors::fim::rule_set& rules, const fs::path& db_path,
            runtime::component_threads* threads) {
  fs::remove(db_path);
  actors::fim::baseline_db db(db_path.string(), true);
  actors::fim::scan_options opts;
  opts.workers = 2;
  opts.threads = threads;
  actors::fim::fim_scanner scanner(rules, db, opts);
  auto c0 = process_cpu();
  auto w0 = std::chrono::steady_clock::now();
  scanner.begin(actors::fim::fim_scanner::mode::init, {}, true);
  actors::host::collecting_sink ignored;
  scanner.run(ignored, {});
  figure f;
  f.cpu = process_cpu() - c0;
  f.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  f.hashed = scanner.stats().hashed;
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  int small = argc > 1 ? std::atoi(argv[1]) : 20000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  auto root = fs::temp_directory_path() / "pg-bench-accounting";
  fs::remove_all(root);
  make_tree(root / "tree", small);
  toml::table rules_toml{
      {"tree", toml::table{{"path", (root / "tree").string()}, {"attributes", "CONTENT"}}}};
  std::string error;
  auto rules = actors::fim::rule_set::parse(rules_toml, &error);
  if (!rules) {
    std::fprintf(stderr, "rules: %s\n", error.c_str());
    return 1;
  }
  auto slot = std::make_shared<runtime::detail::instance_slot>();
  slot->heap_account = runtime::detail::heap::open(); // the workers' allocations are charged
  runtime::detail::metered_threads metered(slot, std::nullopt);
  auto paced_slot = std::make_shared<runtime::detail::instance_slot>();
  paced_slot->heap_account = runtime::detail::heap::open();
  runtime::detail::metered_threads paced(paced_slot, 1e6); // a budget never reached
  const char* names[] = {"plain threads", "metered", "metered + paced"};
  runtime::component_threads* pools[] = {nullptr, &metered, &paced};
  std::vector<double> cpu[3], wall[3];
  (void)scan(*rules, root / "warm.db", nullptr); // page cache
  for (int r = 0; r < runs; ++r)
    for (int v = 0; v < 3; ++v) { // interleaved: drift on a shared machine hits all three
      auto f = scan(*rules, root / "bench.db", pools[v]);
      cpu[v].push_back(f.cpu);
      wall[v].push_back(f.wall);
      if (r == 0 && v == 0)
        std::printf("tree: %d files of 4 KiB + 16 of 8 MiB, %llu hashed per scan, %d runs\n", small,
                    static_cast<unsigned long long>(f.hashed), runs);
    }
  std::printf("%-16s %12s %12s %14s\n", "threads", "cpu s (med)", "wall s (med)", "cpu vs plain");
  for (int v = 0; v < 3; ++v)
    std::printf("%-16s %12.3f %12.3f %13.3fx\n", names[v], median(cpu[v]), median(wall[v]),
                median(cpu[v]) / median(cpu[0]));
  std::printf("metered CPU accounted: %.3f s over %d scans (process CPU of those scans: %.3f s)\n",
              static_cast<double>(slot->meter.sample()) / 1e9, runs, [&] {
                double s = 0;
                for (double c : cpu[1])
                  s += c;
                return s;
              }());
  fs::remove_all(root);

  // The heap accounting: every operator new/delete of a component's threads is charged to it.
  // The same allocations, sizes and order through malloc/free are the plain way.
  std::printf("\nheap accounting: 4,000,000 allocate+free pairs, sizes 16..512 bytes\n");
  std::vector<double> plain_ns, charged_ns;
  const auto account = runtime::detail::heap::open();
  for (int r = 0; r < runs; ++r) {
    for (int v = 0; v < 2; ++v) {
      std::vector<void*> live(256, nullptr);
      auto w0 = std::chrono::steady_clock::now();
      const auto previous = runtime::detail::heap::set_thread_account(v == 1 ? account : 0);
      for (std::size_t i = 0; i < 4'000'000; ++i) {
        const std::size_t n = 16 + (i * 37) % 497;
        auto& slot = live[i % live.size()];
        if (v == 0) {
          std::free(slot);
          slot = std::malloc(n);
        } else {
          ::operator delete(slot);
          slot = ::operator new(n);
        }
        static_cast<char*>(slot)[0] = 1;
      }
      for (auto* p : live)
        v == 0 ? std::free(p) : ::operator delete(p);
      runtime::detail::heap::set_thread_account(previous);
      double ns =
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - w0).count() /
          4e6;
      (v == 0 ? plain_ns : charged_ns).push_back(ns);
    }
  }
  std::printf("%-16s %12s %14s\n", "allocator", "ns per pair", "vs malloc/free");
  std::printf("%-16s %12.1f %13.3fx\n", "malloc/free", median(plain_ns), 1.0);
  std::printf("%-16s %12.1f %13.3fx\n", "charged new", median(charged_ns),
              median(charged_ns) / median(plain_ns));
  runtime::detail::heap::close(account);
  return 0;
}
