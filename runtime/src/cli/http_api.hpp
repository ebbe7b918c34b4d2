// SPDX-License-Identifier: Apache-2.0
// http_api.hpp — the daemon's HTTP endpoint (cpp-httplib, on threads of its own, never on the
// actor scheduler):
//   GET /            the dashboard (embedded, holds no data: it asks for the token)
//   GET /metrics     Prometheus text, or OpenMetrics when the scraper asks for it
//   GET /healthz     alive;  GET /readyz  every component started (503 with the reasons)
//   GET /api/v1/status, /api/v1/findings, /api/v1/stream (SSE), POST /api/v1/reload
// Requests are bounded in size, time and count, and so is the queue of accepted connections
// (beyond it the kernel's backlog holds them). On loopback the first four need no token;
// everything else always needs `Authorization: Bearer <token_file's token>` (without a
// token_file, /api/v1 is closed). With `cert` and `key` it speaks HTTPS only.
//
// The same server answers on the unix control socket (`control_socket`), where the socket's
// mode (0600, root) is the authorization: `phantomguard status` and `top` use it when the API
// is off.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/finding_ring.hpp"
#include "phantomguard/runtime/config.hpp"
#include "phantomguard/runtime/engine.hpp"

namespace pg::cli {

/// What the daemon offers the API beyond the engine's metrics.
struct api_hooks {
  /// The daemon's state as /api/v1/status shows it (and the stream's metrics events).
  std::function<nlohmann::json()> status;
  /// Re-reads the config file and reloads, as SIGHUP does: {true, message} when applied,
  /// {false, errors} when refused (the running config stays).
  std::function<std::pair<bool, std::vector<std::string>>()> reload;
  /// The last findings (/api/v1/findings, the stream); may be null.
  finding_ring* findings = nullptr;
  /// Why the daemon is not ready (/readyz answers 503 with these), empty when it is.
  std::function<std::vector<std::string>()> not_ready;
  /// The running config's jsonl sinks: {name, path}, for /api/v1/findings?source=file.
  std::function<std::vector<std::pair<std::string, std::string>>()> jsonl_files;
  /// The daemon's config file (empty: the embedded default), given to the families' API
  /// actions (POST /api/v1/<family>/<action>, see runtime::api_action).
  std::string config_path;
};

class http_api {
public:
  http_api(const runtime::api_settings& settings, runtime::engine& eng, std::string version,
           api_hooks hooks = {});
  ~http_api(); // ends the streams, stops the server and joins its threads
  http_api(const http_api&) = delete;
  http_api& operator=(const http_api&) = delete;

  /// Reads the token (if any) and the TLS files, binds and starts serving; returns
  /// "HOST:PORT" as bound. Throws std::runtime_error with the reason (address in use,
  /// unreadable or unsafe token or key file, a certificate that does not load).
  std::string start();

  /// Serves on a unix socket at `path` instead (mode 0600, replaced if stale), with /api/v1
  /// open to whoever can connect. Throws std::runtime_error with the reason.
  void start_control_socket(const std::string& path);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The dashboard page (runtime/src/cli/dashboard/index.html, compiled in).
std::string_view dashboard_html() noexcept;

} // namespace pg::cli
