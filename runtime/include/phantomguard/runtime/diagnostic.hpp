// SPDX-License-Identifier: Apache-2.0
// diagnostic.hpp — a user-facing error that says where (FILE:LINE:COL), what, and how to fix it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg::runtime {

struct source_position {
  std::string file;       // the config file, or "<default>" for the embedded config
  std::uint32_t line = 0; // 1-based; 0 when unknown
  std::uint32_t column = 0;
};

struct diagnostic {
  source_position where;
  std::string message; // what is wrong and, where we can tell, the fix ("did you mean ...?")

  /// "FILE:LINE:COL: message" (or "FILE: message" without a position).
  [[nodiscard]] std::string to_string() const;
};

using diagnostics = std::vector<diagnostic>;

} // namespace pg::runtime
