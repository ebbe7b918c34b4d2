// SPDX-License-Identifier: Apache-2.0
// fim_analyzer.hpp — the `fim` analyzer: on each tick a pass over the watched trees against the
// baseline (the first pass records it), in segments; optionally inotify watches in between.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "phantomguard/actors/fim/baseline_db.hpp"
#include "phantomguard/actors/fim/fim_scanner.hpp"
#include "phantomguard/actors/fim/fim_settings.hpp"
#include "phantomguard/actors/fim/tree_watcher.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::fim {

class fim_analyzer final : public runtime::component {
public:
  /// Throws runtime::component_refused ("fim.config") on a bad rule.
  explicit fim_analyzer(const runtime::component_init& init);
  ~fim_analyzer() override;

  /// Opens the baseline (refused with the path and reason when it cannot be opened) and, in
  /// real-time mode, starts the watcher thread.
  void start(runtime::context& ctx) override;
  /// Drains real-time changes, then continues (or starts) the full pass, segment by segment,
  /// until it completes or the runtime asks to stop; an interrupted pass resumes next tick.
  void on_tick(runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  /// For tests: the scanner's totals (hashes, entries, ...).
  [[nodiscard]] const scan_stats* stats() const noexcept;

private:
  void publish(runtime::context& ctx);
  // The baseline against its seal: fim.baseline_tampered / fim.baseline_missing when they
  // disagree (once per distinct state), a fresh seal when the engine itself wrote the baseline.
  void check_seal(runtime::context& ctx);
  void reseal(runtime::context& ctx);
  std::string seal_path_;
  std::string reported_digest_; // the tampered state already reported

  std::string name_;
  std::string db_path_;
  fim_settings settings_;
  std::unique_ptr<baseline_db> db_;
  std::unique_ptr<fim_scanner> scanner_;
  std::unique_ptr<tree_watcher> watcher_;
  std::optional<runtime::wall_clock::time_point> last_full_;
  scan_stats published_{};
};

} // namespace pg::actors::fim
