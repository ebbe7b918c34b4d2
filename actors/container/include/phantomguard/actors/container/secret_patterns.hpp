// SPDX-License-Identifier: Apache-2.0
// secret_patterns.hpp — credentials that must not ship inside an image, recognised in file
// contents by hand-written matchers (no regex engine: these run over every byte of an image).
// The patterns and their severities are listed in docs/analyzers/container.md.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "phantomguard/runtime/finding.hpp"

namespace pg::actors::container {

struct secret_hit {
  std::string pattern; // "private_key", "aws_access_key_id", ...
  std::string title;   // "RSA private key"
  runtime::severity level = runtime::severity::high;
  std::size_t line = 0; // 1-based line of the match
  std::string redacted; // the first characters of the match and its length, never the secret
};

/// Every pattern that matches in `content` (at most one hit per pattern per file, the first).
/// Values containing "EXAMPLE" (AWS documentation keys) are not reported.
std::vector<secret_hit> find_secrets(std::string_view content);

} // namespace pg::actors::container
