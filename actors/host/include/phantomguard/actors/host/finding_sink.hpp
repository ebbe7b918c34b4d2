// SPDX-License-Identifier: Apache-2.0
// finding_sink.hpp — where a scanner posts its findings and counters. The same scan code (fim,
// yara, vuln, container) feeds an analyzer, an ad hoc command and a test, so it never talks to
// runtime::context itself: the analyzer hands it a context_sink (or a queue its actor thread
// drains, vuln's throttled_run), a command a collecting_sink, a test a callback_sink.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::host {

class finding_sink {
public:
  virtual ~finding_sink() = default;
  /// Hands over one finding. Called from the thread that runs the scan unless an implementation
  /// says it may be called from the scan's workers too (then it synchronises).
  virtual void post(runtime::finding f) = 0;
  /// Adds to a counter (an analyzer exports it as the component's counter of that name).
  virtual void count(std::string_view /*name*/, std::int64_t /*delta*/ = 1) {}
  /// True when the scan should return early (engine shutdown, handler deadline).
  [[nodiscard]] virtual bool stop_requested() const noexcept { return false; }
};

/// Keeps everything in memory: for ad hoc commands and tests.
class collecting_sink final : public finding_sink {
public:
  void post(runtime::finding f) override { findings.push_back(std::move(f)); }
  void count(std::string_view name, std::int64_t delta = 1) override {
    counters[std::string(name)] += delta;
  }

  std::vector<runtime::finding> findings;
  std::map<std::string, std::int64_t> counters;
};

/// Calls `f(finding)` for each finding; counts go nowhere.
template <class F>
class callback_sink final : public finding_sink {
public:
  explicit callback_sink(F f) : f_(std::move(f)) {}
  void post(runtime::finding f) override { f_(std::move(f)); }

private:
  F f_;
};

/// Straight into the component's context: findings, counters and the stop request. Only for a
/// scan that runs on the component's actor thread, inside a hook (the context's own rule).
class context_sink final : public finding_sink {
public:
  explicit context_sink(runtime::context& ctx) : ctx_(ctx) {}
  void post(runtime::finding f) override { ctx_.emit_finding(std::move(f)); }
  void count(std::string_view name, std::int64_t delta = 1) override { ctx_.count(name, delta); }
  [[nodiscard]] bool stop_requested() const noexcept override { return ctx_.should_stop(); }

private:
  runtime::context& ctx_;
};

} // namespace pg::actors::host
