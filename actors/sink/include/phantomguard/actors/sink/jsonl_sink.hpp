// SPDX-License-Identifier: Apache-2.0
// jsonl_sink.hpp — appends findings (and optionally other events) as JSON Lines to a file, with
// size-based rotation and a flush policy. A write error (full disk, read-only file system, a
// vanished directory) never stops the engine: it is counted, reported once per episode as the
// finding `engine.sink_write_failed`, the unwritten lines are kept (up to `max_pending`), and
// writing resumes on the next batch that finds the file writable again.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "phantomguard/actors/sink/delivery_spool.hpp"
#include "phantomguard/actors/sink/finding_schema.hpp"
#include "phantomguard/actors/sink/rotating_file.hpp"
#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/finding.hpp"
#include "phantomguard/runtime/options.hpp"

namespace pg::actors::sink {

/// Options: path (required), append (default true), max_size (default 0 = no rotation),
/// max_files (rotated files kept, default 5), flush (event | count | interval, default
/// interval), flush_count (default 100), flush_interval (default 1s), min_severity (default
/// info), include_events (default false: only findings), max_pending (default 16MiB), format
/// (native | ecs | ocsf), fsync (always | interval | never: after every write, once a second,
/// or left to the kernel). A path in a world-writable folder is refused unless the folder is
/// sticky (/tmp) and the file, if there, is ours and not a link.
class jsonl_sink final : public runtime::component {
public:
  jsonl_sink(std::string name, const runtime::component_settings& settings);

  void start(runtime::context& ctx) override;
  void on_tick(runtime::context& ctx) override;
  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;
  void stop(runtime::context& ctx) override;

  static std::vector<runtime::option_spec> options();

  enum class flush_policy { event, count, interval };

private:
  void append(std::string line, runtime::context& ctx);
  // Writes the pending buffer; reports a failure episode once and a recovery once.
  void flush(runtime::context& ctx);
  void report_failure(int err, std::string_view operation, runtime::context& ctx);

  std::string name_;
  rotating_file file_;
  runtime::severity min_severity_ = runtime::severity::info;
  bool include_events_ = false;
  flush_policy policy_ = flush_policy::interval;
  std::uint64_t flush_count_ = 100;
  std::chrono::steady_clock::duration flush_interval_ = std::chrono::seconds(1);
  std::uint64_t max_pending_ = 16u << 20;
  finding_schema schema_ = finding_schema::native;
  fsync_policy fsync_ = fsync_policy::interval;
  std::chrono::steady_clock::time_point last_sync_{};

  std::string pending_;             // lines not yet written
  std::uint64_t pending_lines_ = 0; // since the last flush
  std::chrono::steady_clock::time_point last_flush_{};
  bool failing_ = false; // inside a failure episode
};

} // namespace pg::actors::sink
