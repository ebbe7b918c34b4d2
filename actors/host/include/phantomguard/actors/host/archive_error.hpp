// SPDX-License-Identifier: Apache-2.0
// archive_error.hpp — libarchive's error text, never null: archive_error_string returns NULL
// when the library set no message (an empty or truncated file can fail that way), and a NULL
// added to a std::string is a crash. For the families that read archives (vuln, container).
#pragma once

#include <string>

#include <archive.h>

namespace pg::actors::host {

inline std::string archive_error(archive* a, const char* fallback = "broken archive") {
  const char* text = a ? archive_error_string(a) : nullptr;
  return text ? text : fallback;
}

} // namespace pg::actors::host
