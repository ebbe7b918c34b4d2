// SPDX-License-Identifier: Apache-2.0
// container_fixture.hpp — helpers shared by the container tests.
#pragma once

#include <string>
#include <vector>

#include "phantomguard/runtime/finding.hpp"

namespace pg::test {

inline std::vector<const runtime::finding*> with_rule(const std::vector<runtime::finding>& fs,
                                                      const std::string& rule) {
  std::vector<const runtime::finding*> out;
  for (const auto& f : fs)
    if (f.rule == rule)
      out.push_back(&f);
  return out;
}

/// The finding of `rule` whose entity.path is `path`, or nullptr.
inline const runtime::finding* at_path(const std::vector<runtime::finding>& fs,
                                       const std::string& rule, const std::string& path) {
  for (const auto& f : fs)
    if (f.rule == rule && f.entity.value("path", "") == path)
      return &f;
  return nullptr;
}

} // namespace pg::test
