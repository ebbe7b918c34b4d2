// SPDX-License-Identifier: Apache-2.0
// plugin_sandbox.hpp — what the child host does to itself after the load-time checks and BEFORE
// the plugin's first instruction (its ELF constructors run inside dlopen, which comes after):
// an empty environment, no new privileges, rlimits, its own network namespace (when the engine
// may create one), a closed set of descriptors, an unprivileged user, a Landlock ruleset that
// grants read-only access to the dynamic loader's folders and nothing writable, and a seccomp
// allow-list whose default ends the child with a report of the syscall.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg::runtime {

struct sandbox_limits {
  std::uint64_t memory_mb = 256; // address space the plugin may add to the host's own mappings
  std::uint64_t cpu_seconds = 0; // RLIMIT_CPU over the child's life; 0 = none
  std::string user = "nobody";   // who the child becomes when started as root; "" = stay
  int channel_fd = 3;            // kept open: the channel to the engine
  int plugin_fd = -1;            // kept open: the checked plugin file, loaded after the sandbox
  /// Read-only beneath these besides the loader's own (/usr, /lib, /lib64, /etc/ld.so.cache)
  /// and the plugin file: the `sandbox.read_paths` of the detector.
  std::vector<std::string> read_paths;
};

/// What the sandbox could apply on this kernel, for the engine's log and docs.
struct sandbox_report {
  int landlock_abi = 0;           // 0 = Landlock unavailable (the seccomp list still holds)
  bool network_namespace = false; // a fresh, empty network namespace
};

/// The read-only paths every child gets (the dynamic loader's), for docs and messages.
const std::vector<std::string>& sandbox_loader_paths();

/// Applies the sandbox to the calling (single-threaded) process. Throws std::runtime_error
/// naming the step that failed; the child then refuses to run the plugin.
sandbox_report apply_sandbox(const sandbox_limits& limits);

/// The syscalls the seccomp filter allows (some with argument checks, see the .cpp); every other
/// one traps (SIGSYS): the child reports it over the channel and exits.
const char* const* sandbox_allowed_syscalls() noexcept;

/// The Landlock ABI this kernel offers (0: none), and whether it runs seccomp filters with the
/// trap action the child's filter ends in: for `phantomguard doctor`, nothing is applied.
int sandbox_landlock_abi() noexcept;
bool sandbox_seccomp_available() noexcept;

} // namespace pg::runtime
