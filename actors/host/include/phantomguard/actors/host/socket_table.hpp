// SPDX-License-Identifier: Apache-2.0
// socket_table.hpp — the kernel's socket tables in /proc/net, and which process owns which socket.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace pg::actors::host {

enum class socket_proto { tcp, tcp6, udp, udp6, raw, raw6, packet, unix_stream };

std::string_view to_string(socket_proto p) noexcept;

/// One row of /proc/net/{tcp,tcp6,udp,udp6,raw,raw6} (addresses in text form), /proc/net/packet
/// (local_port holds the protocol number) or /proc/net/unix (local_address holds the path).
struct socket_entry {
  socket_proto proto = socket_proto::tcp;
  std::string local_address; // "127.0.0.1", "::", "/run/x.sock"
  std::uint16_t local_port = 0;
  std::string remote_address;
  std::uint16_t remote_port = 0;
  int state = 0; // TCP state number (10 = LISTEN, 1 = ESTABLISHED); 7 for an unbound UDP
  std::int64_t uid = -1;
  std::uint64_t inode = 0;

  [[nodiscard]] bool listening() const noexcept;
};

/// "LISTEN", "ESTABLISHED", ... for a TCP state number.
std::string_view tcp_state_name(int state) noexcept;

/// Parses the text of one table; malformed lines are skipped and counted in `*malformed`. A
/// socket printed twice (same inode, not 0) is kept once.
std::vector<socket_entry> parse_socket_table(socket_proto proto, std::string_view text,
                                             std::size_t* malformed = nullptr);

/// Reads one table from `proc_root`/net/<name>; empty when missing (IPv6 disabled, ...).
std::vector<socket_entry> read_socket_table(socket_proto proto,
                                            const std::string& proc_root = "/proc");

/// All inet tables (tcp, tcp6, udp, udp6, raw, raw6) plus packet; the unix table is read on its
/// own (read_socket_table(socket_proto::unix_stream)).
std::vector<socket_entry> read_all_sockets(const std::string& proc_root = "/proc");

/// fd number → socket inode for the sockets among a process's open files. nullopt when the
/// process is gone or its fd folder is unreadable (errno in `*err`).
std::optional<std::map<int, std::uint64_t>> socket_fds(pid_t pid,
                                                       const std::string& proc_root = "/proc",
                                                       int* err = nullptr);

/// Socket inode → pids owning it, over every readable process. `unreadable` counts processes
/// whose fd folder could not be read (not vanished ones).
struct socket_owners {
  std::map<std::uint64_t, std::vector<pid_t>> by_inode;
  std::size_t unreadable = 0;
};
socket_owners map_socket_owners(const std::string& proc_root = "/proc");

} // namespace pg::actors::host
