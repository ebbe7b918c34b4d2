// SPDX-License-Identifier: Apache-2.0
#include "phantomguard/runtime/diagnostic.hpp"

namespace pg::runtime {

std::string diagnostic::to_string() const {
  std::string out = where.file.empty() ? std::string("<config>") : where.file;
  if (where.line > 0) {
    out += ':' + std::to_string(where.line) + ':' + std::to_string(where.column == 0 ? 1 : where.column);
  }
  out += ": ";
  out += message;
  return out;
}

} // namespace pg::runtime
