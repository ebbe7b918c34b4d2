// SPDX-License-Identifier: Apache-2.0
// procfs_source.hpp — the `procfs` source: one "process" event per process on each tick.
#pragma once

#include <string>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::process {

/// Emits, on each tick, one "process" event per process of `proc_root` with the fields pid,
/// ppid, uid, euid, comm, exe, cmdline (arguments joined with spaces), start_time (clock ticks
/// since boot, from stat; with pid it identifies a process), state and kernel_thread.
/// A process that exits while it is read is skipped and counted as "vanished"; one whose stat or
/// status cannot be read is skipped and counted as "unreadable". An exe link or cmdline that
/// cannot be read (missing CAP_SYS_PTRACE) leaves that field empty and counts "exe_unreadable".
class procfs_source final : public runtime::component {
public:
  struct options {
    std::string proc_root = "/proc";
    bool kernel_threads = true; // emit kernel threads too (exe and cmdline empty)
  };

  explicit procfs_source(options opts);

  void on_tick(runtime::context& ctx) override;

  static runtime::component_type type();

private:
  options opts_;
};

} // namespace pg::actors::process
