// SPDX-License-Identifier: Apache-2.0
// miner_rules.hpp — the crypto-miner detection logic, free of any engine or SDK type, so the
// plugin and the benchmark's built-in twin run exactly the same code.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg::plugins::cryptominer {

struct process_facts {
  std::string_view comm;
  std::string_view exe;
  std::string_view cmdline;
};

struct match {
  std::string_view rule; // "miner.known_binary", ...
  int severity = 3;      // 0 info .. 4 critical, as pg_severity
  std::string_view title;
  std::string indicator; // what matched
};

struct rules_config {
  std::vector<std::string> extra_names;
  std::vector<std::string> allow_exe;
  int min_flags = 2;
};

inline constexpr std::array<std::string_view, 18> known_miners = {
    "xmrig",    "xmr-stak",     "xmr-stak-cpu", "minerd",   "cpuminer",     "cpuminer-multi",
    "ccminer",  "cgminer",      "bfgminer",     "ethminer", "nbminer",      "t-rex",
    "lolminer", "phoenixminer", "nanominer",    "gminer",   "teamredminer", "srbminer-multi"};

inline constexpr std::array<std::string_view, 5> stratum_schemes = {
    "stratum+tcp://", "stratum+ssl://", "stratum+tls://", "stratum2+tcp://", "stratum1+tcp://"};

inline constexpr std::array<std::string_view, 12> pool_domains = {
    "minexmr.com",    "supportxmr.com", "moneroocean.stream", "nanopool.org",
    "2miners.com",    "f2pool.com",     "hashvault.pro",      "c3pool.com",
    "herominers.com", "nicehash.com",   "minergate.com",      "xmrpool.eu"};

inline constexpr std::array<std::string_view, 11> miner_flags = {
    "--donate-level",        "--randomx", "--rig-id",  "--nicehash", "--cpu-priority",
    "--max-cpu-usage",       "--coin=",   "--algo=rx", "-a rx/",     "cryptonight",
    "--cpu-max-threads-hint"};

inline std::string_view basename(std::string_view path) noexcept {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

/// Case-insensitive substring search without allocating.
inline bool icontains(std::string_view hay, std::string_view needle) noexcept {
  if (needle.empty() || needle.size() > hay.size())
    return needle.empty();
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         }) != hay.end();
}

/// Lower-cases `in` into `out` (reused between calls, so no allocation once warm).
inline std::string_view lower_into(std::string_view in, std::string& out) {
  out.resize(in.size());
  std::transform(in.begin(), in.end(), out.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return out;
}

/// The strongest match for one process, or nullopt. Order: name, stratum URL, pool, flags.
/// `scratch` is a buffer the caller keeps between calls (the lower-cased command line).
inline std::optional<match> classify(const process_facts& p, const rules_config& cfg,
                                     std::string& scratch) {
  for (const auto& allowed : cfg.allow_exe)
    if (!p.exe.empty() && p.exe == allowed)
      return std::nullopt;
  const std::string_view exe_name = basename(p.exe);
  auto is_name = [&](std::string_view n) { return iequals(exe_name, n) || iequals(p.comm, n); };
  for (auto n : known_miners)
    if (is_name(n))
      return match{"miner.known_binary", 3, "known crypto-miner binary running", std::string(n)};
  for (const auto& n : cfg.extra_names)
    if (is_name(n))
      return match{"miner.known_binary", 3, "known crypto-miner binary running", n};
  if (p.cmdline.empty())
    return std::nullopt;
  // Every needle below is lower case: fold the command line once, then plain find().
  const std::string_view cmd = lower_into(p.cmdline, scratch);
  if (cmd.find("stratum") != std::string_view::npos)
    for (auto s : stratum_schemes)
      if (cmd.find(s) != std::string_view::npos)
        return match{"miner.stratum_url", 3, "process connects to a mining pool (stratum URL)",
                     std::string(s)};
  for (auto d : pool_domains)
    if (cmd.find(d) != std::string_view::npos)
      return match{"miner.pool_domain", 3, "process names a known mining pool", std::string(d)};
  if (cmd.find('-') == std::string_view::npos && cmd.find("cryptonight") == std::string_view::npos)
    return std::nullopt; // every remaining indicator is a flag or "cryptonight"
  int flags = 0;
  std::string seen;
  for (auto f : miner_flags) {
    if (cmd.find(f) != std::string_view::npos) {
      ++flags;
      seen += (seen.empty() ? "" : " ") + std::string(f);
    }
  }
  if (flags >= cfg.min_flags && cfg.min_flags > 0)
    return match{"miner.mining_flags", 2, "process runs with crypto-miner options", seen};
  return std::nullopt;
}

} // namespace pg::plugins::cryptominer

namespace pg::plugins::cryptominer {

/// Processes already reported, so a procfs snapshot every tick reports each miner once.
/// Bounded: the oldest entries go first. Serialises to lines for snapshot/restore.
class reported_set {
public:
  explicit reported_set(std::size_t max = 8192) : max_(max == 0 ? 1 : max) {}

  /// True when (pid, exe) is new (and remembers it).
  bool insert(std::int64_t pid, std::string_view exe) {
    std::string key = std::to_string(pid) + ":" + std::string(exe);
    if (std::find(order_.begin(), order_.end(), key) != order_.end())
      return false;
    order_.push_back(std::move(key));
    if (order_.size() > max_)
      order_.erase(order_.begin());
    return true;
  }
  [[nodiscard]] std::size_t size() const noexcept { return order_.size(); }

  [[nodiscard]] std::string serialize() const {
    std::string out;
    for (const auto& k : order_)
      out += k + "\n";
    return out;
  }
  void deserialize(std::string_view text) {
    order_.clear();
    while (!text.empty()) {
      auto nl = text.find('\n');
      auto line = text.substr(0, nl);
      if (!line.empty() && line.find(':') != std::string_view::npos)
        order_.emplace_back(line);
      text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    while (order_.size() > max_)
      order_.erase(order_.begin());
  }

private:
  std::size_t max_;
  std::vector<std::string> order_; // only findings land here: small in practice
};

} // namespace pg::plugins::cryptominer
