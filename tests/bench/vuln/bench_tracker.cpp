// SPDX-License-Identifier: Apache-2.0
// bench_tracker — loading the Debian Security Tracker's export the way the scanner does
// (advisory_index::load: a file over 16 MiB is parsed streaming, one source package's document
// held at a time) against the plain way, measured in the same run: nlohmann::json::parse of the
// whole file, then the same conversion. The file is synthetic, written by this program with the
// tracker's shape and about its size (4,800 source packages x 30 CVEs x 3 releases, ~69 MiB).
// Each way runs in a child process, so its peak RSS (VmHWM) is its own; the median of --rounds.
//
//   bench_tracker [--packages N] [--cves N] [--rounds N]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "phantomguard/actors/vuln/advisory_index.hpp"
#include "phantomguard/actors/vuln/debian_tracker.hpp"

using namespace pg::actors::vuln;
namespace fs = std::filesystem;

namespace {

std::string synthetic_tracker(const fs::path& path, int packages, int cves) {
  std::mt19937 rng(7);
  std::ofstream out(path);
  out << "{";
  const char* statuses[] = {"resolved", "resolved", "resolved", "open", "undetermined"};
  const char* urgencies[] = {"low", "medium", "high", "unimportant", "not yet assigned"};
  for (int p = 0; p < packages; ++p) {
    out << (p ? "," : "") << "\"pkg" << p << "\": {";
    for (int c = 0; c < cves; ++c) {
      out << (c ? "," : "") << "\"CVE-2099-" << p * cves + c
          << "\": {\"description\": \"A synthetic issue in pkg" << p
          << " that lets a remote attacker do something unpleasant with crafted input.\", "
             "\"scope\": \"remote\", \"releases\": {";
      const char* releases[] = {"bookworm", "bullseye", "sid"};
      for (int r = 0; r < 3; ++r) {
        const char* st = statuses[rng() % 5];
        std::string fixed = rng() % 4 == 0 ? "0" : "1." + std::to_string(rng() % 50) + "-1";
        out << (r ? "," : "") << "\"" << releases[r] << "\": {\"status\": \"" << st
            << "\", \"repositories\": {\"" << releases[r] << "\": \"1.20-1\"}"
            << (std::string(st) == "resolved" ? ", \"fixed_version\": \"" + fixed + "\"" : "")
            << ", \"urgency\": \"" << urgencies[rng() % 5] << "\"}";
      }
      out << "}}";
    }
    out << "}";
  }
  out << "}\n";
  return path.string();
}

long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

struct run {
  double seconds = 0;
  long peak_kib = 0;
  std::size_t advisories = 0;
};

// Runs `fn` in a child; its time, peak RSS and advisory count come back through a pipe.
template <class F>
run in_child(F fn) {
  int fds[2];
  if (::pipe(fds) != 0)
    std::exit(2);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto t0 = std::chrono::steady_clock::now();
    std::size_t n = fn();
    run r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.peak_kib = peak_rss_kib();
    r.advisories = n;
    (void)!::write(fds[1], &r, sizeof r);
    ::_exit(0);
  }
  ::close(fds[1]);
  run r;
  if (::read(fds[0], &r, sizeof r) != sizeof r)
    std::exit(2);
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  return r;
}

run median(std::vector<run> v) {
  std::sort(v.begin(), v.end(), [](const run& a, const run& b) { return a.seconds < b.seconds; });
  run m = v[v.size() / 2];
  long peak = 0;
  for (const auto& r : v)
    peak = std::max(peak, r.peak_kib);
  m.peak_kib = peak;
  return m;
}

} // namespace

int main(int argc, char** argv) {
  int packages = 4800, cves = 30, rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--packages")
      packages = std::stoi(argv[i + 1]);
    else if (a == "--cves")
      cves = std::stoi(argv[i + 1]);
    else if (a == "--rounds")
      rounds = std::stoi(argv[i + 1]);
  }
  auto dir = fs::temp_directory_path() / ("pg-bench-tracker-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto file = synthetic_tracker(dir / "tracker.json", packages, cves);
  const double mib = static_cast<double>(fs::file_size(file)) / (1 << 20);
  const auto baseline_kib = in_child([] { return std::size_t{0}; }).peak_kib;

  std::vector<run> streaming, whole;
  for (int r = 0; r < rounds; ++r) {
    streaming.push_back(in_child([&] { return advisory_index::load(file).stats().advisories; }));
    whole.push_back(in_child([&] {
      // The plain way: the whole document in memory, then the same conversion.
      std::ifstream in(file);
      auto doc = nlohmann::json::parse(in);
      std::vector<osv_advisory> out;
      std::vector<malformed_entry> malformed;
      tracker_counts counts;
      for (const auto& [package, entry] : doc.items())
        tracker_package_advisories(package, entry, file, out, malformed, counts);
      return out.size();
    }));
  }
  auto s = median(streaming);
  auto w = median(whole);
  std::printf("tracker file      : %d packages x %d CVEs x 3 releases, %.1f MiB\n", packages, cves,
              mib);
  std::printf("streaming (ours)  : %zu advisories in %.2f s (median of %d), peak RSS %.1f MiB "
              "(process baseline %.1f MiB)\n",
              s.advisories, s.seconds, rounds, s.peak_kib / 1024.0, baseline_kib / 1024.0);
  std::printf("whole document    : %zu advisories in %.2f s (median of %d), peak RSS %.1f MiB\n",
              w.advisories, w.seconds, rounds, w.peak_kib / 1024.0);
  std::printf("ratio             : streaming peak RSS is %.2fx the whole-document parse's, time "
              "%.2fx\n",
              static_cast<double>(s.peak_kib) / static_cast<double>(w.peak_kib),
              s.seconds / w.seconds);
  fs::remove_all(dir);
  return s.advisories == w.advisories ? 0 : 1;
}
