// SPDX-License-Identifier: Apache-2.0
// temp_space.hpp — the engine's managed temporary folder (`[engine] temp_dir`, by default
// `<state_dir>/tmp`): every scratch folder a component or command needs (an OCI image's unpacked
// layers, a benched component's state) is made there, named after the process that made it, so
// whatever a killed process left behind is removed at the next start, and the whole folder is
// held to `temp_max_size`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pg::runtime {

struct engine_settings;

/// The folder `[engine] temp_dir` names, or `<state_dir>/tmp` when it is empty.
std::string temp_dir_of(const engine_settings& e);

struct temp_cleanup {
  std::size_t removed = 0; // entries of processes that are gone
  std::uint64_t bytes = 0; // what they held
  std::string error;       // empty: the folder exists and is ours (mode 0700)
};

/// Creates `dir` (mode 0700 when it makes it, parents too) and removes the entries whose maker
/// is gone: those named `<label>-<pid>-<suffix>` whose pid is not alive. The entries of live
/// processes (a `scan` beside the daemon) and anything not so named are left alone. Never
/// follows a symlink.
temp_cleanup prepare_temp_dir(const std::string& dir);

/// Bytes the files under `dir` take (0 when it does not exist).
std::uint64_t temp_dir_usage(const std::string& dir);

/// A fresh folder `<dir>/<label>-<pid>-XXXXXX` (mode 0700); nullopt with the reason in `*error`.
std::optional<std::string> make_temp_folder(const std::string& dir, const std::string& label,
                                            std::string* error);

} // namespace pg::runtime
