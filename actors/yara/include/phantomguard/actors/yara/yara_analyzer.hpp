// SPDX-License-Identifier: Apache-2.0
// yara_analyzer.hpp — the `yara` analyzer: rule files compiled once (and cached on disk), file
// trees scanned in segments with cached results, optionally every process's memory.
#pragma once

#include <memory>
#include <string>

#include "phantomguard/actors/yara/result_cache.hpp"
#include "phantomguard/actors/yara/target_scanner.hpp"
#include "phantomguard/actors/yara/yara_settings.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::yara {

class yara_analyzer final : public runtime::component {
public:
  /// Throws runtime::component_refused ("yara.config") on bad settings.
  explicit yara_analyzer(const runtime::component_init& init);
  ~yara_analyzer() override;

  /// Compiles (or loads) the rules: each compile error becomes a `yara.rule_error` finding
  /// with file and line; refused ("yara.rules") only when no rule file compiled at all.
  void start(runtime::context& ctx) override;
  /// Continues or starts a pass over the paths (rules reloaded first when their files
  /// changed), then the processes when configured.
  void on_tick(runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  [[nodiscard]] const target_totals* totals() const noexcept;

private:
  void load_rules(runtime::context& ctx);
  void publish(runtime::context& ctx);

  std::string name_;
  yara_settings settings_;
  std::string cache_dir_;
  std::unique_ptr<result_cache> cache_;
  std::unique_ptr<target_scanner> scanner_;
  std::int64_t rules_accounted_ = 0; // what account_memory holds for the compiled rules
  target_totals published_{};
};

} // namespace pg::actors::yara
