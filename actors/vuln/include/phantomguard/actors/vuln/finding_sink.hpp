// SPDX-License-Identifier: Apache-2.0
// finding_sink.hpp — where a scan posts its findings and counters. The same scan code feeds an
// analyzer (through a queue drained by the component's actor thread, see throttled_run.hpp) and an
// ad hoc command (collected into a vector), so it never talks to runtime::context directly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::vuln {

class finding_sink {
public:
  virtual ~finding_sink() = default;
  /// Hands over one finding; may be called from a worker thread (implementations synchronise).
  virtual void post(runtime::finding f) = 0;
  /// Adds to a counter (exported as the component's counter of that name).
  virtual void count(std::string_view name, std::int64_t delta = 1) = 0;
  /// True when the scan should return early (engine shutdown, handler deadline).
  [[nodiscard]] virtual bool stop_requested() const noexcept = 0;
};

/// Keeps everything in memory: for ad hoc commands and tests.
class collecting_sink final : public finding_sink {
public:
  void post(runtime::finding f) override { findings.push_back(std::move(f)); }
  void count(std::string_view name, std::int64_t delta = 1) override {
    counters[std::string(name)] += delta;
  }
  [[nodiscard]] bool stop_requested() const noexcept override { return false; }

  std::vector<runtime::finding> findings;
  std::map<std::string, std::int64_t> counters;
};

} // namespace pg::actors::vuln
