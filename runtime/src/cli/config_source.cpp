// SPDX-License-Identifier: Apache-2.0
#include "cli/config_source.hpp"

namespace pg::cli {

runtime::config_result load_config(const std::string& path) {
  return path.empty() ? runtime::load_default_config() : runtime::load_config_file(path);
}

void print_diagnostics(std::ostream& out, const runtime::diagnostics& errors,
                       const std::string& origin) {
  for (const auto& d : errors)
    out << d.to_string() << '\n';
  out << errors.size() << (errors.size() == 1 ? " error" : " errors") << " in "
      << (origin.empty() ? std::string("<default>") : origin) << '\n';
}

} // namespace pg::cli
