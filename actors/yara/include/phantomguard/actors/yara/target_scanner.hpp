// SPDX-License-Identifier: Apache-2.0
// target_scanner.hpp — scans file trees and process memory with a rule set: files in segments
// (walk, consult the result cache, scan the rest on worker threads with one YR_SCANNER each,
// record), one `yara.match` finding per matching rule and target. Shared by the `yara` analyzer
// and the `phantomguard yara` command.
#pragma once

#include "phantomguard/actors/host/finding_sink.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "phantomguard/actors/yara/compiled_rules.hpp"
#include "phantomguard/actors/yara/result_cache.hpp"
#include "phantomguard/runtime/component_threads.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::yara {

struct target_options {
  unsigned workers = 1;
  std::size_t segment_size = 256;
  std::uint64_t max_memory = 64u << 20;
  std::uint64_t max_file_size = 0; // 0 = no limit
  int timeout_seconds = 60;        // per file or process
  bool fast = false;
  bool follow_symlinks = false;     // `yara -r` follows them; the analyzer does not by default
  std::vector<std::string> exclude; // globs (base name, or whole path with '/'), "re:" regexes
  runtime::severity level = runtime::severity::medium; // unless the rule's meta says otherwise
  /// The scanning threads: the component's (metered, paced to its cpu_percent) inside the
  /// engine; plain threads when null (the `yara` command).
  runtime::component_threads* threads = nullptr;
};

struct target_totals {
  std::uint64_t files = 0;      // candidate files seen
  std::uint64_t scanned = 0;    // files actually scanned by libyara
  std::uint64_t cache_hits = 0; // files answered from the result cache
  std::uint64_t skipped = 0;    // over max_file_size, or excluded
  std::uint64_t matches = 0;    // findings
  std::uint64_t errors = 0;     // unreadable files, timeouts
  std::uint64_t processes = 0;  // processes scanned
  std::uint64_t segments = 0;
  std::vector<std::string> error_samples;
};

using host::finding_sink;

class target_scanner {
public:
  /// `cache` may be null (no result cache); it must outlive the scanner. Throws
  /// std::invalid_argument for an invalid exclusion regex.
  target_scanner(ruleset rules, result_cache* cache, target_options opts);
  ~target_scanner();
  target_scanner(const target_scanner&) = delete;
  target_scanner& operator=(const target_scanner&) = delete;

  /// Starts a pass over files and directories (recursively).
  void begin(std::vector<std::string> paths);
  [[nodiscard]] bool active() const noexcept;
  /// One segment; true when the pass is complete.
  bool step(finding_sink& emit);
  /// step() until complete or `stop()`; true when complete.
  bool run(finding_sink& emit, const std::function<bool()>& stop = {});

  /// Scans one process's memory. False with `*error` set when it cannot be read (vanished,
  /// denied): the caller decides whether that is worth reporting.
  bool scan_process(int pid, finding_sink& emit, std::string* error = nullptr);

  [[nodiscard]] const target_totals& totals() const noexcept;
  [[nodiscard]] const ruleset& rules() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The finding for one matching rule: rule "yara.match", entity `entity` (path, or pid and
/// exe), evidence.rule / namespace / tags / meta / strings / ruleset. The severity comes from
/// the rule's meta `severity` when it names one, else `fallback`; meta `mitre_attack` (or
/// `mitre`) fills mitre.
runtime::finding make_match_finding(const rule_match& m, nlohmann::json entity,
                                    const std::string& ruleset_hash, runtime::severity fallback);

} // namespace pg::actors::yara
