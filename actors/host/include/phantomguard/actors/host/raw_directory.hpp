// SPDX-License-Identifier: Apache-2.0
// raw_directory.hpp — directory listings read with the getdents64 system call, not libc's
// readdir: a user-space rootkit preloaded into this process (ld.so.preload, LD_PRELOAD) hooks
// readdir/opendir to hide its files and processes, and a raw system call walks past that hook.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pg::actors::host {

/// One entry of a directory as the kernel returns it (never "." or "..").
struct raw_dirent {
  std::string name;
  std::uint64_t inode = 0;
  unsigned char type = 0; // DT_DIR, DT_REG, ... or DT_UNKNOWN when the file system does not say
};

/// Lists `path` with getdents64. nullopt when it cannot be opened or read (errno in `*err`).
std::optional<std::vector<raw_dirent>> list_directory_raw(const std::string& path,
                                                          int* err = nullptr);

/// The numeric entries of `proc_root` listed with getdents64, sorted ascending: the processes the
/// kernel's /proc listing shows, unaffected by a readdir hook in this process. nullopt when the
/// listing cannot be taken (errno in `*err`: EMFILE with the fd limit reached, EACCES, ...), so
/// that a failed listing is never taken for a host without processes.
std::optional<std::vector<int>> try_list_pids(const std::string& proc_root = "/proc",
                                              int* err = nullptr);

/// try_list_pids that throws std::system_error ("cannot list /proc: Too many open files") when
/// the listing fails: for component hooks, where the engine turns it into a component failure
/// (logged, counted, restarted). Threads of their own use try_list_pids.
std::vector<int> list_pids_raw(const std::string& proc_root = "/proc");

} // namespace pg::actors::host
