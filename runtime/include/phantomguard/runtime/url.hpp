// SPDX-License-Identifier: Apache-2.0
// url.hpp — the one URL split the HTTP clients need (the http sink, the advisory update):
// "scheme://host[:port]" for the client and the path (with its query) for the request.
#pragma once

#include <string>
#include <utility>

namespace pg::runtime {

/// scheme://host[:port] and /path?query of a URL ("/" when it has no path).
inline std::pair<std::string, std::string> split_url(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos)
    return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

} // namespace pg::runtime
