// SPDX-License-Identifier: Apache-2.0
// test_context.hpp — a CAF-free context for driving one component directly in a unit test:
// it records what the component emits, counts and logs, so a test can assert on it.
#pragma once

#include <map>
#include <memory_resource>
#include <string>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/event.hpp"

namespace pg::test {

class test_context final : public runtime::context {
public:
  explicit test_context(std::string name = "test", std::string host = "testhost")
      : name_(std::move(name)), host_(std::move(host)) {}

  const std::string& name() const noexcept override { return name_; }
  const std::string& host() const noexcept override { return host_; }
  runtime::wall_clock::time_point now() const noexcept override {
    return runtime::wall_clock::now();
  }

  void emit(runtime::event e) override { events.push_back(std::move(e)); }

  void emit_finding(runtime::finding f) override {
    if (f.time == runtime::wall_clock::time_point{})
      f.time = now();
    if (f.host.empty())
      f.host = host_;
    if (f.analyzer.empty())
      f.analyzer = name_;
    findings.push_back(std::move(f));
  }

  void count(std::string_view n, std::int64_t delta) override { counters[std::string(n)] += delta; }
  void gauge(std::string_view n, double value) override { gauges[std::string(n)] = value; }
  void lost(std::string_view cause, std::int64_t n) override { losses[std::string(cause)] += n; }
  void log(runtime::log_level, std::string_view message) override { logs.emplace_back(message); }
  bool should_stop() const noexcept override { return stop_requested; }
  bool input_waiting() const noexcept override { return queued_input; }
  std::pmr::memory_resource* memory() noexcept override { return std::pmr::get_default_resource(); }
  void account_memory(std::int64_t delta) override { accounted_memory += delta; }
  void charge_cpu(std::int64_t cpu_ns) override { charged_cpu_ns += cpu_ns; }
  void charge_io(const runtime::io_counters& delta) override { charged_io += delta; }

  /// Findings with this rule id.
  std::vector<const runtime::finding*> with_rule(std::string_view rule) const {
    std::vector<const runtime::finding*> out;
    for (const auto& f : findings)
      if (f.rule == rule)
        out.push_back(&f);
    return out;
  }

  /// Events of this kind.
  std::vector<const runtime::event*> of_kind(std::string_view kind) const {
    std::vector<const runtime::event*> out;
    for (const auto& e : events)
      if (e.kind == kind)
        out.push_back(&e);
    return out;
  }

  std::vector<runtime::event> events;
  std::vector<runtime::finding> findings;
  std::map<std::string, std::int64_t> counters;
  std::map<std::string, double> gauges;
  std::map<std::string, std::int64_t> losses; // what lost() reported, by cause
  std::vector<std::string> logs;
  std::int64_t accounted_memory = 0;
  std::int64_t charged_cpu_ns = 0;
  runtime::io_counters charged_io; // an isolated plugin's child's I/O
  bool queued_input = false;       // what input_waiting() says
  bool stop_requested = false;

private:
  std::string name_;
  std::string host_;
};

} // namespace pg::test
