// SPDX-License-Identifier: Apache-2.0
// port_probe.hpp — ports that are in use (bind fails with EADDRINUSE) yet appear in no socket
// table of /proc/net: a rootkit that filters /proc/net/tcp hides its listener from netstat/ss,
// but the kernel still refuses a second bind of the port. Same idea as `unhide-tcp`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pg::actors::rootkit {

struct port_range {
  std::uint16_t first = 1;
  std::uint16_t last = 65535;
};

/// Parses "1-65535", "22", "1-1024"; nullopt on anything else (first must be <= last, >= 1).
std::optional<port_range> parse_port_range(std::string_view text);

struct hidden_port {
  std::string proto; // "tcp", "udp", "tcp6", "udp6"
  std::uint16_t port = 0;
};

struct port_probe_options {
  port_range range;
  bool tcp = true;
  bool udp = true;
  bool ipv6 = true; // also probe [::] with IPV6_V6ONLY (a v6-only listener does not block 0.0.0.0)
  std::string proc_root = "/proc";
  bool recheck = true;
};

struct port_probe_result {
  std::vector<hidden_port> hidden;
  std::size_t probed = 0;    // bind attempts
  std::size_t in_table = 0;  // ports skipped because a socket table lists them
  std::size_t denied = 0;    // EACCES: below net.ipv4.ip_unprivileged_port_start without privilege
  std::size_t errors = 0;    // socket() or bind() failed for another reason
  std::size_t transient = 0; // candidates that were consistent at the re-check
  std::chrono::nanoseconds elapsed{};
};

/// Probes the ports of the range not listed in any socket table; re-checks candidates against
/// fresh tables. Binds never listen and are closed at once.
port_probe_result probe_hidden_ports(const port_probe_options& opts = {});

} // namespace pg::actors::rootkit
