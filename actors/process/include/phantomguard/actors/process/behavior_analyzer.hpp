// SPDX-License-Identifier: Apache-2.0
// behavior_analyzer.hpp — the `process_behavior` analyzer: rules on what processes do, decided
// at the moment of the act from the kernel sensor's events (kernel_events), with no /proc scan:
//
//   process.reverse_shell        a shell whose stdin and stdout are a socket (at exec), or a shell
//                                duplicating a socket onto its stdio (at dup2/dup3)
//   process.fileless_exec        an exec of a file with no name left (memfd, deleted, /dev/fd/N)
//   process.exec_world_writable  an exec from a world-writable directory
//   process.suspicious_lineage   a service (web server, database, sshd before login) spawning a
//                                shell; a process whose executable is deleted spawning children
//   process.privilege_gain       an effective uid becoming 0 outside exec, or through an exec of
//                                a file that is neither setuid nor carries file capabilities
//   memory.ptrace_injection      ptrace attach, seize, poke or setregs on another process
//   memory.process_vm_write      process_vm_writev into another process
//   memory.anon_exec             anonymous or writable memory made executable (JITs allowed)
//
// Each finding is raised once per process and rule, names the kernel hook in its evidence
// (`kernel_event`) and carries MITRE ids. The analyzer keeps a bounded table of the processes it
// saw start, for lineage and for the names of targets.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <sys/types.h>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::process {

class behavior_analyzer final : public runtime::component {
public:
  struct options {
    std::vector<std::string> shells;
    std::vector<std::string> services;  // parents that should not spawn a shell
    std::vector<std::string> debuggers; // tracers that may attach (ptrace_injection skips them)
    std::vector<std::string> jit_allowlist;
    std::vector<std::string> privilege_allowlist;
    std::string proc_root = "/proc";
    std::size_t max_processes = 32768;
  };
  static options default_options();
  static runtime::component_type type();

  explicit behavior_analyzer(options opts);

  void on_batch(const runtime::event_batch& batch, runtime::context& ctx) override;

private:
  struct proc {
    std::string comm, exe, cmdline;
    std::int64_t ppid = 0;
    bool exe_gone = false;
    bool reverse_shell = false; // reported: its children and later images are the same session
  };
  struct pending_gain {
    runtime::event ev;
    std::chrono::steady_clock::time_point at;
  };
  void on_exec(const runtime::event& ev, runtime::context& ctx);
  void on_dup(const runtime::event& ev, runtime::context& ctx);
  void on_ptrace(const runtime::event& ev, runtime::context& ctx);
  void on_vm_write(const runtime::event& ev, runtime::context& ctx);
  void on_mem_exec(const runtime::event& ev, runtime::context& ctx);
  void on_cred(const runtime::event& ev, runtime::context& ctx);
  void privilege_finding(const runtime::event& cred, const std::string& exe, const char* how,
                         runtime::context& ctx);
  [[nodiscard]] bool is_shell(std::string_view comm, std::string_view exe) const;
  const proc* parent_of(std::int64_t ppid);
  bool first(std::int64_t pid, const std::string& key);
  void remember(std::int64_t pid, proc p);
  void emit(runtime::finding f, const runtime::event& ev, runtime::context& ctx);

  options opts_;
  std::unordered_map<std::int64_t, proc> procs_;
  std::unordered_map<std::int64_t, std::set<std::string>> reported_;
  std::unordered_map<std::int64_t, pending_gain> pending_gains_; // exec-time gains, by pid
  // Sockets already reported as a reverse shell's stdio: the shell's children on the same socket
  // are the same session (bounded: the oldest is forgotten first).
  std::set<std::int64_t> shell_sockets_;
  std::deque<std::int64_t> shell_socket_order_;
  bool new_shell_socket(std::int64_t inode);
  struct dir_entry {
    std::optional<mode_t> mode;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, dir_entry> dir_modes_;
  std::optional<mode_t> dir_mode(const std::string& dir);
};

} // namespace pg::actors::process
