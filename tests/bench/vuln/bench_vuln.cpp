// SPDX-License-Identifier: Apache-2.0
// bench_vuln — how fast the vulnerability scanner reads the dpkg database, loads OSV advisories and
// matches them. The advisory set is synthetic (written by this program into a temporary folder):
// ~10k advisories, a third naming source packages installed here with fixed versions above and
// below the installed one, the rest naming packages that are not installed. The baseline, measured
// in the same run, is matching without the package index (every package against every advisory).
//
//   bench_vuln [--advisories N] [--rounds N] [--root DIR] [--workers N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/debian_version.hpp"
#include "phantomguard/actors/vuln/dpkg_database.hpp"
#include "phantomguard/actors/vuln/vuln_matcher.hpp"

using namespace pg::actors::vuln;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

// A version just below or just above `v` in Debian order.
std::string below(const std::string& v) {
  return v + "~bench";
}
std::string above(const std::string& v) {
  return v + "+bench1";
}

} // namespace

int main(int argc, char** argv) {
  std::size_t n_adv = 10000;
  int rounds = 20;
  std::string root = "/";
  std::size_t workers = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--advisories")
      n_adv = std::stoul(argv[i + 1]);
    else if (a == "--rounds")
      rounds = std::stoi(argv[i + 1]);
    else if (a == "--root")
      root = argv[i + 1];
    else if (a == "--workers")
      workers = std::stoul(argv[i + 1]);
  }

  // 1. The dpkg database.
  auto t0 = clock_type::now();
  dpkg_database db;
  for (int r = 0; r < rounds; ++r)
    db = read_dpkg_database(root);
  double read_s = seconds_since(t0) / rounds;
  if (db.packages.empty()) {
    std::fprintf(stderr, "no packages under %s\n", root.c_str());
    return 1;
  }

  // 2. A synthetic advisory set on disk.
  fs::path dir = fs::temp_directory_path() / ("pg-bench-vuln-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::mt19937 rng(42);
  for (std::size_t i = 0; i < n_adv; ++i) {
    nlohmann::json adv;
    adv["id"] = "BENCH-" + std::to_string(i);
    adv["aliases"] = {"CVE-2099-" + std::to_string(10000 + i)};
    adv["summary"] = "synthetic advisory";
    adv["severity"] = {
        {{"type", "CVSS_V3"}, {"score", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N"}}};
    std::string name, fixed;
    if (i % 3 == 0) {
      const auto& p = db.packages[rng() % db.packages.size()];
      name = p.source_name;
      bool affected = rng() % 2 == 0;
      fixed = affected ? above(p.source_version) : below(p.source_version);
    } else {
      name = "not-installed-" + std::to_string(i);
      fixed = "1.0-1";
    }
    adv["affected"] = {
        {{"package", {{"ecosystem", "Debian:12"}, {"name", name}}},
         {"ranges",
          {{{"type", "ECOSYSTEM"}, {"events", {{{"introduced", "0"}}, {{"fixed", fixed}}}}}}}}};
    std::ofstream(dir / (adv["id"].get<std::string>() + ".json")) << adv.dump();
  }

  advisory_load_options lo;
  lo.workers = workers;
  auto t1 = clock_type::now();
  auto index = advisory_index::load(dir.string(), lo);
  double load_s = seconds_since(t1);

  // 3. Matching with the index.
  vuln_matcher matcher(index, "12");
  std::size_t matches = 0;
  auto t2 = clock_type::now();
  for (int r = 0; r < rounds; ++r)
    for (const auto& p : db.packages)
      matches += matcher.match(p).size();
  double match_s = seconds_since(t2) / rounds;
  matches /= static_cast<std::size_t>(rounds);

  // 4. Baseline: no index, every package against every advisory's entries.
  std::size_t base_matches = 0;
  std::size_t base_rounds = std::max(1, rounds / 10);
  auto t3 = clock_type::now();
  for (std::size_t r = 0; r < base_rounds; ++r)
    for (const auto& p : db.packages)
      for (const auto& adv : index.advisories())
        for (const auto& a : adv.affected)
          if (a.package == p.source_name && evaluate_affected(a, p.source_version).affected)
            ++base_matches;
  double base_s = seconds_since(t3) / static_cast<double>(base_rounds);
  base_matches /= base_rounds;

  // 5. Version comparisons alone.
  std::size_t cmp_n = 0;
  int sink = 0;
  auto t4 = clock_type::now();
  for (int r = 0; r < rounds; ++r)
    for (std::size_t i = 1; i < db.packages.size(); ++i, ++cmp_n)
      sink += compare_debian_versions(db.packages[i - 1].version, db.packages[i].version) < 0;
  double cmp_s = seconds_since(t4);

  std::error_code ec;
  fs::remove_all(dir, ec);

  auto pk = static_cast<double>(db.packages.size());
  std::printf("dpkg database      : %zu packages (%zu malformed) in %.2f ms -> %.0f packages/s\n",
              db.packages.size(), db.malformed.size(), read_s * 1e3, pk / read_s);
  std::printf("advisory load      : %zu advisories from %zu files (%.1f MiB) in %.2f s -> %.0f "
              "advisories/s (workers %zu)\n",
              index.stats().advisories, index.stats().files,
              static_cast<double>(index.stats().bytes) / (1 << 20), load_s,
              static_cast<double>(index.stats().advisories) / load_s, workers);
  std::printf("match (indexed)    : %zu packages x %zu advisories in %.3f ms -> %.0f packages/s, "
              "%.0f advisories matched/s (%zu matches)\n",
              db.packages.size(), index.stats().advisories, match_s * 1e3, pk / match_s,
              static_cast<double>(index.stats().advisories) / match_s, matches);
  std::printf("match (baseline)   : no index, %.1f ms -> %.0f packages/s (%zu matches)\n",
              base_s * 1e3, pk / base_s, base_matches);
  std::printf("ratio              : indexed matching is %.0fx the baseline\n", base_s / match_s);
  std::printf("version comparison : %.1f M comparisons/s (%d)\n",
              static_cast<double>(cmp_n) / cmp_s / 1e6, sink % 2);
  std::printf("end to end         : read + load + match = %.2f s\n", read_s + load_s + match_s);
  return matches == base_matches ? 0 : 1;
}
