// SPDX-License-Identifier: Apache-2.0
// kernel_sensor.hpp — the eBPF kernel sensor: loads the BPF object embedded in the binary
// (actors/realtime/bpf/sensor.bpf.c, CO-RE), attaches its programs and reads their records from
// one BPF ring buffer. No CAF, no engine: `kernel_events` (the source) drives it from its own
// thread, and the tests use it to learn whether this machine can run it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pg::actors::realtime {

/// The record kinds the sensor can send, by the name the `kinds` option uses.
enum class kernel_kind : std::uint8_t {
  exec = 1,
  exit,
  fork,
  connect,
  accept,
  bind,
  listen,
  ptrace,
  vm_write,
  memfd,
  mem_exec,
  module_load,
  module_unload,
  bpf_load,
  cred,
  socket_dup,
  open_write,
};
inline constexpr std::size_t kernel_kind_count = 18; // one past the last, as in sensor_events.h

/// "exec", "mem_exec", ... ; empty for an index that is no kind.
std::string_view kernel_kind_name(std::size_t kind) noexcept;
/// The kind for a name of the `kinds` option ("module" is module_load and module_unload).
std::vector<kernel_kind> kernel_kinds_named(std::string_view name);

struct kernel_sensor_options {
  std::size_t ring_size = 1u << 20; // bytes, rounded up to a power of two of pages
  std::uint32_t kinds = 0;          // bit (1 << kernel_kind)
  std::vector<std::uint32_t> ignore_uids;
  std::vector<std::string> ignore_comms;
  std::vector<std::uint64_t> ignore_cgroups;
  std::array<std::uint32_t, 32> sample{}; // per kind: 0/1 every record, N one in N
  std::uint32_t self_tgid = 0;            // the engine: its own ptrace and bpf() are not sent
};

/// Per-kind totals since the sensor was opened, summed over CPUs.
using kernel_counts = std::array<std::uint64_t, kernel_kind_count>;

class kernel_sensor {
public:
  /// Whether this binary carries the BPF object (built with clang and libbpf).
  static bool built() noexcept;

  /// Loads and attaches. nullptr with the reason in `*why_not` when the sensor cannot run here;
  /// `*missing` then names what is missing ("CAP_BPF", "BTF", "tracefs", "the BPF object",
  /// "the kernel refused the program"), for the privilege_limited finding.
  static std::unique_ptr<kernel_sensor> open(const kernel_sensor_options& options,
                                             std::string* why_not, std::string* missing);

  ~kernel_sensor();
  kernel_sensor(const kernel_sensor&) = delete;
  kernel_sensor& operator=(const kernel_sensor&) = delete;

  /// The descriptor to poll for records (an epoll fd: readable when records wait).
  [[nodiscard]] int fd() const noexcept;

  using record_fn = void (*)(void* user, const void* data, std::size_t size);
  /// Hands every waiting record to `fn`, whether the kernel woke us for it or not (records are
  /// sent without a wakeup until a batch waits); the number consumed, or -errno.
  int consume(record_fn fn, void* user);
  /// Waits up to `timeout_ms` for records, then consumes them like consume().
  int poll(int timeout_ms, record_fn fn, void* user);

  /// Records the ring buffer had no room for, per kind.
  [[nodiscard]] kernel_counts drops() const;
  /// Records left out by one-in-N sampling, per kind.
  [[nodiscard]] kernel_counts sampled_out() const;

  /// Enabled kinds the running kernel has no hook for (a tracepoint it lacks), with the reason:
  /// "module_load: no syscalls/sys_enter_finit_module tracepoint (kernel without module support)".
  [[nodiscard]] const std::vector<std::string>& unavailable() const noexcept {
    return unavailable_;
  }
  /// The programs attached (for status and the logs).
  [[nodiscard]] std::size_t attached() const noexcept { return links_.size(); }
  [[nodiscard]] std::size_t ring_size() const noexcept { return ring_size_; }

private:
  kernel_sensor() = default;
  struct state;
  std::unique_ptr<state> state_;
  std::vector<void*> links_; // struct bpf_link*
  std::vector<std::string> unavailable_;
  std::size_t ring_size_ = 0;
};

} // namespace pg::actors::realtime
