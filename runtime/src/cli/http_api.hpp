// http_api.hpp — the daemon's HTTP endpoint (cpp-httplib, on its own two threads, never on the
// actor scheduler): GET /metrics (Prometheus text), /healthz (alive), /readyz (every component
// started), GET /api/v1/status, POST /api/v1/reload. Requests are bounded in size and time. On
// loopback the first three need no token; everything else always needs
// `Authorization: Bearer <token_file's token>` (without a token_file, /api/v1 is closed).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/engine.hpp"

namespace pg::cli {

/// What the daemon offers the API beyond the engine's metrics.
struct api_hooks {
  /// The daemon's state as /api/v1/status shows it.
  std::function<nlohmann::json()> status;
  /// Re-reads the config file and reloads, as SIGHUP does: {true, message} when applied,
  /// {false, errors} when refused (the running config stays).
  std::function<std::pair<bool, std::vector<std::string>>()> reload;
  /// Findings after sequence number `since`, at `min_level` or above, at most `limit`.
  std::function<nlohmann::json(std::uint64_t since, runtime::severity min_level,
                               std::size_t limit)>
      findings;
};

class http_api {
public:
  http_api(const runtime::api_settings& settings, runtime::engine& eng, std::string version,
           api_hooks hooks = {});
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
