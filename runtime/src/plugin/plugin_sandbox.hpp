// plugin_sandbox.hpp — what the child host does to itself after loading a plugin and before
// running any of the plugin's hooks: no new privileges, rlimits, a closed set of descriptors,
// an unprivileged user, and a seccomp filter.
#pragma once

#include <cstdint>
#include <string>

namespace pg::runtime {

struct sandbox_limits {
  std::uint64_t memory_mb = 256; // address space the plugin may add to the host's own mappings
  std::uint64_t cpu_seconds = 0; // RLIMIT_CPU over the child's life; 0 = none
  std::string user = "nobody";   // who the child becomes when started as root; "" = stay
  int channel_fd = 3;            // the one descriptor kept open
};

/// Applies the sandbox to the calling (single-threaded) process. Throws std::runtime_error
/// naming the step that failed; the child then refuses to run the plugin.
/// The seccomp filter: network syscalls (socket, connect, bind, ...) fail with EPERM, which
/// the plugin sees; program execution, ptrace, fork, module loading, mount and similar trap
/// (SIGSYS): the child reports the syscall over the channel and exits.
void apply_sandbox(const sandbox_limits& limits);

/// The syscalls that fail with EPERM and the ones that end the child, for docs and messages.
const char* const* sandbox_denied_syscalls() noexcept;
const char* const* sandbox_fatal_syscalls() noexcept;

} // namespace pg::runtime
