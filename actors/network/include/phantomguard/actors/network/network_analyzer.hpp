// SPDX-License-Identifier: Apache-2.0
// network_analyzer.hpp — the `network` analyzer: the sockets of /proc/net mapped to the
// processes that own them, "socket" events for downstream consumers, and network.* rules.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

#include "phantomguard/runtime/component.hpp"
#include "phantomguard/runtime/registry.hpp"

namespace pg::actors::host {
struct socket_entry;
}

namespace pg::actors::network {

/// On each tick: reads the tcp, tcp6, udp, udp6, raw, raw6 and packet tables of
/// `proc_root`/net (the analyzer's own network namespace) and every process's fd links, then
///  - emits one "socket" event per socket (listeners and packet sockets always, connections
///    subject to `sampling_rate`), with the owning process when known;
///  - sets gauges: totals and the `top_processes` processes holding the most sockets;
///  - applies network.listener_unowned, network.reverse_shell, network.promiscuous,
///    network.packet_socket and network.suspicious_port.
/// A listener whose owner may be a process we could not read is "unknown", never "unowned";
/// what could not be read is summed up in one `info` finding (network.unreadable) naming
/// CAP_SYS_PTRACE. A finding is emitted once while its condition lasts.
class network_analyzer final : public runtime::component {
public:
  enum class sampling_mode { deterministic, random };

  struct port_range {
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    [[nodiscard]] bool contains(std::uint16_t p) const noexcept { return p >= first && p <= last; }
  };

  struct options {
    std::string proc_root = "/proc";
    std::string sys_root = "/sys";
    std::vector<port_range> suspicious_ports;
    /// Ports of kernel services (NFS, WireGuard) whose listeners no process holds.
    std::vector<port_range> kernel_ports;
    /// comm names allowed to hold AF_PACKET sockets (DHCP clients, network daemons).
    std::vector<std::string> packet_allowlist;
    /// comm names (a trailing * matches a prefix) that make a reverse shell critical.
    std::vector<std::string> shells;
    bool emit_sockets = true;
    double sampling_rate = 1.0;
    sampling_mode sampling = sampling_mode::deterministic;
    std::size_t top_processes = 5;
  };

  static options default_options();

  /// Parses "4444" or "6660-6669" items; nullopt (and `*error`) on anything else.
  static std::optional<std::vector<port_range>> parse_ports(const std::vector<std::string>& items,
                                                            std::string* error = nullptr);

  /// Deterministic sampling: true when the hash of the socket's 5-tuple, mapped to [0, 1), is
  /// below `rate`; the same connection is kept or dropped on every tick and every host.
  static bool keep_deterministic(const host::socket_entry& s, double rate) noexcept;

  explicit network_analyzer(options opts);

  void on_tick(runtime::context& ctx) override;

  /// Carries the keys of findings whose condition still held, so a restart does not repeat them.
  [[nodiscard]] std::string snapshot() override;
  void restore(std::string_view state) override;

  static runtime::component_type type();

private:
  bool keep_connection(const host::socket_entry& s);
  void update_top_gauges(const std::map<pid_t, std::size_t>& socket_count, runtime::context& ctx,
                         const std::function<std::string(pid_t)>& comm_of);

  options opts_;
  std::mt19937_64 rng_;
  std::set<std::string> reported_;    // finding keys whose condition still holds
  std::set<std::string> gauge_names_; // per-process gauges set on the previous tick
};

} // namespace pg::actors::network
