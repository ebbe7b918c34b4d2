// SPDX-License-Identifier: Apache-2.0
// fim_scanner.hpp — one pass over the watched trees, in segments: walk a segment of paths, read
// their metadata, hash what needs hashing on worker threads (at lowered CPU and I/O priority),
// compare with the baseline, emit findings and commit the segment in one transaction.
// Shared by the `fim` analyzer and the `phantomguard fim` command.
#pragma once

#include "phantomguard/actors/host/finding_sink.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "phantomguard/actors/fim/baseline_db.hpp"
#include "phantomguard/actors/fim/fim_rule.hpp"
#include "phantomguard/runtime/component_threads.hpp"
#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::fim {

enum class rehash_policy { changed, always };

/// Throttling and behaviour of a pass.
struct scan_options {
  rehash_policy rehash = rehash_policy::changed;
  unsigned workers = 1;                 // hashing threads
  std::size_t segment_size = 2000;      // paths per segment (one transaction each)
  std::uint64_t max_memory = 32u << 20; // bounds the segment's records and read buffers
  std::uint64_t max_hash_size = 0;      // larger files are not hashed; 0 = no limit
  /// Where the hashing threads come from: the component's (metered, paced to its cpu_percent)
  /// inside the engine; plain threads when null (the `fim` command).
  runtime::component_threads* threads = nullptr;
};

struct scan_stats {
  std::uint64_t entries = 0; // paths examined
  std::uint64_t hashed = 0;  // files whose content was read and hashed
  std::uint64_t hashed_bytes = 0;
  std::uint64_t added = 0;
  std::uint64_t removed = 0;
  std::uint64_t changed = 0;
  std::uint64_t errors = 0; // unreadable entries (not vanished ones)
  std::uint64_t segments = 0;
  std::vector<std::string> error_samples; // the first few, for the log
};

using host::finding_sink;

class fim_scanner {
public:
  enum class mode { init, check };

  /// `rules` and `db` must outlive the scanner.
  fim_scanner(const rule_set& rules, baseline_db& db, scan_options opts);
  ~fim_scanner();
  fim_scanner(const fim_scanner&) = delete;
  fim_scanner& operator=(const fim_scanner&) = delete;

  /// Starts a pass over `roots` (empty = every rule's path). init: the baseline under the roots
  /// is replaced, no findings. check: findings; with `update` the baseline takes the new state
  /// (each change is reported once), without it the baseline is left as it is.
  void begin(mode m, std::vector<std::string> roots = {}, bool update = false);

  /// True between begin() and the end of the pass.
  [[nodiscard]] bool active() const noexcept;

  /// Processes one segment; returns true when the pass is complete (after the removed entries
  /// were reported and, for init, the baseline was marked complete). Throws baseline_error.
  bool step(finding_sink& emit);

  /// Runs step() until the pass is complete or `stop()` returns true; true when complete.
  bool run(finding_sink& emit, const std::function<bool()>& stop = {});

  /// Checks individual paths now (real-time mode): added, changed or removed (a removed
  /// directory takes its recorded subtree with it). Always updates the baseline.
  void check_paths(const std::vector<std::string>& paths, finding_sink& emit);

  /// Totals since construction.
  [[nodiscard]] const scan_stats& stats() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace pg::actors::fim
