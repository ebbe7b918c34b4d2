// SPDX-License-Identifier: Apache-2.0
// console_sink.hpp — prints findings as they arrive (run mode). In scan mode the CLI prints the
// report itself and removes `console` sinks from the config before building the engine.
#pragma once

#include <ostream>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/options.hpp"
#include "phantomguard/runtime/report.hpp"

namespace pg::actors::sink {

/// Options: format (table | json | jsonl, default table), min_severity (default info).
/// Events that are not findings are ignored (counted as `ignored`).
class console_sink final : public runtime::component {
public:
  /// `out` must outlive the sink (std::cout in production, a string stream in tests).
  console_sink(const runtime::component_settings& settings, std::ostream& out);

  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  /// The option list registered for the type (also used by docs and validate).
  static std::vector<runtime::option_spec> options();

private:
  void write(const runtime::finding& f);

  std::ostream& out_;
  runtime::output_format format_ = runtime::output_format::table;
  runtime::severity min_severity_ = runtime::severity::info;
  bool header_written_ = false;
};

} // namespace pg::actors::sink
