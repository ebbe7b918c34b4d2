// http_api.hpp — the daemon's HTTP endpoint (cpp-httplib, on its own two threads, never on the
// actor scheduler): GET /metrics (Prometheus text), /healthz (alive), /readyz (every component
// started). Requests are bounded in size and time. On loopback the three need no token; off
// loopback every request needs `Authorization: Bearer <token_file's token>`.
#pragma once

#include <memory>
#include <string>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/engine.hpp"

namespace pg::cli {

class http_api {
public:
  http_api(const runtime::api_settings& settings, runtime::engine& eng, std::string version);
  ~http_api(); // stops the server and joins its thread
  http_api(const http_api&) = delete;
  http_api& operator=(const http_api&) = delete;

  /// Reads the token (if any), binds and starts serving; returns "HOST:PORT" as bound. Throws
  /// std::runtime_error with the reason (address in use, unreadable or unsafe token file).
  std::string start();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace pg::cli
