// SPDX-License-Identifier: Apache-2.0
// cryptominer.cpp — the crypto-miner detector plugin: process events in, miner.* findings out.
#include <phantomguard/sdk/detector.hpp>

#include "miner_rules.hpp"

namespace {

using namespace pg::plugins::cryptominer;

class cryptominer final : public pg::sdk::detector {
public:
  static constexpr std::string_view name = "cryptominer";

  cryptominer(const pg::sdk::config& cfg, pg::sdk::host host)
      : host_(host), reported_(static_cast<std::size_t>(cfg.get_int("max_tracked", 8192))) {
    rules_.extra_names = cfg.get_string_list("extra_names");
    rules_.allow_exe = cfg.get_string_list("allow_exe");
    rules_.min_flags = static_cast<int>(cfg.get_int("min_flags", 2));
    if (cfg.get_int("max_tracked", 8192) <= 0)
      throw pg::sdk::config_error("max_tracked must be positive");
  }

  void on_event(const pg::sdk::event_view& e) override {
    ++events_;
    const process_facts p{e.get_string("comm"), e.get_string("exe"), e.get_string("cmdline")};
    auto m = classify(p, rules_, scratch_);
    if (!m)
      return;
    const std::int64_t pid = e.get_int("pid", -1);
    if (!reported_.insert(pid, p.exe))
      return;
    ++findings_;
    pg::sdk::finding f(std::string(m->rule), static_cast<pg::sdk::severity>(m->severity),
                       std::string(m->title));
    f.entity("pid", pid).entity("exe", p.exe).entity("comm", p.comm);
    f.evidence("indicator", m->indicator).evidence("cmdline", p.cmdline);
    if (e.has("uid"))
      f.evidence("uid", e.get_int("uid"));
    if (e.has("ppid"))
      f.evidence("ppid", e.get_int("ppid"));
    f.mitre("T1496");
    host_.emit(f);
  }

  std::string snapshot() override { return reported_.serialize(); }
  void restore(std::string_view state) override { reported_.deserialize(state); }

  std::vector<pg::sdk::metric> metrics() override {
    return {{"miner_events", PG_METRIC_COUNTER, static_cast<double>(events_)},
            {"miner_findings", PG_METRIC_COUNTER, static_cast<double>(findings_)},
            {"miner_tracked", PG_METRIC_GAUGE, static_cast<double>(reported_.size())}};
  }

private:
  pg::sdk::host host_;
  rules_config rules_;
  reported_set reported_;
  std::string scratch_;
  std::uint64_t events_ = 0;
  std::uint64_t findings_ = 0;
};

} // namespace

PHANTOMGUARD_PLUGIN(cryptominer)
