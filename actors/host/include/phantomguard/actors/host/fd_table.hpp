// SPDX-License-Identifier: Apache-2.0
// fd_table.hpp — a process's open files as the /proc/PID/fd links show them, with the links that
// could not be read counted rather than dropped: a folder that lists but whose links are denied
// (pid 1 in some sandboxes, processes of other user namespaces) must not look like "no sockets".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>

namespace pg::actors::host {

struct fd_table {
  std::map<int, std::uint64_t> sockets; // fd number → socket inode
  std::size_t total = 0;                // fd entries listed
  std::size_t denied = 0;               // links readlink refused (EACCES/EPERM)
};

/// Reads `proc_root`/PID/fd. nullopt when the folder cannot be opened (errno in `*err`: ENOENT for
/// a vanished process, EACCES for a missing privilege). Links that vanish while reading (a file
/// closed meanwhile) are skipped; denied links are counted in `denied`.
std::optional<fd_table> read_fd_table(pid_t pid, const std::string& proc_root = "/proc",
                                      int* err = nullptr);

/// An identifier of the network namespace a process lives in that needs no ptrace access: the
/// inode of `proc_root`/PID/net/tcp, which procfs allocates per namespace. Pass pid 0 for the
/// namespace `proc_root`/net shows (the caller's). nullopt when it cannot be determined.
std::optional<std::uint64_t> net_namespace_key(pid_t pid, const std::string& proc_root = "/proc");

} // namespace pg::actors::host
